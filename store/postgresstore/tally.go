package postgresstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncelink/oncelink/store"
)

var _ store.BatchLister = (*Store)(nil)

// Batches implements [store.BatchLister] in one grouped SELECT.
func (s *Store) Batches(ctx context.Context, q store.BatchQuery) ([]store.BatchSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("batches", err)
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, s.sql.batches, q.After, q.PageSize())
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.BatchSummary, error) {
		var b store.BatchSummary
		err := row.Scan(&b.Batch, &b.Links, &b.FirstIssued, &b.LastIssued)
		b.FirstIssued, b.LastIssued = b.FirstIssued.UTC(), b.LastIssued.UTC()
		return b, err
	})
	if err != nil {
		return nil, s.unavailable("batches", err)
	}
	if out == nil {
		out = []store.BatchSummary{}
	}
	return out, nil
}

var _ store.Tallier = (*Store)(nil)

// Tally implements [store.Tallier] in one grouped SELECT, in one snapshot.
func (s *Store) Tally(ctx context.Context, f store.Filter, at time.Time) (store.Tally, error) {
	if err := ctx.Err(); err != nil {
		return store.Tally{}, s.unavailable("tally", err)
	}
	if err := f.Validate(); err != nil {
		return store.Tally{}, err
	}
	cond, args := where(&f, []any{store.Micro(at)})
	rows, _ := s.pool.Query(ctx, s.sql.tally+cond+" GROUP BY 1", args...)
	var (
		t       store.Tally
		outcome int16
		n       int64
	)
	_, err := pgx.ForEachRow(rows, []any{&outcome, &n}, func() error { return addOutcome(&t, outcome, n) })
	if err != nil {
		return store.Tally{}, s.unavailable("tally", err)
	}
	return t, nil
}

// addOutcome counts n records of an outcome code into t.
func addOutcome(t *store.Tally, outcome int16, n int64) error {
	switch outcome {
	case outcomeOK:
		t.Issued += n
	case outcomeFrozen:
		t.Frozen += n
	case outcomeUsed:
		t.Consumed += n
	case outcomeRevoked:
		t.Revoked += n
	case outcomeExpired:
		t.Expired += n
	default:
		return fmt.Errorf("unknown outcome %d", outcome)
	}
	return nil
}
