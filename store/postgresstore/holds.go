package postgresstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/oncelink/oncelink/store"
)

// guardKey is the key of a hold or watermark in the guards table: the
// scope's digit followed by the batch or member id.
func guardKey(scope store.Scope, key string) string {
	return strconv.Itoa(int(scope)) + key
}

// Freeze implements [store.Holds].
func (s *Store) Freeze(ctx context.Context, h store.Hold) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("freeze", err)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if len(h.Reason) > store.MaxReasonLen {
		return fmt.Errorf("%w: postgres: hold reason longer than %d bytes", store.ErrInvalid, store.MaxReasonLen)
	}
	if _, err := s.pool.Exec(ctx, s.sql.freeze, guardKey(h.Scope, h.Key), store.Micro(h.Since), h.Reason); err != nil {
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
	tag, err := s.pool.Exec(ctx, s.sql.thaw, guardKey(scope, key))
	if err != nil {
		return false, s.unavailable("thaw", err)
	}
	return tag.RowsAffected() > 0, nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("holds", err)
	}
	rows, _ := s.pool.Query(ctx, s.sql.holds)
	holds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Hold, error) {
		var (
			h      store.Hold
			k      string
			reason *string
		)
		err := row.Scan(&k, &h.Since, &reason)
		if err == nil && k != "" {
			h.Scope, h.Key = store.Scope(k[0]-'0'), k[1:]
		}
		h.Since, h.Reason = h.Since.UTC(), deref(reason)
		return h, err
	})
	if err != nil {
		return nil, s.unavailable("holds", err)
	}
	return holds, nil
}
