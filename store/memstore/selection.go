package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// match is [store.Filter.Match] on a packed record, without unpacking it.
func (s *Store) match(f *store.Filter, r *rec, batchIDs map[uint32]bool, ids map[[16]byte]bool) bool {
	if f.All {
		return true
	}
	if ids != nil && !ids[r.id] {
		return false
	}
	if len(f.Members) > 0 && !slices.Contains(f.Members, r.mr[:r.mlen]) {
		return false
	}
	if batchIDs != nil && !batchIDs[r.batch] {
		return false
	}
	if f.Purpose != "" && s.purposes.names[r.purpose] != f.Purpose {
		return false
	}
	if !f.IssuedFrom.IsZero() && r.issued < store.UnixMicroCeil(f.IssuedFrom) {
		return false
	}
	if !f.IssuedBefore.IsZero() && r.issued >= store.UnixMicroCeil(f.IssuedBefore) {
		return false
	}
	if f.Consumed && r.consumed == 0 {
		return false
	}
	return true
}

// matcher prepares the lookups a filter needs and returns a predicate.
func (s *Store) matcher(f *store.Filter) func(*rec) bool {
	var batchIDs map[uint32]bool
	if len(f.Batches) > 0 {
		batchIDs = make(map[uint32]bool, len(f.Batches))
		for _, b := range f.Batches {
			if id, ok := s.batches.lookup(b); ok {
				batchIDs[id] = true
			}
		}
	}
	var ids map[[16]byte]bool
	if len(f.IDs) > 0 {
		ids = make(map[[16]byte]bool, len(f.IDs))
		for _, v := range f.IDs {
			id, _ := parseID(v)
			ids[id] = true
		}
	}
	return func(r *rec) bool { return s.match(f, r, batchIDs, ids) }
}

// Revoke implements [store.Tokens].
func (s *Store) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := s.matcher(&f)
	when := store.UnixMicro(at)
	var n int64
	for i := range s.recs {
		r := &s.recs[i]
		if r.status != store.StatusRevoked && ok(r) {
			r.status = store.StatusRevoked
			r.revoked = when
			n++
		}
	}
	return n, nil
}

// Records implements [store.Tokens].
func (s *Store) Records(ctx context.Context, q store.RecordQuery) ([]store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var after [16]byte
	if q.After != "" {
		after, _ = parseID(q.After)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ok := s.matcher(&q.Filter)
	var hits []*rec
	for i := range s.recs {
		r := &s.recs[i]
		if (q.After == "" || string(r.id[:]) > string(after[:])) && ok(r) {
			hits = append(hits, r)
		}
	}
	slices.SortFunc(hits, func(a, b *rec) int { return strings.Compare(string(a.id[:]), string(b.id[:])) })
	if len(hits) > q.PageSize() {
		hits = hits[:q.PageSize()]
	}
	out := make([]store.Record, len(hits))
	for i, r := range hits {
		out[i] = s.toRecord(r)
	}
	return out, nil
}

// Count implements [store.Tokens].
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ok := s.matcher(&f)
	var n int64
	for i := range s.recs {
		if ok(&s.recs[i]) {
			n++
		}
	}
	return n, nil
}

// Purge implements [store.Tokens].
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	cut := store.UnixMicroCeil(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for i := 0; i < len(s.recs); {
		if s.recs[i].expires >= cut {
			i++
			continue
		}
		delete(s.index, s.recs[i].id)
		last := len(s.recs) - 1
		if i != last {
			s.recs[i] = s.recs[last]
			s.index[s.recs[i].id] = uint32(i)
		}
		s.recs[last] = rec{}
		s.recs = s.recs[:last]
		n++
	}
	kept := s.events[:0]
	for _, e := range s.events {
		if store.UnixMicro(e.At) >= cut {
			kept = append(kept, e)
		}
	}
	clear(s.events[len(kept):])
	s.events = kept
	for k := range s.hits {
		if (k.bucket+1)*k.window.Microseconds() < cut {
			delete(s.hits, k)
		}
	}
	return n, nil
}

// Watermark implements [store.Tokens].
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guards.Mark(store.Mark{Member: member, Before: store.MicroCeil(before)})
	return nil
}

// WatermarkNow implements [store.Tokens]: the mark takes the next number
// of the store's sequence, under the lock every Insert takes.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Mark{}, err
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeq++
	s.guards.Mark(store.Mark{Member: member, Seq: s.lastSeq})
	return s.guards.MarkOf(member), nil
}

// Marks implements [store.Tokens].
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.guards.Marks(), nil
}
