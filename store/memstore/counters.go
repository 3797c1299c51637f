package memstore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

// hitKey names the count of one key, window length and bucket.
type hitKey struct {
	key    string
	window time.Duration
	bucket int64
}

// Hit implements [store.Counters]. The counts of a key's windows before the
// previous one are deleted as it is hit; [Store.Purge] deletes the rest.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidateHit(key, window, at); err != nil {
		return 0, err
	}
	b := store.HitBucket(window, at)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := hitKey{key, window, b}
	s.hits[k]++
	cur := s.hits[k]
	delete(s.hits, hitKey{key, window, b - 2})
	return store.HitCount(cur, s.hits[hitKey{key, window, b - 1}], window, at), nil
}
