package sqlitestore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

var _ store.BatchLister = (*Store)(nil)

// Batches implements [store.BatchLister]: one grouped read of the batch
// index.
func (s *Store) Batches(ctx context.Context, q store.BatchQuery) ([]store.BatchSummary, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, batchesSQL, q.After, q.PageSize())
	if err != nil {
		return nil, unavailable("batches", err)
	}
	defer rows.Close()
	out := []store.BatchSummary{}
	for rows.Next() {
		var b store.BatchSummary
		var first, last int64
		if err := rows.Scan(&b.Batch, &b.Links, &first, &last); err != nil {
			return nil, unavailable("batches", err)
		}
		b.FirstIssued, b.LastIssued = store.FromUnixMicro(first), store.FromUnixMicro(last)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("batches", err)
	}
	return out, nil
}

var _ store.Tallier = (*Store)(nil)

// Tally implements [store.Tallier]: one grouped SELECT on a read
// connection, in one snapshot.
func (s *Store) Tally(ctx context.Context, f store.Filter, at time.Time) (store.Tally, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Tally{}, err
	}
	if err := f.Validate(); err != nil {
		return store.Tally{}, err
	}
	cond, args := where(&f)
	rows, err := s.r.QueryContext(ctx, tallySQL+cond+" GROUP BY 1",
		append([]any{store.UnixMicro(at)}, args...)...)
	if err != nil {
		return store.Tally{}, unavailable("tally", err)
	}
	defer rows.Close()
	var t store.Tally
	for rows.Next() {
		var outcome, n int64
		if err := rows.Scan(&outcome, &n); err != nil {
			return store.Tally{}, unavailable("tally", err)
		}
		switch outcome {
		case 0:
			t.Issued += n
		case 3:
			t.Revoked += n
		case 4:
			t.Consumed += n
		case 5:
			t.Expired += n
		case 6:
			t.Frozen += n
		}
	}
	if err := rows.Err(); err != nil {
		return store.Tally{}, unavailable("tally", err)
	}
	return t, nil
}
