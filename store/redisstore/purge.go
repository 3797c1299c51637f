package redisstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

// dropBatchScript removes the summary of a batch whose last record was
// purged. KEYS batch counts, batch spans; ARGV batch.
var dropBatchScript = goredis.NewScript(`
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return n
`)

// Purge implements [store.Tokens]. It removes the staged Inserts that were
// abandoned, then deletes in chunks, each in one MULTI/EXEC transaction,
// the counters whose window ended before `before`, the records whose
// expiry is before it with their index entries, then the ledger entries
// recorded before it, then the entries of committed staged Inserts whose
// records all expired before it. An interrupted Purge leaves nothing that
// a later Purge does not remove.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	if err := s.sweepStaged(ctx); err != nil {
		return 0, err
	}
	if err := s.purgeHits(ctx, store.UnixMicroCeil(before)); err != nil {
		return 0, err
	}
	cut := store.UnixMicroCeil(before)
	n, err := s.purgeRecords(ctx, cut)
	if err != nil {
		return n, err
	}
	if err := s.purgeLedger(ctx, cut); err != nil {
		return n, err
	}
	return n, s.purgeCommitted(ctx, cut)
}

// purgeRecords deletes the records that expired before cut (µs) and
// returns how many visible ones it deleted.
func (s *Store) purgeRecords(ctx context.Context, cut int64) (int64, error) {
	var n int64
	touched := map[string]bool{}
	committed := map[string]bool{}
	for {
		ms, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.k.exp, Start: "-inf", Stop: "(" + fmtInt(cut), ByScore: true, Count: 1000}).Result()
		if err != nil {
			return n, unavailable("purge", err)
		}
		if len(ms) == 0 {
			break
		}
		entries := make([]expiry, len(ms))
		ok := make([]bool, len(ms))
		var xs []string
		for i, m := range ms {
			if entries[i], ok[i] = parseExpiryMember(m); ok[i] && entries[i].staged != "" {
				xs = append(xs, entries[i].staged)
			}
		}
		if err := s.committed(ctx, committed, xs); err != nil {
			return n, err
		}
		var dels []*goredis.IntCmd
		_, err = s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for i, m := range ms {
				p.ZRem(ctx, s.k.exp, m)
				if !ok[i] {
					continue
				}
				e := &entries[i]
				id, member, batch := e.id, e.member, e.batch
				del := p.Del(ctx, s.k.record(id))
				p.ZRem(ctx, s.k.all, id)
				p.ZRem(ctx, s.k.memberIndex(member), id)
				if batch != "" {
					p.ZRem(ctx, s.k.batchIndex(batch), id)
				}
				if e.staged != "" && !committed[e.staged] {
					continue // never visible: not counted
				}
				dels = append(dels, del)
				if batch != "" {
					p.HIncrBy(ctx, s.k.bn, batch, -1)
					touched[batch] = true
				}
			}
			return nil
		})
		if err != nil {
			return n, unavailable("purge", err)
		}
		for _, d := range dels {
			n += d.Val()
		}
	}
	for b := range touched {
		if err := dropBatchScript.Run(ctx, s.c, []string{s.k.bn, s.k.bt}, b).Err(); err != nil {
			return n, unavailable("purge", err)
		}
	}
	return n, nil
}

// purgeLedger deletes the ledger entries recorded before cut (µs).
func (s *Store) purgeLedger(ctx context.Context, cut int64) error {
	hi := "(" + timeKey(cut)
	for {
		ms, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.k.led, Start: "-", Stop: hi, ByLex: true, Count: 1000}).Result()
		if err != nil {
			return unavailable("purge", err)
		}
		if len(ms) == 0 {
			return nil
		}
		payloads, err := s.c.HMGet(ctx, s.k.ev, ms...).Result()
		if err != nil {
			return unavailable("purge", err)
		}
		_, err = s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for i, m := range ms {
				if pl, ok := payloads[i].(string); ok {
					if e, _, err := decEvent(pl); err == nil {
						if e.Batch != "" {
							p.ZRem(ctx, s.k.batchLedger(e.Batch), m)
						}
						if e.Member != "" {
							p.ZRem(ctx, s.k.memberLedger(e.Member), m)
						}
					}
					p.HDel(ctx, s.k.ev, m)
				}
				p.ZRem(ctx, s.k.led, m)
			}
			return nil
		})
		if err != nil {
			return unavailable("purge", err)
		}
	}
}

// purgeCommitted forgets the committed staged Inserts whose records all
// expired before cut (µs): those records, and their issued entries, are
// purged.
func (s *Store) purgeCommitted(ctx context.Context, cut int64) error {
	all, err := s.c.HGetAll(ctx, s.k.xc).Result()
	if err != nil {
		return unavailable("purge", err)
	}
	var done []string
	for x, v := range all {
		_, last, _ := strings.Cut(v, ":")
		if us, err := strconv.ParseInt(last, 10, 64); err == nil && us < cut {
			done = append(done, x)
		}
	}
	if len(done) > 0 {
		if err := s.c.HDel(ctx, s.k.xc, done...).Err(); err != nil {
			return unavailable("purge", err)
		}
	}
	return nil
}
