package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Hit implements [store.Counters]: one statement. The first hit of a
// bucket deletes the key's buckets before the previous one.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidateHit(key, window, at); err != nil {
		return 0, err
	}
	w, b := window.Microseconds(), store.HitBucket(window, at)
	var cur int64
	var prev sql.NullInt64
	if err := s.hit.QueryRowContext(ctx, key, w, b).Scan(&cur, &prev); err != nil {
		return 0, unavailable("hit", err)
	}
	if cur == 1 {
		if _, err := s.w.ExecContext(ctx, hitCleanSQL, key, w, b-1); err != nil {
			return 0, unavailable("hit", err)
		}
	}
	return store.HitCount(cur, prev.Int64, window, at), nil
}
