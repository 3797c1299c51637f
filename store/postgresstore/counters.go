package postgresstore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Hit implements [store.Counters]: one statement that upserts the hit's
// bucket, returns its count and the previous bucket's, and deletes the
// key's older buckets. The counters are in an UNLOGGED table (migration 4):
// a crash of the server or a failover starts every window anew.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("hit", err)
	}
	if err := store.ValidateHit(key, window, at); err != nil {
		return 0, err
	}
	w, b := window.Microseconds(), store.HitBucket(window, at)
	var (
		cur  int64
		prev *int64
	)
	if err := s.pool.QueryRow(ctx, s.sql.hit, key, w, b).Scan(&cur, &prev); err != nil {
		return 0, s.unavailable("hit", err)
	}
	var p int64
	if prev != nil {
		p = *prev
	}
	return store.HitCount(cur, p, window, at), nil
}
