package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store"
)

// WatermarkTolerance is how far ahead of the admin's clock an
// issued-before bound may lie. A bound later than that is refused: as a
// watermark it would refuse every link minted until then, and nothing can
// lower a watermark.
const WatermarkTolerance = time.Minute

// confirmShare is the share of the outstanding links above which a
// revocation must be confirmed ([Confirm]), as revoking everything must: a
// filter that selects nearly everything is "everything" by another name.
const confirmShare = 0.5

// A RevokeOption qualifies a revocation ([Admin.Revoke]).
type RevokeOption interface {
	applyRevoke(*act) error
}

// A HoldOption qualifies a freeze or a thaw ([Admin.Freeze],
// [Admin.Thaw]). A RevokeOption given there does not compile.
type HoldOption interface {
	applyHold(*act) error
}

// An ActOption qualifies every operator's action: it is both a
// [RevokeOption] and a [HoldOption].
type ActOption interface {
	RevokeOption
	HoldOption
}

type act struct {
	force     bool
	confirmed bool
	count     int64
}

type actOption func(*act) error

func (o actOption) applyRevoke(a *act) error { return o(a) }
func (o actOption) applyHold(a *act) error   { return o(a) }

type revokeOption func(*act) error

func (o revokeOption) applyRevoke(a *act) error { return o(a) }

// Force acts even when the scope matches no link: a freeze placed before a
// batch is sent, say.
func Force() ActOption {
	return actOption(func(a *act) error {
		a.force = true
		return nil
	})
}

// Confirm confirms a revocation as wide as everything: count must be the
// number of outstanding links it covers, as its [Preview] says
// (Preview.Confirm), so that the caller confirms what it was shown.
func Confirm(count int64) RevokeOption {
	return revokeOption(func(a *act) error {
		if count < 0 {
			return fmt.Errorf("%w: a confirmation counts links: %d", ErrRequest, count)
		}
		a.confirmed, a.count = true, count
		return nil
	})
}

func revokeOptions(opts []RevokeOption) (act, error) {
	var a act
	for _, o := range opts {
		if o == nil {
			return a, fmt.Errorf("%w: nil option", ErrRequest)
		}
		if err := o.applyRevoke(&a); err != nil {
			return a, err
		}
	}
	return a, nil
}

func holdOptions(opts []HoldOption) (act, error) {
	var a act
	for _, o := range opts {
		if o == nil {
			return a, fmt.Errorf("%w: nil option", ErrRequest)
		}
		if err := o.applyHold(&a); err != nil {
			return a, err
		}
	}
	return a, nil
}

// ConfirmError says that a revocation must be confirmed with the number of
// links it covers. It wraps [ErrConfirm].
type ConfirmError struct {
	Preview Preview
}

func (e *ConfirmError) Error() string {
	return fmt.Sprintf("%v: the revocation covers %d of %d outstanding links; confirm %d to revoke them",
		ErrConfirm, e.Preview.Outstanding, e.Preview.OutstandingInStore, e.Preview.Confirm)
}

// Unwrap returns [ErrConfirm].
func (e *ConfirmError) Unwrap() error { return ErrConfirm }

// Preview says what a revocation would cover.
type Preview struct {
	// Matching is how many records the filter selects (including ones
	// already revoked or expired).
	Matching int64 `json:"matching"`
	// Consumed is how many of them were consumed: their sessions would end.
	Consumed int64 `json:"consumed"`
	// Outstanding is how many of them are outstanding (usable, or frozen):
	// the links the revocation would stop.
	Outstanding int64 `json:"outstanding"`
	// OutstandingInStore is how many links are outstanding in the whole
	// store.
	OutstandingInStore int64 `json:"outstanding_in_store"`
	// Watermark reports whether the revocation would be a watermark.
	Watermark bool `json:"watermark"`
	// Confirm, when set, is the count the revocation must be confirmed
	// with ([Confirm]): it is as wide as everything, because it is
	// everything, covers more than half of the outstanding
	// links, or covers every outstanding link of its purpose.
	Confirm int64 `json:"confirm,omitempty"`
	// Wide reports whether the revocation must be confirmed.
	Wide bool `json:"wide"`
}

// Preview counts what Revoke would cover, changing nothing, and says
// whether it must be confirmed.
func (a *Admin) Preview(ctx context.Context, f store.Filter) (Preview, error) {
	if err := a.checkFilter(f); err != nil {
		return Preview{}, err
	}
	now := a.clock()
	sel, err := store.TallyOf(ctx, a.st, f, now)
	if err != nil {
		return Preview{}, err
	}
	c, err := a.st.Count(ctx, consumedOf(f))
	if err != nil {
		return Preview{}, err
	}
	p := Preview{Matching: sel.Total(), Consumed: c, Outstanding: sel.Outstanding(), Watermark: watermarkShape(f)}
	all := sel
	if !f.All {
		if all, err = store.TallyOf(ctx, a.st, store.Filter{All: true}, now); err != nil {
			return Preview{}, err
		}
	}
	p.OutstandingInStore = all.Outstanding()
	p.Wide = f.All || float64(p.Outstanding) > confirmShare*float64(p.OutstandingInStore)
	if !p.Wide && f.Purpose != "" && p.Outstanding > 0 {
		purpose, err := store.TallyOf(ctx, a.st, store.Filter{Purpose: f.Purpose}, now)
		if err != nil {
			return Preview{}, err
		}
		p.Wide = p.Outstanding == purpose.Outstanding()
	}
	if p.Wide {
		p.Confirm = p.Outstanding
	}
	return p, nil
}

// checkFilter refuses an invalid filter, and an issued-before bound later
// than the admin's clock allows.
func (a *Admin) checkFilter(f store.Filter) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrRequest, err)
	}
	if latest := a.clock().Add(WatermarkTolerance); f.IssuedBefore.After(latest) {
		return fmt.Errorf("%w: issued before %s is in the future (it is %s here): a watermark there would refuse every link minted until then, and nothing can lower it; to revoke everything, revoke all",
			ErrRequest, f.IssuedBefore.UTC().Format(time.RFC3339), a.clock().UTC().Format(time.RFC3339))
	}
	return nil
}

// scopeFilter is the filter that selects the links a hold of scope and key
// covers.
func scopeFilter(scope store.Scope, key string) store.Filter {
	switch scope {
	case store.ScopeBatch:
		return store.Filter{Batches: []string{key}}
	case store.ScopeMember:
		return store.Filter{Members: []string{key}}
	}
	return store.Filter{All: true}
}
