package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Tallier     = (*Store)(nil)
	_ store.BatchLister = (*Store)(nil)
)

// Tally implements [store.Tallier]: every record the filter selects,
// decided by [store.Decide] under the lock.
func (s *Store) Tally(ctx context.Context, f store.Filter, at time.Time) (store.Tally, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Tally{}, err
	}
	if err := f.Validate(); err != nil {
		return store.Tally{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ok := s.matcher(&f)
	var t store.Tally
	for i := range s.recs {
		if r := &s.recs[i]; ok(r) {
			v := s.view(r)
			t.Add(&v, s.guards, at)
		}
	}
	return t, nil
}

// Batches implements [store.BatchLister].
func (s *Store) Batches(ctx context.Context, q store.BatchQuery) ([]store.BatchSummary, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	byBatch := map[uint32]*store.BatchSummary{}
	for i := range s.recs {
		r := &s.recs[i]
		name := s.batches.names[r.batch]
		if r.batch == 0 || name <= q.After {
			continue
		}
		issued := store.FromUnixMicro(r.issued)
		b, ok := byBatch[r.batch]
		if !ok {
			b = &store.BatchSummary{Batch: name, FirstIssued: issued, LastIssued: issued}
			byBatch[r.batch] = b
		}
		b.Links++
		if issued.Before(b.FirstIssued) {
			b.FirstIssued = issued
		}
		if issued.After(b.LastIssued) {
			b.LastIssued = issued
		}
	}
	s.mu.RUnlock()
	out := make([]store.BatchSummary, 0, len(byBatch))
	for _, b := range byBatch {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b store.BatchSummary) int { return strings.Compare(a.Batch, b.Batch) })
	if len(out) > q.PageSize() {
		out = out[:q.PageSize()]
	}
	return out, nil
}
