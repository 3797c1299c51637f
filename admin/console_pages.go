package admin

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

type overviewPage struct {
	Actor    string
	Flash    *flash
	Lost     bool
	Batches  []BatchReport
	State    State
	Batch    string // the timeline's batch, "" for every link
	Timeline *Timeline
	SVG      template.HTML
	Busy     []TimelineBucket
	Actions  []store.Event
	Errors   []string
}

type confirmPage struct {
	Actor          string
	Intent         intent
	What           string
	Cover          coverage
	Values         url.Values
	Notice         string
	Error          string
	SessionRevoker bool
}

type reportPage struct {
	Actor  string
	Query  string
	Report *Report
}

// maxRecentActions is how many of the latest actions the overview lists.
const maxRecentActions = 20

// maxActionEvents bounds the ledger entries the overview reads for them.
const maxActionEvents = 100_000

func (c *console) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := overviewPage{Actor: actor(r), Batch: r.URL.Query().Get("batch")}
	if id := r.URL.Query().Get("done"); id != "" {
		if f, ok := c.takeFlash(id); ok {
			p.Flash = &f
		} else {
			p.Lost = true
		}
	}
	var err error
	if p.Batches, err = c.a.Batches(ctx); err != nil {
		p.Errors = append(p.Errors, "The batches could not be listed: "+err.Error())
	}
	if p.State, err = c.a.State(ctx); err != nil {
		p.Errors = append(p.Errors, "The holds could not be read: "+err.Error())
	}
	// The plot reaches to now, and a minute past for clocks a little
	// ahead, so that a quiet spell during a send shows as one.
	p.Timeline, err = c.a.Timeline(ctx, TimelineQuery{Batch: p.Batch, Until: c.a.clock().Add(time.Minute)})
	if err != nil {
		p.Errors = append(p.Errors, "The timeline could not be drawn: "+err.Error())
	} else {
		var svg bytes.Buffer
		p.Timeline.WriteSVG(&svg)
		// WriteSVG escapes every text it writes and holds no script.
		p.SVG = template.HTML(svg.String())
		for _, b := range p.Timeline.Buckets {
			if b != (TimelineBucket{At: b.At}) {
				p.Busy = append(p.Busy, b)
			}
		}
	}
	if p.Actions, err = c.recentActions(ctx); err != nil {
		p.Errors = append(p.Errors, "The ledger could not be read: "+err.Error())
	}
	c.page(w, r, http.StatusOK, "overview.html", p)
}

// recentActions returns the latest operators' and breaker's actions,
// newest first.
func (c *console) recentActions(ctx context.Context) ([]store.Event, error) {
	q := store.EventQuery{Kinds: []store.EventKind{store.EventFrozen, store.EventThawed, store.EventRevoked, store.EventWatermark,
		store.EventBreaker, store.EventSessions, store.EventBlocked}, Limit: store.MaxPage}
	var last []store.Event
	read := 0
	for {
		page, next, err := c.a.st.Events(ctx, q)
		if err != nil {
			return nil, err
		}
		read += len(page)
		last = append(last, page...)
		if len(last) > maxRecentActions {
			last = append([]store.Event(nil), last[len(last)-maxRecentActions:]...)
		}
		if next == "" || read >= maxActionEvents {
			break
		}
		q.After = next
	}
	for i, j := 0, len(last)-1; i < j; i, j = i+1, j-1 {
		last[i], last[j] = last[j], last[i]
	}
	return last, nil
}

// reportQuery reads a report's scope from the address: a batch, or a
// window of RFC 3339 times.
func reportQuery(v url.Values) (ReportQuery, error) {
	q := ReportQuery{Batch: strings.TrimSpace(v.Get("batch"))}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := strings.TrimSpace(v.Get(name)); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, &requestError{name + " must be a time such as 2026-10-03T09:30:00Z"}
			}
			*dst = t
		}
	}
	return q, nil
}

type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func (c *console) report(w http.ResponseWriter, r *http.Request) {
	q, err := reportQuery(r.URL.Query())
	var rep *Report
	if err == nil {
		rep, err = c.a.Report(r.Context(), q)
	}
	if err != nil {
		c.storeError(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "report.html", reportPage{Actor: actor(r), Query: r.URL.RawQuery, Report: rep})
}

func (c *console) reportCSV(w http.ResponseWriter, r *http.Request) {
	q, err := reportQuery(r.URL.Query())
	var rep *Report
	if err == nil {
		rep, err = c.a.Report(r.Context(), q)
	}
	if err != nil {
		c.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="oncelink-report.csv"`)
	rep.WriteCSV(w)
}

// storeError shows a failure: the operator's mistake (400) in its own
// words, a store that did not answer (503).
func (c *console) storeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusServiceUnavailable
	msg := "The store did not answer: " + err.Error()
	var re *requestError
	switch {
	case errors.As(err, &re), errors.Is(err, ErrRequest), errors.Is(err, store.ErrInvalid):
		status, msg = http.StatusBadRequest, capitalise(strings.TrimPrefix(err.Error(), ErrRequest.Error()+": "))
	}
	c.page(w, r, status, "error.html", map[string]any{"Actor": actor(r), "Error": msg})
}

func (c *console) page(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	if cp, ok := data.(confirmPage); ok {
		cp.Actor = actor(r)
		data = cp
	}
	var buf bytes.Buffer
	if err := consoleTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		c.a.logger.ErrorContext(r.Context(), "oncelink: console page", "page", name, "error", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
