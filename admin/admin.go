package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Errors of the operator's actions.
var (
	// ErrConfig: a missing or invalid option.
	ErrConfig = errors.New("oncelink admin: invalid configuration")
	// ErrRequest: an invalid filter, scope, key or window. Nothing changed.
	ErrRequest = errors.New("oncelink admin: invalid request")
	// ErrSessions: links were revoked but the site's session revoker failed
	// for some of their sessions; the error says how many. Run the revoke
	// again (revokers must be idempotent), or end them by hand from the
	// report.
	ErrSessions = errors.New("oncelink admin: sessions not all ended")
)

// SessionRevoker ends sessions of the site. It is handed the references the
// site gave at consumption ([verify.Request.Session]) of every consumed link
// that is revoked. It must be idempotent: the same session may be handed
// again by a later revocation.
type SessionRevoker interface {
	RevokeSessions(ctx context.Context, sessions []string) error
}

// SessionRevokerFunc adapts a function to [SessionRevoker].
type SessionRevokerFunc func(ctx context.Context, sessions []string) error

// RevokeSessions calls f.
func (f SessionRevokerFunc) RevokeSessions(ctx context.Context, sessions []string) error {
	return f(ctx, sessions)
}

// Admin performs operators' actions on a store and records each in its
// ledger. It is safe for concurrent use.
type Admin struct {
	st       store.Store
	sessions SessionRevoker
	clock    func() time.Time
	logger   *slog.Logger
}

// Option configures an [Admin].
type Option func(*Admin) error

// WithSessionRevoker sets the site's session revoker. Without one, revoking
// consumed links ends no session: [RevokeResult.Sessions] lists them for the
// operator instead.
func WithSessionRevoker(r SessionRevoker) Option {
	return func(a *Admin) error {
		a.sessions = r
		return nil
	}
}

// WithClock sets the clock, for tests. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(a *Admin) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrConfig)
		}
		a.clock = now
		return nil
	}
}

// WithLogger sets the logger. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(a *Admin) error {
		a.logger = l
		return nil
	}
}

// New returns an Admin for st.
func New(st store.Store, opts ...Option) (*Admin, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrConfig)
	}
	a := &Admin{st: st, clock: time.Now}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// Store returns the admin's store.
func (a *Admin) Store() store.Store { return a.st }

// RevokeResult says what a revocation did.
type RevokeResult struct {
	// Revoked is how many records were revoked one by one (idempotent: 0 on
	// a second call).
	Revoked int64 `json:"revoked"`
	// Watermark is set when the filter was applied as a watermark: every
	// link issued before it (of Members, or of everyone) is refused from now
	// on, whatever their number, and no record was changed one by one.
	Watermark time.Time `json:"watermark,omitzero"`
	// Members is the members a member watermark was set for.
	Members []string `json:"members,omitempty"`
	// Sessions is the session references of the consumed links the
	// revocation covers: handed to the session revoker when there is one.
	Sessions []string `json:"sessions"`
	// SessionsEnded reports whether the session revoker accepted them all.
	SessionsEnded bool `json:"sessions_ended"`
}

// Preview says what a revocation would cover.
type Preview struct {
	// Matching is how many records the filter selects (including ones
	// already revoked or expired).
	Matching int64 `json:"matching"`
	// Consumed is how many of them were consumed: their sessions would end.
	Consumed int64 `json:"consumed"`
	// Watermark reports whether the revocation would be a watermark.
	Watermark bool `json:"watermark"`
}

// watermarkShape reports whether f is applied as a watermark: everything,
// everything issued before a time, or every link of some members (issued
// before a time). Those take one write per member or one in all, whatever
// the number of links, and act on links that are minted concurrently.
func watermarkShape(f store.Filter) bool {
	if f.All {
		return true
	}
	rest := f
	rest.Members, rest.IssuedBefore = nil, time.Time{}
	return rest.IsEmpty() && (len(f.Members) > 0 || !f.IssuedBefore.IsZero())
}

// Preview counts what Revoke would cover, changing nothing.
func (a *Admin) Preview(ctx context.Context, f store.Filter) (Preview, error) {
	if err := f.Validate(); err != nil {
		return Preview{}, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	n, err := a.st.Count(ctx, f)
	if err != nil {
		return Preview{}, err
	}
	c, err := a.st.Count(ctx, consumedOf(f))
	if err != nil {
		return Preview{}, err
	}
	return Preview{Matching: n, Consumed: c, Watermark: watermarkShape(f)}, nil
}

func consumedOf(f store.Filter) store.Filter {
	if f.All {
		return store.Filter{Consumed: true}
	}
	f.Consumed = true
	return f
}

// Revoke revokes every link the filter selects, consumed ones included, so
// that it is refused on the next verification on every instance, records
// the revocation in the ledger, and hands the sessions opened by consumed
// links to the session revoker.
//
// Everything, everything issued before a time, and every link of some
// members are applied as watermarks: constant work per member (or in all),
// whatever the number of links. Other filters revoke record by record in one
// store operation. actor names who asked, for the ledger.
//
// The revocation itself is done before sessions are looked up; if ending
// sessions fails, the links stay revoked and the error wraps [ErrSessions].
func (a *Admin) Revoke(ctx context.Context, f store.Filter, actor string) (RevokeResult, error) {
	if err := f.Validate(); err != nil {
		return RevokeResult{}, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	now := store.Micro(a.clock())
	var res RevokeResult
	detail := describeFilter(f)
	sessionsOf := consumedOf(f)
	if watermarkShape(f) {
		before := now.Add(time.Microsecond) // covers links issued up to this instant
		if !f.IssuedBefore.IsZero() {
			before = store.MicroCeil(f.IssuedBefore) // as every filter bound is compared
		}
		members := f.Members
		if len(members) == 0 {
			members = []string{""}
		}
		var evs []store.Event
		for _, m := range members {
			if err := a.st.Watermark(ctx, m, before); err != nil {
				return res, fmt.Errorf("watermark for %q: %w", m, err)
			}
			evs = append(evs, store.Event{At: now, Kind: store.EventWatermark, Member: m, Actor: actor,
				Detail: fmt.Sprintf("every link issued before %s", before.Format(time.RFC3339Nano))})
		}
		res.Watermark = before
		if len(f.Members) > 0 {
			res.Members = slices.Clone(f.Members)
		}
		sessionsOf.IssuedBefore = before
		a.append(ctx, evs...)
	} else {
		n, err := a.st.Revoke(ctx, f, now)
		if err != nil {
			return res, err
		}
		res.Revoked = n
		a.append(ctx, store.Event{At: now, Kind: store.EventRevoked, Count: n, Actor: actor, Detail: detail,
			Batch: single(f.Batches), Member: single(f.Members)})
	}
	a.logger.WarnContext(ctx, "oncelink: links revoked", "filter", detail, "revoked", res.Revoked, "watermark", res.Watermark, "actor", actor)

	sessions, err := a.sessionsOf(ctx, sessionsOf)
	if err != nil {
		return res, fmt.Errorf("%w: links revoked, but their sessions could not be listed: %w", ErrSessions, err)
	}
	res.Sessions = sessions
	if a.sessions == nil || len(sessions) == 0 {
		res.SessionsEnded = len(sessions) == 0
		return res, nil
	}
	if err := a.endSessions(ctx, sessions); err != nil {
		return res, fmt.Errorf("%w: %d sessions: %w", ErrSessions, len(sessions), err)
	}
	res.SessionsEnded = true
	a.append(ctx, store.Event{At: now, Kind: store.EventSessions, Count: int64(len(sessions)), Actor: actor, Detail: "ended sessions of revoked links: " + detail})
	return res, nil
}

// sessionsOf pages through the consumed records a filter selects and
// returns their distinct session references.
func (a *Admin) sessionsOf(ctx context.Context, f store.Filter) ([]string, error) {
	seen := map[string]bool{}
	sessions := []string{}
	after := ""
	for {
		page, err := a.st.Records(ctx, store.RecordQuery{Filter: f, After: after, Limit: store.MaxPage})
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if s := r.Consumer.Session; s != "" && !seen[s] {
				seen[s] = true
				sessions = append(sessions, s)
			}
		}
		if len(page) < store.MaxPage {
			return sessions, nil
		}
		after = page[len(page)-1].ID
	}
}

// endSessions hands sessions to the revoker in pages, recovering a panic.
func (a *Admin) endSessions(ctx context.Context, sessions []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("session revoker panicked: %v", r)
		}
	}()
	for start := 0; start < len(sessions); start += 1000 {
		if err := a.sessions.RevokeSessions(ctx, sessions[start:min(start+1000, len(sessions))]); err != nil {
			return err
		}
	}
	return nil
}

// Freeze places a reversible hold: every link it covers is refused with
// verify.ErrFrozen on the next verification, on every instance, and nothing
// is consumed. Scope is global (key ""), batch or member.
func (a *Admin) Freeze(ctx context.Context, scope store.Scope, key, reason, actor string) error {
	h := store.Hold{Scope: scope, Key: key, Since: store.Micro(a.clock()), Reason: reason}
	if err := h.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrRequest, err)
	}
	if len(reason) > store.MaxReasonLen {
		return fmt.Errorf("%w: reason longer than %d bytes", ErrRequest, store.MaxReasonLen)
	}
	if err := a.st.Freeze(ctx, h); err != nil {
		return err
	}
	a.logger.WarnContext(ctx, "oncelink: frozen", "scope", scope, "key", key, "reason", reason, "actor", actor)
	a.append(ctx, store.Event{At: h.Since, Kind: store.EventFrozen, Actor: actor, Detail: scope.String() + " " + key + ": " + reason,
		Batch: keyIf(scope, store.ScopeBatch, key), Member: keyIf(scope, store.ScopeMember, key)})
	return nil
}

// Thaw lifts a hold and reports whether there was one. Links it covered
// are consumable again if nothing else refuses them.
func (a *Admin) Thaw(ctx context.Context, scope store.Scope, key, actor string) (bool, error) {
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	ok, err := a.st.Thaw(ctx, scope, key)
	if err != nil {
		return false, err
	}
	if ok {
		a.logger.WarnContext(ctx, "oncelink: thawed", "scope", scope, "key", key, "actor", actor)
		a.append(ctx, store.Event{At: store.Micro(a.clock()), Kind: store.EventThawed, Actor: actor, Detail: scope.String() + " " + key,
			Batch: keyIf(scope, store.ScopeBatch, key), Member: keyIf(scope, store.ScopeMember, key)})
	}
	return ok, nil
}

// State lists what is in force: holds and watermarks.
type State struct {
	Holds []store.Hold `json:"holds"`
	Marks []store.Mark `json:"watermarks"`
}

// State returns the holds and watermarks in force.
func (a *Admin) State(ctx context.Context) (State, error) {
	h, err := a.st.Holds(ctx)
	if err != nil {
		return State{}, err
	}
	m, err := a.st.Marks(ctx)
	if err != nil {
		return State{}, err
	}
	return State{Holds: h, Marks: m}, nil
}

// Purge deletes the records of links that expired before `before`, and the
// ledger entries recorded before it, and returns how many records it
// deleted. Reports cannot cover what was purged: keep the ledger as long as
// an incident review may need it.
func (a *Admin) Purge(ctx context.Context, before time.Time, actor string) (int64, error) {
	if before.IsZero() || before.After(a.clock()) {
		return 0, fmt.Errorf("%w: purge needs a cut-off in the past", ErrRequest)
	}
	n, err := a.st.Purge(ctx, before)
	if err != nil {
		return 0, err
	}
	a.logger.InfoContext(ctx, "oncelink: purged", "before", before, "records", n, "actor", actor)
	return n, nil
}

func (a *Admin) append(ctx context.Context, evs ...store.Event) {
	if len(evs) == 0 {
		return
	}
	if err := a.st.Append(ctx, evs...); err != nil {
		a.logger.ErrorContext(ctx, "oncelink: operator action not recorded in the ledger", "error", err)
	}
}

func single(list []string) string {
	if len(list) == 1 {
		return list[0]
	}
	return ""
}

func keyIf(s, want store.Scope, key string) string {
	if s == want {
		return key
	}
	return ""
}

// describeFilter renders a filter as JSON for the ledger, bounded.
func describeFilter(f store.Filter) string {
	b, _ := json.Marshal(ToJSON(f))
	if len(b) > 4*store.MaxReasonLen {
		return string(b[:4*store.MaxReasonLen-3]) + "..."
	}
	return string(b)
}
