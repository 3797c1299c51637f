package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/oncelink/oncelink/store"
)

// hitSQL counts one hit and returns the count of its bucket and of the
// bucket before, in one statement on the write connection.
const hitSQL = `INSERT INTO hits (k, w, bucket, n) VALUES (?1, ?2, ?3, 1)
ON CONFLICT (k, w, bucket) DO UPDATE SET n = n + 1
RETURNING n, (SELECT p.n FROM hits AS p WHERE p.k = ?1 AND p.w = ?2 AND p.bucket = ?3 - 1)`

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
		if _, err := s.w.ExecContext(ctx, "DELETE FROM hits WHERE k = ? AND w = ? AND bucket < ?", key, w, b-1); err != nil {
			return 0, unavailable("hit", err)
		}
	}
	return store.HitCount(cur, prev.Int64, window, at), nil
}
