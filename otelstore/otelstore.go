package otelstore

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/oncelink/oncelink/store"
)

// New returns st instrumented: every call goes to st, and its outcome is
// counted and timed on the way back. The store returned has exactly the
// optional capabilities st has ([store.Pinger], [store.Tallier],
// [store.BatchLister], [store.Counters]), each instrumented too, so that
// a caller that looks for one finds it, or does not, as with st itself.
// It always has [store.StreamInserter]: for a store without it, InsertSeq
// does what [store.InsertSeq] would, one Insert of all the records.
// Closing stays with st: close it, not the store New returns.
func New(st store.Store, opts ...Option) (store.Store, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrConfig)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	in, err := newInstruments(cfg.mp)
	if err != nil {
		return nil, err
	}
	return withCapabilities(&instrumented{st: st, in: in}), nil
}

// instrumented is the store New returns, less the optional capabilities
// (caps.go).
type instrumented struct {
	st store.Store
	in *instruments

	// The optional capabilities of st, nil when it has none.
	ping    store.Pinger
	tally   store.Tallier
	batches store.BatchLister
	hit     store.Counters
}

var _ store.Store = (*instrumented)(nil)

func (s *instrumented) Insert(ctx context.Context, recs []store.Record) error {
	start := time.Now()
	err := s.st.Insert(ctx, recs)
	s.inserted(ctx, start, recs, err)
	return err
}

// InsertSeq inserts through the store's [store.StreamInserter] when it has
// one, and otherwise as [store.InsertSeq] does without one: it collects the
// records and makes one Insert. Either way the outcome is the store's, so
// the decorator offers it whatever the store it wraps.
func (s *instrumented) InsertSeq(ctx context.Context, recs iter.Seq2[store.Record, error]) error {
	start := time.Now()
	var single, batch int64
	counted := func(yield func(store.Record, error) bool) {
		for r, err := range recs {
			if err == nil {
				if r.Batch == "" {
					single++
				} else {
					batch++
				}
			}
			if !yield(r, err) {
				return
			}
		}
	}
	err := store.InsertSeq(ctx, s.st, counted)
	s.minted(ctx, start, single, batch, err)
	return err
}

func (s *instrumented) Get(ctx context.Context, id string) (store.Record, error) {
	start := time.Now()
	rec, err := s.st.Get(ctx, id)
	s.done(ctx, opGet, start, err)
	return rec, err
}

func (s *instrumented) Peek(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	start := time.Now()
	rec, err := s.st.Peek(ctx, req)
	s.presented(ctx, opPeek, start, &req, &rec, err)
	return rec, err
}

func (s *instrumented) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	start := time.Now()
	rec, err := s.st.Consume(ctx, req)
	s.presented(ctx, opConsume, start, &req, &rec, err)
	return rec, err
}

func (s *instrumented) Fail(ctx context.Context, id string, at time.Time, max int) (store.Record, error) {
	start := time.Now()
	rec, err := s.st.Fail(ctx, id, at, max)
	s.failed(ctx, start, &rec, at, max, err)
	return rec, err
}

func (s *instrumented) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	start := time.Now()
	n, err := s.st.Revoke(ctx, f, at)
	s.revoked(ctx, start, n, err)
	return n, err
}

func (s *instrumented) Watermark(ctx context.Context, member string, before time.Time) error {
	start := time.Now()
	err := s.st.Watermark(ctx, member, before)
	s.marked(ctx, opWatermark, start, member != "", err)
	return err
}

func (s *instrumented) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	start := time.Now()
	m, err := s.st.WatermarkNow(ctx, member)
	s.marked(ctx, opWatermarkNow, start, member != "", err)
	return m, err
}

func (s *instrumented) Marks(ctx context.Context) ([]store.Mark, error) {
	start := time.Now()
	m, err := s.st.Marks(ctx)
	s.done(ctx, opMarks, start, err)
	return m, err
}

func (s *instrumented) Records(ctx context.Context, q store.RecordQuery) ([]store.Record, error) {
	start := time.Now()
	recs, err := s.st.Records(ctx, q)
	s.done(ctx, opRecords, start, err)
	return recs, err
}

func (s *instrumented) Count(ctx context.Context, f store.Filter) (int64, error) {
	start := time.Now()
	n, err := s.st.Count(ctx, f)
	s.done(ctx, opCount, start, err)
	return n, err
}

func (s *instrumented) Purge(ctx context.Context, before time.Time) (int64, error) {
	start := time.Now()
	n, err := s.st.Purge(ctx, before)
	s.done(ctx, opPurge, start, err)
	return n, err
}

func (s *instrumented) Freeze(ctx context.Context, h store.Hold) error {
	start := time.Now()
	err := s.st.Freeze(ctx, h)
	s.done(ctx, opFreeze, start, err)
	return err
}

func (s *instrumented) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	start := time.Now()
	ok, err := s.st.Thaw(ctx, scope, key)
	s.thawed(ctx, start, scope, ok, err)
	return ok, err
}

func (s *instrumented) Holds(ctx context.Context) ([]store.Hold, error) {
	start := time.Now()
	h, err := s.st.Holds(ctx)
	s.done(ctx, opHolds, start, err)
	return h, err
}

func (s *instrumented) Append(ctx context.Context, events ...store.Event) error {
	start := time.Now()
	err := s.st.Append(ctx, events...)
	s.appended(ctx, start, events, err)
	return err
}

func (s *instrumented) Events(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	start := time.Now()
	evs, next, err := s.st.Events(ctx, q)
	s.done(ctx, opEvents, start, err)
	return evs, next, err
}
