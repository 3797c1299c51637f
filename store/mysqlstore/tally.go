package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Tally implements [store.Tallier] in one grouped SELECT, one consistent
// read: each record the filter selects is counted by the outcome the
// check procedure's rules give it at time at, without the secret and the
// state, as [store.Decide] does.
func (s *Store) Tally(ctx context.Context, f store.Filter, at time.Time) (store.Tally, error) {
	if err := ctx.Err(); err != nil {
		return store.Tally{}, s.unavailable("tally", err)
	}
	if err := f.Validate(); err != nil {
		return store.Tally{}, err
	}
	if at.IsZero() {
		return store.Tally{}, fmt.Errorf("%w: tally needs a time", store.ErrInvalid)
	}
	cond, args := where(&f, []any{store.Micro(at)})
	type group struct{ outcome, n int64 }
	groups, err := collect(ctx, s.db, s.sql.tally+cond+sqlTallyEnd, args, func(rows *sql.Rows) (group, error) {
		var g group
		err := rows.Scan(&g.outcome, &g.n)
		return g, err
	})
	if err != nil {
		return store.Tally{}, s.unavailable("tally", err)
	}
	var t store.Tally
	for _, g := range groups {
		switch g.outcome {
		case outcomeOK:
			t.Issued += g.n
		case outcomeFrozen:
			t.Frozen += g.n
		case outcomeUsed:
			t.Consumed += g.n
		case outcomeRevoked:
			t.Revoked += g.n
		case outcomeExpired:
			t.Expired += g.n
		default:
			return store.Tally{}, fmt.Errorf("%w: mysqlstore: tally: unexpected outcome %d", store.ErrUnavailable, g.outcome)
		}
	}
	return t, nil
}

// Batches implements [store.BatchLister] in one grouped SELECT over the
// index on (batch, issued_at).
func (s *Store) Batches(ctx context.Context, q store.BatchQuery) ([]store.BatchSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("batches", err)
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	out, err := collect(ctx, s.db, s.sql.batches, []any{q.After, q.PageSize()}, func(rows *sql.Rows) (store.BatchSummary, error) {
		var b store.BatchSummary
		err := rows.Scan(&b.Batch, &b.Links, &b.FirstIssued, &b.LastIssued)
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
