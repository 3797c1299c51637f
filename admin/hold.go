package admin

import (
	"context"
	"fmt"

	"github.com/oncelink/oncelink/store"
)

// HoldResult says what a freeze or a thaw covered.
type HoldResult struct {
	Scope string `json:"scope"`
	Key   string `json:"key"`
	// Frozen reports whether the scope is frozen after the call: true after
	// Freeze (a hold placed, or one already there), false after Thaw.
	Frozen bool `json:"frozen"`
	// Changed reports whether the call placed or lifted a hold; false when
	// Freeze found one in place or Thaw found none.
	Changed bool `json:"changed"`
	// Links is how many links, in any state, the scope covers.
	Links int64 `json:"links"`
	// Outstanding is how many of them are neither used, revoked nor
	// expired: the links a freeze stops and a thaw can let through.
	Outstanding int64 `json:"outstanding"`
	// Usable is how many of them Consume would accept after the call: 0
	// after a freeze; after a thaw, those that no other hold still covers.
	Usable int64 `json:"usable"`
}

// Freeze places a reversible hold: every link it covers is refused with
// verify.ErrFrozen on the next verification, on every instance, and nothing
// is consumed. h names its scope (global, with no key; a batch; a member)
// and the reason, for the ledger; its Since is the admin's clock. A scope
// that covers no link is refused with [ErrNoMatch] unless [Force]: a
// mistyped batch is not a freeze.
func (a *Admin) Freeze(ctx context.Context, h store.Hold, actor string, opts ...HoldOption) (HoldResult, error) {
	o, err := holdOptions(opts)
	if err != nil {
		return HoldResult{}, err
	}
	scope, key, reason := h.Scope, h.Key, h.Reason
	h.Since = store.Micro(a.clock())
	if err := h.Validate(); err != nil {
		return HoldResult{}, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	if len(reason) > store.MaxReasonLen {
		return HoldResult{}, fmt.Errorf("%w: reason longer than %d bytes", ErrRequest, store.MaxReasonLen)
	}
	before, err := store.TallyOf(ctx, a.st, scopeFilter(scope, key), a.clock())
	if err != nil {
		return HoldResult{}, err
	}
	if before.Total() == 0 && !o.force {
		return HoldResult{}, fmt.Errorf("%w: %s", ErrNoMatch, describeScope(scope, key))
	}
	held, err := a.held(ctx, scope, key)
	if err != nil {
		return HoldResult{}, err
	}
	if err := a.st.Freeze(ctx, h); err != nil {
		return HoldResult{}, err
	}
	a.logger.WarnContext(ctx, "oncelink: frozen", "scope", scope, "key", key, "reason", reason, "actor", actor, "outstanding", before.Outstanding())
	if !held {
		a.append(ctx, store.Event{At: h.Since, Kind: store.EventFrozen, Actor: actor, Count: before.Outstanding(),
			Detail: scope.String() + " " + key + ": " + reason,
			Batch:  keyIf(scope, store.ScopeBatch, key), Member: keyIf(scope, store.ScopeMember, key)})
	}
	return HoldResult{Scope: scope.String(), Key: key, Frozen: true, Changed: !held,
		Links: before.Total(), Outstanding: before.Outstanding()}, nil
}

// Thaw lifts the hold of h's scope and key. Links it covered are
// consumable again if nothing else refuses them. h's Reason, if any, goes
// to the ledger with the thaw. A scope that covers no link and holds no
// hold is refused with [ErrNoMatch] unless [Force].
func (a *Admin) Thaw(ctx context.Context, h store.Hold, actor string, opts ...HoldOption) (HoldResult, error) {
	o, err := holdOptions(opts)
	if err != nil {
		return HoldResult{}, err
	}
	scope, key := h.Scope, h.Key
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return HoldResult{}, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	if !store.ValidText(h.Reason, store.MaxReasonLen) {
		return HoldResult{}, fmt.Errorf("%w: reason must be at most %d bytes of text", ErrRequest, store.MaxReasonLen)
	}
	f := scopeFilter(scope, key)
	before, err := store.TallyOf(ctx, a.st, f, a.clock())
	if err != nil {
		return HoldResult{}, err
	}
	held, err := a.held(ctx, scope, key)
	if err != nil {
		return HoldResult{}, err
	}
	if before.Total() == 0 && !held && !o.force {
		return HoldResult{}, fmt.Errorf("%w: %s, and it is not frozen", ErrNoMatch, describeScope(scope, key))
	}
	ok, err := a.st.Thaw(ctx, scope, key)
	if err != nil {
		return HoldResult{}, err
	}
	after, err := store.TallyOf(ctx, a.st, f, a.clock())
	if err != nil {
		return HoldResult{}, err
	}
	if ok {
		a.logger.WarnContext(ctx, "oncelink: thawed", "scope", scope, "key", key, "actor", actor, "usable", after.Issued)
		detail := scope.String() + " " + key
		if h.Reason != "" {
			detail += ": " + h.Reason
		}
		a.append(ctx, store.Event{At: store.Micro(a.clock()), Kind: store.EventThawed, Actor: actor, Count: after.Issued,
			Detail: detail,
			Batch:  keyIf(scope, store.ScopeBatch, key), Member: keyIf(scope, store.ScopeMember, key)})
	}
	return HoldResult{Scope: scope.String(), Key: key, Changed: ok,
		Links: after.Total(), Outstanding: after.Outstanding(), Usable: after.Issued}, nil
}

// held reports whether a hold of scope and key stands.
func (a *Admin) held(ctx context.Context, scope store.Scope, key string) (bool, error) {
	holds, err := a.st.Holds(ctx)
	if err != nil {
		return false, err
	}
	for _, h := range holds {
		if h.Scope == scope && h.Key == key {
			return true, nil
		}
	}
	return false, nil
}

func describeScope(scope store.Scope, key string) string {
	switch scope {
	case store.ScopeBatch:
		return fmt.Sprintf("batch %q has no link", key)
	case store.ScopeMember:
		return fmt.Sprintf("member %q has no link", key)
	}
	return "the store has no link"
}
