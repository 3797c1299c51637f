package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/oncelink/oncelink/store"
)

// intent is what an operator asked for in the console's form: an action,
// and the scope it covers.
type intent struct {
	Action string // "freeze", "thaw" or "revoke"
	Scope  store.Scope
	Key    string
	Reason string
}

// parseIntent reads the form. A scope must be chosen (no default selects
// everything), the id of a batch or member scope must be typed, and an id
// typed for another scope than the one chosen is an error, never ignored.
func parseIntent(form url.Values) (intent, error) {
	var in intent
	switch in.Action = form.Get("action"); in.Action {
	case "freeze", "thaw", "revoke":
	default:
		return in, errors.New("choose freeze, thaw or revoke")
	}
	batch, member := strings.TrimSpace(form.Get("batch")), strings.TrimSpace(form.Get("member"))
	in.Reason = strings.TrimSpace(form.Get("reason"))
	switch form.Get("scope") {
	case "batch":
		in.Scope, in.Key = store.ScopeBatch, batch
		if member != "" {
			return in, fmt.Errorf("you chose one batch but also typed member %q: clear one of them", member)
		}
	case "member":
		in.Scope, in.Key = store.ScopeMember, member
		if batch != "" {
			return in, fmt.Errorf("you chose one member but also typed batch %q: clear one of them", batch)
		}
	case "global":
		in.Scope = store.ScopeGlobal
		if batch != "" || member != "" {
			return in, fmt.Errorf("you chose every link but also typed %q: clear it, or choose one batch or one member", batch+member)
		}
	default:
		return in, errors.New("choose what to act on: one batch, one member, or every link")
	}
	if in.Scope != store.ScopeGlobal && in.Key == "" {
		return in, fmt.Errorf("type the %s id", in.Scope)
	}
	if err := store.ValidateScopeKey(in.Scope, in.Key); err != nil {
		return in, fmt.Errorf("the %s id is not valid: it must be at most %d bytes of text", in.Scope, store.MaxBatchLen)
	}
	if !store.ValidText(in.Reason, store.MaxReasonLen) {
		return in, fmt.Errorf("the reason must be at most %d bytes of text", store.MaxReasonLen)
	}
	return in, nil
}

// what names the scope in words.
func (in intent) what() string {
	switch in.Scope {
	case store.ScopeBatch:
		return "batch " + strconv.Quote(in.Key)
	case store.ScopeMember:
		return "member " + strconv.Quote(in.Key)
	}
	return "every link"
}

// Global reports whether the intent covers every link.
func (in intent) Global() bool { return in.Scope == store.ScopeGlobal }

func (in intent) filter() store.Filter { return scopeFilter(in.Scope, in.Key) }

// values is the intent as form values, for the confirmation's hidden
// fields.
func (in intent) values() url.Values {
	v := url.Values{"action": {in.Action}, "scope": {in.Scope.String()}, "reason": {in.Reason}}
	switch in.Scope {
	case store.ScopeBatch:
		v.Set("batch", in.Key)
	case store.ScopeMember:
		v.Set("member", in.Key)
	}
	return v
}

// coverage is what an intent covers now: the confirmation states it, and
// the action checks the operator confirmed it.
type coverage struct {
	Links       int64
	Outstanding int64
	Consumed    int64
	Held        bool
	// Confirm is the number to type when the action is as wide as every
	// link (0 when a button is enough).
	Confirm int64
	// Sessions is the references of the sessions consumed links opened,
	// for a revocation; Open how many of them the site says are open, when
	// OpenKnown.
	Sessions  []string
	Open      int
	OpenKnown bool
}

// cover counts what in covers.
func (c *console) cover(ctx context.Context, in intent) (coverage, error) {
	var cv coverage
	t, err := store.TallyOf(ctx, c.a.st, in.filter(), c.a.clock())
	if err != nil {
		return cv, err
	}
	cv.Links, cv.Outstanding, cv.Consumed = t.Total(), t.Outstanding(), t.Consumed
	if cv.Held, err = c.a.held(ctx, in.Scope, in.Key); err != nil {
		return cv, err
	}
	if in.Scope == store.ScopeGlobal && in.Action != "thaw" {
		cv.Confirm = max(cv.Outstanding, 1)
	}
	if in.Action != "revoke" {
		return cv, nil
	}
	p, err := c.a.Preview(ctx, in.filter())
	if err != nil {
		return cv, err
	}
	cv.Consumed = p.Consumed
	if p.Wide {
		cv.Confirm = max(p.Confirm, 1)
	}
	if cv.Sessions, err = c.a.sessionsOf(ctx, consumedOf(in.filter()), func(store.Record) bool { return true }); err != nil {
		return cv, err
	}
	cv.Open, cv.OpenKnown = c.countOpen(ctx, cv.Sessions)
	return cv, nil
}

// nothing says why an intent has nothing to act on, or "" when it has.
func (in intent) nothing(cv coverage) string {
	switch {
	case cv.Links == 0 && !(in.Action == "thaw" && cv.Held):
		return fmt.Sprintf("Nothing to %s: %s has no link. Check the id against the batches listed.", in.Action, in.what())
	case in.Action == "thaw" && !cv.Held:
		return fmt.Sprintf("Nothing to thaw: %s is not frozen.", in.what())
	}
	return ""
}

func (c *console) confirm(w http.ResponseWriter, r *http.Request) {
	in, err := parseIntent(r.URL.Query())
	if err != nil {
		c.page(w, r, http.StatusBadRequest, "confirm.html", confirmPage{Error: capitalise(err.Error()) + "."})
		return
	}
	c.showConfirm(w, r, in, "")
}

func (c *console) showConfirm(w http.ResponseWriter, r *http.Request, in intent, notice string) {
	cv, err := c.cover(r.Context(), in)
	if err != nil {
		c.storeError(w, r, err)
		return
	}
	p := confirmPage{Intent: in, What: in.what(), Cover: cv, Notice: notice, Values: in.values(),
		SessionRevoker: c.a.sessions != nil}
	if p.Error = in.nothing(cv); p.Error != "" {
		c.page(w, r, http.StatusConflict, "confirm.html", p)
		return
	}
	c.page(w, r, http.StatusOK, "confirm.html", p)
}

// act does what a confirmation page asked for, and redirects to the
// overview with its result.
func (c *console) act(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return
	}
	in, err := parseIntent(r.PostForm)
	if err != nil {
		c.page(w, r, http.StatusBadRequest, "confirm.html", confirmPage{Error: capitalise(err.Error()) + "."})
		return
	}
	ctx := r.Context()
	cv, err := c.cover(ctx, in)
	if err != nil {
		c.storeError(w, r, err)
		return
	}
	if msg := in.nothing(cv); msg != "" {
		seeOther(w, "?done="+c.putFlash(flash{Bad: true, Text: []string{msg}}))
		return
	}
	if cv.Confirm != 0 {
		typed, err := strconv.ParseInt(strings.TrimSpace(r.PostForm.Get("confirm")), 10, 64)
		if err != nil || typed != cv.Confirm {
			c.showConfirm(w, r, in, fmt.Sprintf("Not done: the number typed was not %d. Type it to go ahead.", cv.Confirm))
			return
		}
	}
	var f flash
	switch in.Action {
	case "freeze":
		f, err = c.doFreeze(ctx, r, in)
	case "thaw":
		f, err = c.doThaw(ctx, r, in)
	default:
		f, err = c.doRevoke(ctx, r, in, cv)
	}
	if err != nil && !errors.Is(err, ErrSessions) {
		f = flash{Bad: true, Text: []string{"Not done: " + err.Error()}}
	}
	seeOther(w, "?done="+c.putFlash(f))
}

func (c *console) doFreeze(ctx context.Context, r *http.Request, in intent) (flash, error) {
	res, err := c.a.Freeze(ctx, store.Hold{Scope: in.Scope, Key: in.Key, Reason: in.Reason}, actor(r))
	if err != nil {
		return flash{}, err
	}
	if !res.Changed {
		return flash{Text: []string{fmt.Sprintf("%s was already frozen: %d outstanding links stay refused.", capitalise(in.what()), res.Outstanding)}}, nil
	}
	return flash{Text: []string{fmt.Sprintf("Froze %s: %d links, %d of them outstanding, are refused from the next request on.",
		in.what(), res.Links, res.Outstanding)}}, nil
}

func (c *console) doThaw(ctx context.Context, r *http.Request, in intent) (flash, error) {
	res, err := c.a.Thaw(ctx, store.Hold{Scope: in.Scope, Key: in.Key, Reason: in.Reason}, actor(r))
	if err != nil {
		return flash{}, err
	}
	if !res.Changed {
		return flash{Text: []string{fmt.Sprintf("%s was not frozen: nothing changed.", capitalise(in.what()))}}, nil
	}
	return flash{Text: []string{fmt.Sprintf("Thawed %s: %d links can be used again.", in.what(), res.Usable)}}, nil
}

func (c *console) doRevoke(ctx context.Context, r *http.Request, in intent, cv coverage) (flash, error) {
	var opts []RevokeOption
	if cv.Confirm != 0 {
		opts = append(opts, Confirm(cv.Confirm))
		if cv.Outstanding == 0 {
			opts = []RevokeOption{Confirm(0)}
		}
	}
	res, err := c.a.Revoke(ctx, in.filter(), actor(r), opts...)
	if err != nil && !errors.Is(err, ErrSessions) {
		return flash{}, err
	}
	f := flash{Text: []string{fmt.Sprintf("Revoked %s: its %d links (%d of them outstanding) will never work again.", in.what(), cv.Links, res.Covered)}}
	f.Text = append(f.Text, c.sessionsDone(ctx, res, err, cv)...)
	f.Bad = err != nil
	return f, nil
}

// sessionsDone says what became of the sessions of a revocation's consumed
// links, claiming no more than is known.
func (c *console) sessionsDone(ctx context.Context, res RevokeResult, err error, cv coverage) []string {
	n := len(res.Sessions)
	switch {
	case n == 0:
		return []string{"None of its links had opened a session: no session to end."}
	case err != nil:
		return []string{fmt.Sprintf("The site's session revoker failed for %d sessions (%v): end them by hand from the report.", n, err)}
	case c.a.sessions == nil:
		return []string{fmt.Sprintf("No session revoker is configured: the %d sessions its links opened were not ended; end them by hand from the report.", n)}
	}
	after, ok := c.countOpen(ctx, res.Sessions)
	if !ok || !cv.OpenKnown {
		return []string{fmt.Sprintf("Handed the %d sessions its links opened to the site's session revoker; how many of them were still open is not known.", n)}
	}
	return []string{fmt.Sprintf("Sessions: %d of the %d its links opened were open; %d were ended; %d are open now.", cv.Open, n, max(cv.Open-after, 0), after)}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
