package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Errors of the operator's actions.
var (
	// ErrConfig: a missing or invalid option. It is [token.ErrConfig]:
	// every constructor of the module fails with one sentinel.
	ErrConfig = token.ErrConfig
	// ErrRequest: an invalid filter, scope, key or window. Nothing changed.
	ErrRequest = errors.New("oncelink: invalid request")
	// ErrSessions: links were revoked but the site's session revoker failed
	// for some of their sessions; the error says how many. Run the revoke
	// again (revokers must be idempotent), or end them by hand from the
	// report.
	ErrSessions = errors.New("oncelink: sessions not all ended")
	// ErrNoMatch: the freeze, thaw or revocation names a scope that holds
	// no link (a mistyped batch or member, or the wrong store). Nothing was
	// done; [Force] does it anyway.
	ErrNoMatch = errors.New("oncelink: matches no link")
	// ErrConfirm: the revocation is as wide as "everything" and was not
	// confirmed with the number of links it covers ([Confirm]). Nothing was
	// done. The error is a *[ConfirmError], which carries the count.
	ErrConfirm = errors.New("oncelink: confirmation required")
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
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrConfig)
		}
		if err := o(a); err != nil {
			return nil, err
		}
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// State lists what is in force: holds and watermarks. Its JSON form is
// {"holds": [...], "watermarks": [...]}, with empty lists as [].
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
	if h == nil {
		h = []store.Hold{}
	}
	if m == nil {
		m = []store.Mark{}
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
	b, _ := json.Marshal(toJSON(f))
	if len(b) > 4*store.MaxReasonLen {
		return string(b[:4*store.MaxReasonLen-3]) + "..."
	}
	return string(b)
}
