package mysqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// where renders a valid filter as a condition on tokens, appending its
// arguments in the order of their placeholders.
func where(f *store.Filter, args []any) (string, []any) {
	if f.All {
		return "TRUE", args
	}
	var conds []string
	in := func(col string, n int) string {
		return col + " IN (" + strings.Repeat("?, ", n-1) + "?)"
	}
	if len(f.IDs) > 0 {
		conds = append(conds, in("id", len(f.IDs)))
		for _, id := range f.IDs {
			b, _ := store.ParseID(id)
			args = append(args, b[:])
		}
	}
	if len(f.Members) > 0 {
		conds = append(conds, in("member", len(f.Members)))
		for _, m := range f.Members {
			args = append(args, m)
		}
	}
	if len(f.Batches) > 0 {
		conds = append(conds, in("batch", len(f.Batches)))
		for _, b := range f.Batches {
			args = append(args, b)
		}
	}
	if f.Purpose != "" {
		conds = append(conds, "purpose = ?")
		args = append(args, f.Purpose)
	}
	if !f.IssuedFrom.IsZero() {
		conds = append(conds, "issued_at >= ?")
		args = append(args, store.MicroCeil(f.IssuedFrom))
	}
	if !f.IssuedBefore.IsZero() {
		conds = append(conds, "issued_at < ?")
		args = append(args, store.MicroCeil(f.IssuedBefore))
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
	var n int64
	err := retry(ctx, func() error {
		res, err := s.db.ExecContext(ctx, s.sql.revoke+cond, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.unavailable("revoke", err)
	}
	return n, nil
}

// collect runs a query and reads every row with scan.
func collect[T any](ctx context.Context, db *sql.DB, query string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
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
		after, _ := store.ParseID(q.After)
		cond += " AND id > ?"
		args = append(args, after[:])
	}
	args = append(args, q.PageSize())
	recs, err := collect(ctx, s.db, s.sql.records+cond+" ORDER BY id LIMIT ?", args, func(rows *sql.Rows) (store.Record, error) {
		var r store.Record
		err := scanRecord(rows, &r)
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
	if err := s.db.QueryRowContext(ctx, s.sql.count+cond, args...).Scan(&n); err != nil {
		return 0, s.unavailable("count", err)
	}
	return n, nil
}

// Purge implements [store.Tokens] in one transaction: records, ledger
// entries, counts of windows that ended before the cut-off, and guards
// left with neither a hold nor a watermark go together or not at all.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("purge", err)
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	cut := store.MicroCeil(before)
	var n int64
	err := retry(ctx, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.sql.purgeTokens, cut)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.sql.purgeEvents, cut); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.sql.purgeHits, store.UnixMicroCeil(before)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.sql.purgeGuards)
			return err
		})
	})
	if err != nil {
		return 0, s.unavailable("purge", err)
	}
	return n, nil
}
