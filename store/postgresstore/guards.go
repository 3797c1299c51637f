package postgresstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncelink/oncelink/store"
)

var _ store.BatchLister = (*Store)(nil)

// Watermark implements [store.Tokens] in one upsert.
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("watermark", err)
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.sql.watermark, markKey(member), store.MicroCeil(before)); err != nil {
		return s.unavailable("watermark", err)
	}
	return nil
}

// WatermarkNow implements [store.Tokens] in one upsert that draws the next
// number of the schema's sequence: every Insert that drew its number
// before is covered, whether it has committed yet or not, and every Insert
// that starts after draws a greater one.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctx.Err(); err != nil {
		return store.Mark{}, s.unavailable("watermark", err)
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	var before *time.Time
	var seq *int64
	if err := s.pool.QueryRow(ctx, s.sql.watermarkNow, markKey(member)).Scan(&before, &seq); err != nil {
		return store.Mark{}, s.unavailable("watermark", err)
	}
	return markOf(member, before, seq), nil
}

// markKey is the guard key of a member's watermark, or of the global one.
func markKey(member string) string {
	if member == "" {
		return guardKey(store.ScopeGlobal, "")
	}
	return guardKey(store.ScopeMember, member)
}

func markOf(member string, before *time.Time, seq *int64) store.Mark {
	m := store.Mark{Member: member}
	if before != nil {
		m.Before = before.UTC()
	}
	if seq != nil {
		m.Seq = *seq
	}
	return m
}

// Marks implements [store.Tokens].
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("marks", err)
	}
	rows, _ := s.pool.Query(ctx, s.sql.marks)
	marks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Mark, error) {
		var (
			member string
			before *time.Time
			seq    *int64
		)
		err := row.Scan(&member, &before, &seq)
		return markOf(member, before, seq), err
	})
	if err != nil {
		return nil, s.unavailable("marks", err)
	}
	return marks, nil
}

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

// decideExpr is store.Decide in SQL, on the record t at the time $1: the
// same rules as outcomeExpr without the secret and the state.
const decideExpr = `CASE
		WHEN t.status = 3 OR EXISTS (SELECT 1 FROM %[1]s.guards g
			WHERE g.k = ANY (ARRAY['1', '3' || t.member]) AND (g.cutoff > t.issued_at OR g.cutoff_seq > t.seq)) THEN 3
		WHEN t.status = 2 THEN 4
		WHEN t.expires_at <= $1 THEN 5
		WHEN EXISTS (SELECT 1 FROM %[1]s.guards g
			WHERE g.k = ANY (ARRAY['1', '2' || t.batch, '3' || t.member]) AND g.held) THEN 6
		ELSE 0 END`

// Tally implements [store.Tallier] in one grouped SELECT, in one snapshot.
func (s *Store) Tally(ctx context.Context, f store.Filter, at time.Time) (store.Tally, error) {
	if err := ctx.Err(); err != nil {
		return store.Tally{}, s.unavailable("tally", err)
	}
	if err := f.Validate(); err != nil {
		return store.Tally{}, err
	}
	cond, args := where(&f, []any{store.Micro(at)})
	q := fmt.Sprintf("SELECT "+decideExpr+", count(*) FROM %[1]s.tokens t WHERE "+cond+" GROUP BY 1", pgx.Identifier{s.schema}.Sanitize())
	rows, _ := s.pool.Query(ctx, q, args...)
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
