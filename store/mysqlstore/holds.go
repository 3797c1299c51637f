package mysqlstore

import (
	"context"
	"database/sql"

	"github.com/oncelink/oncelink/store"
)

// Freeze implements [store.Holds] in one upsert that keeps a hold in
// place.
func (s *Store) Freeze(ctx context.Context, h store.Hold) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("freeze", err)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	err := retry(ctx, func() error {
		_, err := s.db.ExecContext(ctx, s.sql.freeze, int(h.Scope), h.Key, timeArg(h.Since), h.Reason)
		return err
	})
	if err != nil {
		return s.unavailable("freeze", err)
	}
	return nil
}

// Thaw implements [store.Holds].
func (s *Store) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, s.unavailable("thaw", err)
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, err
	}
	var n int64
	err := retry(ctx, func() error {
		res, err := s.db.ExecContext(ctx, s.sql.thaw, int(scope), key)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, s.unavailable("thaw", err)
	}
	return n > 0, nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("holds", err)
	}
	holds, err := collect(ctx, s.db, s.sql.holds, nil, func(rows *sql.Rows) (store.Hold, error) {
		var (
			h      store.Hold
			scope  int
			since  sql.NullTime
			reason sql.NullString
		)
		err := rows.Scan(&scope, &h.Key, &since, &reason)
		h.Scope, h.Since, h.Reason = store.Scope(scope), since.Time.UTC(), reason.String
		return h, err
	})
	if err != nil {
		return nil, s.unavailable("holds", err)
	}
	return holds, nil
}
