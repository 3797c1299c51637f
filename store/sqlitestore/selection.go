package sqlitestore

import (
	"context"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Watermark implements [store.Tokens]: one upsert that keeps the later time.
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, watermarkSQL, member, store.UnixMicroCeil(before))
	if err != nil {
		return unavailable("watermark", err)
	}
	return nil
}

// WatermarkNow implements [store.Tokens]: one IMMEDIATE transaction that
// draws the next number of the sequence and keeps the greater mark. It
// holds the write lock, so every Insert committed before it has a smaller
// number and every later one a greater.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Mark{}, err
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Mark{}, unavailable("watermark", err)
	}
	defer tx.Rollback()
	var seq, at int64
	if err := tx.QueryRowContext(ctx, nextSeqSQL).Scan(&seq); err != nil {
		return store.Mark{}, unavailable("watermark", err)
	}
	err = tx.QueryRowContext(ctx, watermarkNowSQL, member, seq).Scan(&at, &seq)
	if err != nil {
		return store.Mark{}, unavailable("watermark", err)
	}
	if err := tx.Commit(); err != nil {
		return store.Mark{}, unavailable("watermark", err)
	}
	return markOf(member, at, seq), nil
}

// markOf is a row of marks as a [store.Mark]: before_at 0 is no time.
func markOf(member string, at, seq int64) store.Mark {
	return store.Mark{Member: member, Before: store.FromUnixMicro(at), Seq: seq}
}

// Marks implements [store.Tokens].
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, marksSQL)
	if err != nil {
		return nil, unavailable("marks", err)
	}
	defer rows.Close()
	var out []store.Mark
	for rows.Next() {
		var member string
		var at, seq int64
		if err := rows.Scan(&member, &at, &seq); err != nil {
			return nil, unavailable("marks", err)
		}
		out = append(out, markOf(member, at, seq))
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("marks", err)
	}
	return out, nil
}

// where renders a valid filter as an SQL condition on tokens.
func where(f *store.Filter) (string, []any) {
	if f.All {
		return "1", nil
	}
	var conds []string
	var args []any
	in := func(col string, n int) {
		conds = append(conds, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", n), ",")+")")
	}
	if len(f.IDs) > 0 {
		in("id", len(f.IDs))
		for _, v := range f.IDs {
			id, _ := parseID(v)
			args = append(args, id)
		}
	}
	if len(f.Members) > 0 {
		in("member", len(f.Members))
		for _, v := range f.Members {
			args = append(args, v)
		}
	}
	if len(f.Batches) > 0 {
		in("batch", len(f.Batches))
		for _, v := range f.Batches {
			args = append(args, v)
		}
	}
	if f.Purpose != "" {
		conds = append(conds, "purpose = ?")
		args = append(args, f.Purpose)
	}
	if !f.IssuedFrom.IsZero() {
		conds = append(conds, "issued_at >= ?")
		args = append(args, store.UnixMicroCeil(f.IssuedFrom))
	}
	if !f.IssuedBefore.IsZero() {
		conds = append(conds, "issued_at < ?")
		args = append(args, store.UnixMicroCeil(f.IssuedBefore))
	}
	if f.Consumed {
		conds = append(conds, "consumed_at IS NOT NULL")
	}
	return strings.Join(conds, " AND "), args
}

// Revoke implements [store.Tokens]: one UPDATE statement.
func (s *Store) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	cond, args := where(&f)
	res, err := s.w.ExecContext(ctx, revokeSQL+cond,
		append([]any{micro(at)}, args...)...)
	if err != nil {
		return 0, unavailable("revoke", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("revoke", err)
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
	cond, args := where(&q.Filter)
	if q.After != "" {
		after, _ := parseID(q.After)
		cond += " AND id > ?"
		args = append(args, after)
	}
	args = append(args, q.PageSize())
	recs, err := queryRecords(s.r.QueryContext(ctx, recordsSQL+cond+" ORDER BY id LIMIT ?", args...))
	if err != nil {
		return nil, unavailable("records", err)
	}
	return recs, nil
}

// Count implements [store.Tokens].
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	cond, args := where(&f)
	var n int64
	if err := s.r.QueryRowContext(ctx, countSQL+cond, args...).Scan(&n); err != nil {
		return 0, unavailable("count", err)
	}
	return n, nil
}

// Purge implements [store.Tokens]: two DELETE statements in one
// transaction.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	cut := store.UnixMicroCeil(before)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, unavailable("purge", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, purgeTokensSQL, cut)
	if err != nil {
		return 0, unavailable("purge", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("purge", err)
	}
	if _, err := tx.ExecContext(ctx, purgeEventsSQL, cut); err != nil {
		return 0, unavailable("purge", err)
	}
	if _, err := tx.ExecContext(ctx, purgeHitsSQL, cut); err != nil {
		return 0, unavailable("purge", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, unavailable("purge", err)
	}
	return n, nil
}
