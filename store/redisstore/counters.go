package redisstore

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

// Hit implements [store.Counters]: one script call, which increments the
// bucket's key and reads the previous bucket's. A bucket's key expires two
// windows after its first hit, when the bucket after it has ended for a
// caller on the real clock, so that Redis forgets old counts by itself; an
// index of the buckets by their end lets Purge delete them sooner.
//
// Like every operation on links, Hit refuses with [ErrDamaged] when the
// store's control key is missing: whatever lost that key may have lost the
// counts too, and a throttle that counted again from nothing would let
// through what it was holding back.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidateHit(key, window, at); err != nil {
		return 0, err
	}
	w, b := window.Microseconds(), store.HitBucket(window, at)
	ttl := 2*window.Milliseconds() + 1000
	v, err := hitScript.Run(ctx, s.c, []string{s.k.hit(key, w, b), s.k.hit(key, w, b-1), s.k.hits, s.k.ctl}, ttl, (b+1)*w).Result()
	if err != nil {
		return 0, unavailable("hit", err)
	}
	res, _ := v.([]interface{})
	if len(res) == 1 && res[0] == int64(replyDamaged) {
		return 0, errDamaged("hit")
	}
	if len(res) != 2 {
		return 0, unavailable("hit", errors.New("malformed reply"))
	}
	cur, ok1 := res[0].(int64)
	prev, ok2 := res[1].(int64)
	if !ok1 || !ok2 {
		return 0, unavailable("hit", errors.New("malformed reply"))
	}
	return store.HitCount(cur, prev, window, at), nil
}

// purgeHits deletes the buckets that ended before cut (µs).
func (s *Store) purgeHits(ctx context.Context, cut int64) error {
	for {
		ks, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.k.hits, Start: "-inf", Stop: "(" + fmtInt(cut), ByScore: true, Count: 1000}).Result()
		if err != nil {
			return unavailable("purge", err)
		}
		if len(ks) == 0 {
			return nil
		}
		_, err = s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Unlink(ctx, ks...)
			members := make([]interface{}, len(ks))
			for i, k := range ks {
				members[i] = k
			}
			p.ZRem(ctx, s.k.hits, members...)
			return nil
		})
		if err != nil {
			return unavailable("purge", err)
		}
	}
}
