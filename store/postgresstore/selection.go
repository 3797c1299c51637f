package postgresstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncelink/oncelink/store"
)

// where renders a valid filter as a condition on tokens, appending its
// arguments.
func where(f *store.Filter, args []any) (string, []any) {
	if f.All {
		return "TRUE", args
	}
	var conds []string
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if len(f.IDs) > 0 {
		add("id = ANY($?::uuid[])", f.IDs)
	}
	if len(f.Members) > 0 {
		add("member = ANY($?::text[])", f.Members)
	}
	if len(f.Batches) > 0 {
		// batch <> '' lets a generic plan use the partial batch index.
		add("batch = ANY($?::text[]) AND batch <> ''", f.Batches)
	}
	if f.Purpose != "" {
		add("purpose = $?", f.Purpose)
	}
	if !f.IssuedFrom.IsZero() {
		add("issued_at >= $?", store.MicroCeil(f.IssuedFrom))
	}
	if !f.IssuedBefore.IsZero() {
		add("issued_at < $?", store.MicroCeil(f.IssuedBefore))
	}
	if f.Consumed {
		conds = append(conds, "consumed_at IS NOT NULL")
	}
	return strings.Join(conds, " AND "), args
}

// Revoke implements [store.Tokens] in one UPDATE.
func (s *Store) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("revoke", err)
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	cond, args := where(&f, []any{store.Micro(at)})
	tag, err := s.pool.Exec(ctx, s.sql.revoke+cond, args...)
	if err != nil {
		return 0, s.unavailable("revoke", err)
	}
	return tag.RowsAffected(), nil
}

// Records implements [store.Tokens].
func (s *Store) Records(ctx context.Context, q store.RecordQuery) ([]store.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("records", err)
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	cond, args := where(&q.Filter, nil)
	if q.After != "" {
		args = append(args, q.After)
		cond += " AND id > $" + strconv.Itoa(len(args)) + "::uuid"
	}
	args = append(args, q.PageSize())
	sql := s.sql.records + cond + " ORDER BY id LIMIT $" + strconv.Itoa(len(args))
	rows, _ := s.pool.Query(ctx, sql, args...)
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Record, error) {
		var r store.Record
		err := scanRecord(row, &r)
		return r, err
	})
	if err != nil {
		return nil, s.unavailable("records", err)
	}
	return recs, nil
}

// Count implements [store.Tokens].
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("count", err)
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	cond, args := where(&f, nil)
	var n int64
	if err := s.pool.QueryRow(ctx, s.sql.count+cond, args...).Scan(&n); err != nil {
		return 0, s.unavailable("count", err)
	}
	return n, nil
}

// Purge implements [store.Tokens] in one statement: records and ledger
// entries go together or not at all.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("purge", err)
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	var n int64
	if err := s.pool.QueryRow(ctx, s.sql.purge, store.MicroCeil(before), store.UnixMicroCeil(before)).Scan(&n); err != nil {
		return 0, s.unavailable("purge", err)
	}
	return n, nil
}

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
