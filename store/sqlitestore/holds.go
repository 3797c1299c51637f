package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/oncelink/oncelink/store"
)

// Freeze implements [store.Holds]: an insert that keeps an existing hold.
func (s *Store) Freeze(ctx context.Context, h store.Hold) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, freezeSQL, int64(h.Scope), h.Key, micro(h.Since), h.Reason)
	if err != nil {
		return unavailable("freeze", err)
	}
	return nil
}

// Thaw implements [store.Holds]: one DELETE.
func (s *Store) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, err
	}
	res, err := s.w.ExecContext(ctx, thawSQL, int64(scope), key)
	if err != nil {
		return false, unavailable("thaw", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, unavailable("thaw", err)
	}
	return n > 0, nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, holdsSQL)
	if err != nil {
		return nil, unavailable("holds", err)
	}
	defer rows.Close()
	out := []store.Hold{}
	for rows.Next() {
		var h store.Hold
		var scope int64
		var since sql.NullInt64
		if err := rows.Scan(&scope, &h.Key, &since, &h.Reason); err != nil {
			return nil, unavailable("holds", err)
		}
		h.Scope, h.Since = store.Scope(scope), fromMicro(since)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("holds", err)
	}
	return out, nil
}
