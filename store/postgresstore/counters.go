package postgresstore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Hit implements [store.Counters]: one upsert that returns the count of the
// hit's bucket and of the bucket before. The first hit of a bucket deletes
// the key's buckets before the previous one.
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
	if cur == 1 {
		if _, err := s.pool.Exec(ctx, s.sql.hitClean, key, w, b); err != nil {
			return 0, s.unavailable("hit", err)
		}
	}
	var p int64
	if prev != nil {
		p = *prev
	}
	return store.HitCount(cur, p, window, at), nil
}
