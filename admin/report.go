package admin

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// ReportQuery selects what a report covers: one batch, a time window, or a
// batch within a window. Times select ledger entries: links issued,
// consumed or refused in the window.
type ReportQuery struct {
	Batch string
	Since time.Time
	Until time.Time
}

// Report answers "who was affected": for a batch or a window, every member
// who received a link, every consumption (by which presented identity, from
// where, into which session) and every refusal, mismatches first.
type Report struct {
	Batch     string    `json:"batch,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Until     time.Time `json:"until,omitzero"`
	Generated time.Time `json:"generated"`

	// Issued, Consumed and Mismatches count links issued, links consumed and
	// identity mismatches in scope.
	Issued     int `json:"issued"`
	Consumed   int `json:"consumed"`
	Mismatches int `json:"mismatches"`

	// Affected is the members whose link was consumed or presented with an
	// identity that did not match: the people to contact, and whose
	// sessions, passwords and addresses to check.
	Affected []string `json:"affected"`
	// Sessions is the sessions opened by consumed links in scope.
	Sessions []string `json:"sessions"`
	// Members holds one entry per member who received or presented a link in
	// scope, in member order.
	Members []MemberReport `json:"members"`
	// Actions is the operators' and the breaker's actions in scope:
	// revocations, watermarks, freezes, thaws, trips, blocked messages.
	Actions []store.Event `json:"actions"`
}

// MemberReport is what happened to one member's links.
type MemberReport struct {
	Member   string       `json:"member"`
	Affected bool         `json:"affected"`
	Links    []LinkReport `json:"links"`
}

// LinkReport is one link: who it was sent to, its state now, who consumed
// it, and every refused presentation.
type LinkReport struct {
	TokenID   string    `json:"token_id"`
	Batch     string    `json:"batch,omitempty"`
	Purpose   string    `json:"purpose"`
	Recipient string    `json:"recipient,omitempty"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Status is what Consume would decide for the link when the report
	// was made ([store.Decide]): "issued" (usable), "frozen", "consumed",
	// "revoked" (one by one or by a watermark), "consumed, revoked",
	// "expired", or "unknown" when the record was purged.
	Status     string              `json:"status"`
	ConsumedAt time.Time           `json:"consumed_at,omitzero"`
	ConsumedBy *store.Presentation `json:"consumed_by,omitempty"`
	RevokedAt  time.Time           `json:"revoked_at,omitzero"`
	Refusals   []Attempt           `json:"refusals,omitempty"`
}

// Attempt is one refused presentation of a link.
type Attempt struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	store.Presentation
}

// maxReportEvents bounds the ledger entries one report reads.
const maxReportEvents = 5_000_000

// Report builds the report for q from the ledger and the records.
func (a *Admin) Report(ctx context.Context, q ReportQuery) (*Report, error) {
	if q.Batch == "" && q.Since.IsZero() && q.Until.IsZero() {
		return nil, fmt.Errorf("%w: a report needs a batch or a window", ErrRequest)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return nil, fmt.Errorf("%w: the window ends before it starts", ErrRequest)
	}
	rep := &Report{Batch: q.Batch, Since: q.Since, Until: q.Until, Generated: a.clock().UTC(), Affected: []string{}, Sessions: []string{}, Actions: []store.Event{}}
	r := reading{links: map[string]*LinkReport{}, owner: map[string]string{}}
	if err := a.readLedger(ctx, q, rep, &r); err != nil {
		return nil, err
	}
	if err := a.fillStatus(ctx, r.links); err != nil {
		return nil, err
	}
	rep.byMember(&r)
	return rep, nil
}

// reading is what a report has read of the ledger: each link, and its
// member.
type reading struct {
	links map[string]*LinkReport
	owner map[string]string // token id -> member
}

func (r *reading) link(e *store.Event) *LinkReport {
	l, ok := r.links[e.TokenID]
	if !ok {
		l = &LinkReport{TokenID: e.TokenID, Batch: e.Batch, Purpose: e.Purpose}
		r.links[e.TokenID] = l
		r.owner[e.TokenID] = e.Member
	}
	return l
}

// readLedger reads the ledger entries in q's scope, in pages, into the
// links they are about and the report's counts and actions.
func (a *Admin) readLedger(ctx context.Context, q ReportQuery, rep *Report, r *reading) error {
	eq := store.EventQuery{Batch: q.Batch, Since: q.Since, Until: q.Until, Limit: store.MaxPage}
	read := 0
	for {
		page, next, err := a.st.Events(ctx, eq)
		if err != nil {
			return err
		}
		read += len(page)
		if read > maxReportEvents {
			return fmt.Errorf("%w: more than %d ledger entries in scope; narrow the window", ErrRequest, maxReportEvents)
		}
		for i := range page {
			e := &page[i]
			switch {
			case e.Kind == store.EventIssued:
				l := r.link(e)
				l.Recipient, l.IssuedAt = e.Detail, e.At
				rep.Issued++
			case e.Kind == store.EventConsumed:
				l := r.link(e)
				p := e.Presentation
				l.ConsumedAt, l.ConsumedBy = e.At, &p
				rep.Consumed++
			case e.Kind == store.EventRefused && e.TokenID != "":
				l := r.link(e)
				l.Refusals = append(l.Refusals, Attempt{At: e.At, Reason: e.Reason, Presentation: e.Presentation})
				if store.Reason(e.Reason) == store.ReasonMismatch {
					rep.Mismatches++
				}
			case e.Kind != store.EventRefused:
				rep.Actions = append(rep.Actions, *e)
			}
		}
		if next == "" {
			return nil
		}
		eq.After = next
	}
}

// byMember groups the links by member, in member order, and names the
// affected members and the sessions consumed links opened.
func (rep *Report) byMember(r *reading) {
	byMember := map[string]*MemberReport{}
	sessions := map[string]bool{}
	for id, l := range r.links {
		m := r.owner[id]
		mr, ok := byMember[m]
		if !ok {
			mr = &MemberReport{Member: m}
			byMember[m] = mr
		}
		mr.Links = append(mr.Links, *l)
		if l.ConsumedBy != nil {
			mr.Affected = true
			if s := l.ConsumedBy.Session; s != "" && !sessions[s] {
				sessions[s] = true
				rep.Sessions = append(rep.Sessions, s)
			}
		}
		for _, a := range l.Refusals {
			if store.Reason(a.Reason) == store.ReasonMismatch {
				mr.Affected = true
			}
		}
	}
	for _, mr := range byMember {
		slices.SortFunc(mr.Links, func(x, y LinkReport) int { return strings.Compare(x.TokenID, y.TokenID) })
		rep.Members = append(rep.Members, *mr)
		if mr.Affected {
			rep.Affected = append(rep.Affected, mr.Member)
		}
	}
	slices.SortFunc(rep.Members, func(x, y MemberReport) int { return strings.Compare(x.Member, y.Member) })
	slices.Sort(rep.Affected)
	slices.Sort(rep.Sessions)
	if rep.Members == nil {
		rep.Members = []MemberReport{}
	}
}

// fillStatus reads the records of the links in the report, in pages, and
// the watermarks and holds in force, and says of each link what Consume
// would.
func (a *Admin) fillStatus(ctx context.Context, links map[string]*LinkReport) error {
	ids := make([]string, 0, len(links))
	for id := range links {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := a.clock()
	g, err := store.LoadGuards(ctx, a.st)
	if err != nil {
		return err
	}
	for start := 0; start < len(ids); start += store.MaxFilterValues {
		chunk := ids[start:min(start+store.MaxFilterValues, len(ids))]
		recs, err := a.st.Records(ctx, store.RecordQuery{Filter: store.Filter{IDs: chunk}, Limit: store.MaxPage})
		if err != nil {
			return err
		}
		for _, r := range recs {
			l := links[r.ID]
			l.Recipient, l.IssuedAt, l.ExpiresAt, l.RevokedAt = r.Recipient, r.IssuedAt, r.ExpiresAt, r.RevokedAt
			l.Batch, l.Purpose = r.Batch, r.Purpose
			if l.ConsumedBy == nil && !r.ConsumedAt.IsZero() {
				// Consumed outside the report's window: shown, not counted.
				p := r.Consumer
				l.ConsumedAt, l.ConsumedBy = r.ConsumedAt, &p
			}
			l.Status = status(&r, g, now)
		}
	}
	for _, l := range links {
		if l.Status == "" {
			l.Status = "unknown"
		}
	}
	return nil
}

// status names what [store.Decide] says of r.
func status(r *store.Record, g *store.Guards, now time.Time) string {
	switch store.Decide(r, g, now) {
	case store.ErrRevoked:
		if !r.ConsumedAt.IsZero() {
			return "consumed, revoked"
		}
		return "revoked"
	case store.ErrUsed:
		return "consumed"
	case store.ErrExpired:
		return "expired"
	case store.ErrFrozen:
		return "frozen"
	}
	return "issued"
}

// csvHeader is the header row of [Report.WriteCSV].
var csvHeader = [...]string{"event", "at", "member", "affected", "token_id", "batch", "purpose", "recipient", "status",
	"reason", "identity", "ip", "user_agent", "session"}

// WriteCSV writes the report as CSV, one row per event of each link:
// "issued", "consumed", and "refused" (with its reason), after a header row:
// event, at, member, affected, token_id, batch, purpose, recipient,
// status, reason, identity, ip, user_agent, session. Times are RFC 3339 in UTC. A cell that a spreadsheet would
// run as a formula is prefixed with a quote.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader[:]); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, m := range r.Members {
		aff := strconv.FormatBool(m.Affected)
		for _, l := range m.Links {
			base := []string{m.Member, aff, l.TokenID, l.Batch, l.Purpose, l.Recipient, l.Status}
			row := func(event, at, reason string, p store.Presentation) []string {
				out := append([]string{event, at}, base...)
				out = append(out, reason, p.Identity, p.IP, p.UserAgent, p.Session)
				for i := range out {
					out[i] = csvSafe(out[i])
				}
				return out
			}
			if err := cw.Write(row("issued", ts(l.IssuedAt), "", store.Presentation{})); err != nil {
				return err
			}
			if l.ConsumedBy != nil {
				if err := cw.Write(row("consumed", ts(l.ConsumedAt), "", *l.ConsumedBy)); err != nil {
					return err
				}
			}
			for _, a := range l.Refusals {
				if err := cw.Write(row("refused", ts(a.At), a.Reason, a.Presentation)); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses a value a spreadsheet would run as a formula. Every cell
// goes through it: user agents, addresses and typed identities come from
// strangers, and member ids, batches and sessions from the site's data.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
