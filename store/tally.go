package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Tally counts records by what Consume would decide for each at one time
// ([Decide]): every record counts once, in the first state that applies.
type Tally struct {
	// Issued is the records Consume would accept (given the right secret
	// and state): outstanding and usable.
	Issued int64 `json:"issued"`
	// Frozen is the outstanding records a hold covers: usable again after
	// a thaw.
	Frozen int64 `json:"frozen"`
	// Consumed is the records consumed and not revoked since.
	Consumed int64 `json:"consumed"`
	// Revoked is the records revoked, one by one or by a watermark,
	// consumed ones included.
	Revoked int64 `json:"revoked"`
	// Expired is the records that expired unused.
	Expired int64 `json:"expired"`
}

// Total returns the number of records counted.
func (t Tally) Total() int64 { return t.Issued + t.Frozen + t.Consumed + t.Revoked + t.Expired }

// Outstanding returns the records that are neither used, revoked nor
// expired: usable now (Issued) or after a thaw (Frozen).
func (t Tally) Outstanding() int64 { return t.Issued + t.Frozen }

// Add counts one record as Decide says of it.
func (t *Tally) Add(r *Record, g *Guards, at time.Time) {
	switch Decide(r, g, at) {
	case nil:
		t.Issued++
	case ErrFrozen:
		t.Frozen++
	case ErrUsed:
		t.Consumed++
	case ErrRevoked:
		t.Revoked++
	case ErrExpired:
		t.Expired++
	}
}

// TallyOf counts the records f selects by what Consume would decide at
// time at: by the store's [Tallier] when it has one, else by paging through
// its records and deciding each with the guards in force.
func TallyOf(ctx context.Context, s Store, f Filter, at time.Time) (Tally, error) {
	if err := f.Validate(); err != nil {
		return Tally{}, err
	}
	if at.IsZero() {
		return Tally{}, fmt.Errorf("%w: tally needs a time", ErrInvalid)
	}
	if t, ok := s.(Tallier); ok {
		res, err := t.Tally(ctx, f, at)
		if !errors.Is(err, ErrUnsupported) {
			return res, err
		}
	}
	g, err := LoadGuards(ctx, s)
	if err != nil {
		return Tally{}, err
	}
	var res Tally
	after := ""
	for {
		page, err := s.Records(ctx, RecordQuery{Filter: f, After: after, Limit: MaxPage})
		if err != nil {
			return Tally{}, err
		}
		for i := range page {
			res.Add(&page[i], g, at)
		}
		if len(page) < MaxPage {
			return res, nil
		}
		after = page[len(page)-1].ID
	}
}
