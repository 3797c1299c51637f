package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Tallier     = (*Store)(nil)
	_ store.BatchLister = (*Store)(nil)
)

// Tally implements [store.Tallier]: the candidates of the filter are
// decided by the same Lua function as Consume's, by script calls of
// [selectChunk] records, pipelined. Each call reads one moment; a tally
// of many chunks is not one snapshot.
func (s *Store) Tally(ctx context.Context, f store.Filter, at time.Time) (store.Tally, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Tally{}, err
	}
	if err := f.Validate(); err != nil {
		return store.Tally{}, err
	}
	var t store.Tally
	err := s.scan(ctx, tallyScript, &f, []string{s.k.ctl, s.k.xc}, []interface{}{fmtInt(store.UnixMicro(at))}, func(res []interface{}) error {
		if len(res) == 1 && res[0] == int64(-1) {
			return errDamaged("tally")
		}
		if len(res) != 5 {
			return unavailable("tally", errors.New("malformed reply"))
		}
		var n [5]int64
		for i := range n {
			n[i], _ = res[i].(int64)
		}
		t.Issued += n[0]
		t.Frozen += n[1]
		t.Consumed += n[2]
		t.Revoked += n[3]
		t.Expired += n[4]
		return nil
	})
	return t, err
}

// Batches implements [store.BatchLister], from the batch summaries that
// Inserts keep as they become visible and Purge as it deletes.
func (s *Store) Batches(ctx context.Context, q store.BatchQuery) ([]store.BatchSummary, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	counts, err := s.c.HGetAll(ctx, s.k.bn).Result()
	if err != nil {
		return nil, unavailable("batches", err)
	}
	var names []string
	for b, n := range counts {
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > 0 && b > q.After {
			names = append(names, b)
		}
	}
	slices.Sort(names)
	names = names[:min(len(names), q.PageSize())]
	out := make([]store.BatchSummary, 0, len(names))
	if len(names) == 0 {
		return out, nil
	}
	spans, err := s.c.HMGet(ctx, s.k.bt, names...).Result()
	if err != nil {
		return nil, unavailable("batches", err)
	}
	for i, b := range names {
		sum := store.BatchSummary{Batch: b}
		sum.Links, _ = strconv.ParseInt(counts[b], 10, 64)
		span, _ := spans[i].(string)
		first, last, _ := strings.Cut(span, ":")
		if sum.FirstIssued, err = fromMicro(first); err == nil {
			sum.LastIssued, err = fromMicro(last)
		}
		if err != nil {
			return nil, unavailable("batches", err)
		}
		out = append(out, sum)
	}
	return out, nil
}
