package redisstore

import (
	"context"
	"errors"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

// selectChunk is the number of records one count or revoke call checks.
const selectChunk = 1000

// source is where the candidates of a filter come from: the ids it names,
// or the union of index zsets (by batch, by member, or all), restricted to
// its issue window.
type source struct {
	ids  []string
	keys []string // index zsets the ids came from, for lazy cleaning
	// byMember and byBatch say that every candidate already satisfies the
	// filter's members or batches.
	byMember, byBatch bool
}

func (s *Store) candidates(ctx context.Context, f *store.Filter) (source, error) {
	var src source
	if len(f.IDs) > 0 {
		src.ids = dedupe(slices.Clone(f.IDs))
		return src, nil
	}
	switch {
	case len(f.Batches) > 0:
		src.byBatch = true
		for _, b := range dedupe(slices.Clone(f.Batches)) {
			src.keys = append(src.keys, s.k.batchIndex(b))
		}
	case len(f.Members) > 0:
		src.byMember = true
		for _, m := range dedupe(slices.Clone(f.Members)) {
			src.keys = append(src.keys, s.k.memberIndex(m))
		}
	default:
		src.keys = []string{s.k.all}
	}
	lo, hi := "-inf", "+inf"
	if !f.IssuedFrom.IsZero() {
		lo = fmtInt(store.UnixMicroCeil(f.IssuedFrom))
	}
	if !f.IssuedBefore.IsZero() {
		hi = "(" + fmtInt(store.UnixMicroCeil(f.IssuedBefore))
	}
	pipe := s.c.Pipeline()
	cmds := make([]*goredis.StringSliceCmd, len(src.keys))
	for i, k := range src.keys {
		cmds[i] = pipe.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: k, Start: lo, Stop: hi, ByScore: true})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return src, unavailable("select", err)
	}
	for _, c := range cmds {
		src.ids = append(src.ids, c.Val()...)
	}
	if len(cmds) > 1 {
		src.ids = dedupe(src.ids)
	}
	return src, nil
}

func dedupe(v []string) []string {
	slices.Sort(v)
	return slices.Compact(v)
}

// clean removes ids whose record key is gone from the index zsets they came
// from. It is best effort: Purge removes them in any case.
func (s *Store) clean(ctx context.Context, keys []string, gone []string) {
	if len(keys) == 0 || len(gone) == 0 {
		return
	}
	members := make([]interface{}, len(gone))
	for i, id := range gone {
		members[i] = id
	}
	pipe := s.c.Pipeline()
	for _, k := range keys {
		pipe.ZRem(ctx, k, members...)
	}
	_, _ = pipe.Exec(ctx)
}

// filterArgs renders the filter f, whose candidates are src, as
// selectScript and tallyScript read it: purpose, issued from, issued before
// (µs or ""), consumed only, then the members and the batches, each list
// preceded by its length (0 when the candidates already satisfy it).
func filterArgs(f *store.Filter, src *source) []interface{} {
	from, before := "", ""
	if !f.IssuedFrom.IsZero() {
		from = fmtInt(store.UnixMicroCeil(f.IssuedFrom))
	}
	if !f.IssuedBefore.IsZero() {
		before = fmtInt(store.UnixMicroCeil(f.IssuedBefore))
	}
	consumed := "0"
	if f.Consumed {
		consumed = "1"
	}
	args := []interface{}{f.Purpose, from, before, consumed}
	list := func(v []string, implied bool) {
		if implied {
			v = nil
		}
		args = append(args, len(v))
		for _, x := range v {
			args = append(args, x)
		}
	}
	list(f.Members, src.byMember)
	list(f.Batches, src.byBatch)
	return args
}

// scan runs sc over the candidates of f, [selectChunk] record keys a call
// after the keys in fixed, with head then the filter as arguments. Each
// reply is a list whose last element is the positions of the record keys
// that no longer exist; each hands the rest to the caller. Index entries of
// the records that are gone are cleaned afterwards.
func (s *Store) scan(ctx context.Context, sc *goredis.Script, f *store.Filter, fixed []string, head []interface{},
	each func(res []interface{}) error) error {
	src, err := s.candidates(ctx, f)
	if err != nil {
		return err
	}
	args := append(head, filterArgs(f, &src)...)
	var calls []call
	for i := 0; i < len(src.ids); i += selectChunk {
		ids := src.ids[i:min(i+selectChunk, len(src.ids))]
		keys := append(make([]string, 0, len(fixed)+len(ids)), fixed...)
		for _, id := range ids {
			keys = append(keys, s.k.record(id))
		}
		calls = append(calls, call{keys, args})
	}
	var gone []string
	for i, r := range s.run(ctx, sc, calls) {
		if r.err != nil {
			return unavailable("select", r.err)
		}
		res, _ := r.val.([]interface{})
		if len(res) < 2 {
			// A script's short reply says why it did nothing.
			if len(res) == 1 {
				if err := each(res); err != nil {
					return err
				}
			}
			return unavailable("select", errors.New("malformed reply"))
		}
		if err := each(res[:len(res)-1]); err != nil {
			return err
		}
		missing, _ := res[len(res)-1].([]interface{})
		for _, m := range missing {
			if j, ok := m.(int64); ok && j >= 1 && int(j) <= len(calls[i].keys)-len(fixed) {
				gone = append(gone, src.ids[i*selectChunk+int(j)-1])
			}
		}
	}
	s.clean(ctx, src.keys, gone)
	return nil
}

// selectAll runs the select script in mode "c" (count) or "r" (revoke) over
// the candidates of f.
func (s *Store) selectAll(ctx context.Context, mode string, f *store.Filter, at time.Time) (int64, error) {
	var n int64
	err := s.scan(ctx, selectScript, f, []string{s.k.xc}, []interface{}{mode, fmtInt(store.UnixMicro(at))}, func(res []interface{}) error {
		if len(res) != 1 {
			return unavailable("select", errors.New("malformed reply"))
		}
		c, ok := res[0].(int64)
		if !ok {
			return unavailable("select", errors.New("malformed reply"))
		}
		n += c
		return nil
	})
	return n, err
}

// Revoke implements [store.Tokens]. Each record is checked and revoked
// atomically, by script calls of [selectChunk] records, pipelined.
func (s *Store) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	return s.selectAll(ctx, "r", &f, at)
}

// Count implements [store.Tokens].
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	return s.selectAll(ctx, "c", &f, time.Time{})
}

// Records implements [store.Tokens].
func (s *Store) Records(ctx context.Context, q store.RecordQuery) ([]store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	src, err := s.candidates(ctx, &q.Filter)
	if err != nil {
		return nil, err
	}
	ids := src.ids // sorted by dedupe, or by the single index below
	if len(src.keys) == 1 {
		slices.Sort(ids)
	}
	if q.After != "" {
		i, _ := slices.BinarySearch(ids, q.After)
		for i < len(ids) && ids[i] <= q.After {
			i++
		}
		ids = ids[i:]
	}
	limit := q.PageSize()
	out := make([]store.Record, 0, min(limit, len(ids)))
	var gone []string
	for len(ids) > 0 && len(out) < limit {
		chunk := ids[:min(max(limit-len(out), 100), len(ids))]
		ids = ids[len(chunk):]
		pipe := s.c.Pipeline()
		cmds := make([]*goredis.SliceCmd, len(chunk))
		for i, id := range chunk {
			cmds[i] = pipe.HMGet(ctx, s.k.record(id), recordFields...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, unavailable("records", err)
		}
		recs := make([]store.Record, len(chunk))
		var found []staged
		for i, c := range cmds {
			v := c.Val()
			if len(v) == len(recordFields) && v[fieldStatus] == nil {
				gone = append(gone, chunk[i])
				continue
			}
			r, err := record(chunk[i], v)
			if err != nil {
				return nil, unavailable("records", err)
			}
			recs[i] = r
			found = append(found, staged{&recs[i], stagedOf(v)})
		}
		seen, err := s.resolve(ctx, found)
		if err != nil {
			return nil, err
		}
		for _, r := range seen {
			if q.Filter.Match(r) && len(out) < limit {
				out = append(out, *r)
			}
		}
	}
	s.clean(ctx, src.keys, gone)
	return out, nil
}
