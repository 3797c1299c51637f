package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Hit implements [store.Counters] with one CALL, one round trip: the hit
// procedure counts the hit in its bucket under the bucket's row lock and
// returns the bucket's count and the previous bucket's, in one
// transaction. The first hit of a bucket deletes the key's buckets before
// the previous one.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("hit", err)
	}
	if err := store.ValidateHit(key, window, at); err != nil {
		return 0, err
	}
	var (
		cur  int64
		prev sql.NullInt64
	)
	found, err := s.callRow(ctx, s.sql.hit, func(rows *sql.Rows) error { return rows.Scan(&cur, &prev) },
		key, window.Microseconds(), store.HitBucket(window, at))
	if err == nil && !found {
		err = errors.New("the hit procedure returned no count")
	}
	if err != nil {
		return 0, s.unavailable("hit", err)
	}
	return store.HitCount(cur, prev.Int64, window, at), nil
}
