package redisstore_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store/storetest"
)

// rawConsume is the floor a consume is measured against: one script that
// checks a key's value and deletes it, the least a single-use check costs.
var rawConsume = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`)

func BenchmarkConsume(b *testing.B) {
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("oncelink/goroutines=%d", g), func(b *testing.B) {
			s, _, _ := newStore(b)
			storetest.BenchConsume(b, s, g)
		})
	}
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("raw/goroutines=%d", g), func(b *testing.B) {
			c := client(b)
			prefix := randomPrefix(b)
			b.Cleanup(func() { wipe(b, c, prefix) })
			ctx := context.Background()
			recs, _ := storetest.Tokens(b, b.N, "raw")
			keys := make([]string, len(recs))
			for i := 0; i < len(recs); i += 10000 {
				pipe := c.Pipeline()
				for j := i; j < min(i+10000, len(recs)); j++ {
					keys[j] = "{" + prefix + "}:raw:" + recs[j].ID
					pipe.Set(ctx, keys[j], recs[j].SecretHash[:], 0)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if err := rawConsume.Load(ctx, c).Err(); err != nil {
				b.Fatal(err)
			}
			order := mrand.Perm(len(recs)) // as the store's benchmark: links clicked in no order
			storetest.Parallel(b, g, func(i int) error {
				k := order[i]
				n, err := rawConsume.Run(ctx, c, keys[k:k+1], recs[k].SecretHash[:]).Int64()
				if err == nil && n != 1 {
					err = fmt.Errorf("raw consume of %s refused", recs[k].ID)
				}
				return err
			})
		})
	}
}

func BenchmarkInsert100k(b *testing.B) {
	const n = 100000
	b.Run("oncelink", func(b *testing.B) {
		s, _, _ := newStore(b)
		storetest.BenchInsert(b, s, n)
	})
	b.Run("mintbatch", func(b *testing.B) {
		s, _, _ := newStore(b)
		teststores.BenchMintBatch(b, s, n)
	})
	// raw: one pipeline of HSETs of the same fields, nothing else: no index,
	// no ledger, no expiry, no duplicate check.
	b.Run("raw", func(b *testing.B) {
		c := client(b)
		prefix := randomPrefix(b)
		b.Cleanup(func() { wipe(b, c, prefix) })
		ctx := context.Background()
		b.StopTimer()
		for it := 0; it < b.N; it++ {
			recs, _ := storetest.Tokens(b, n, fmt.Sprintf("raw-%d", it))
			b.StartTimer()
			pipe := c.Pipeline()
			for i := range recs {
				r := &recs[i]
				pipe.HSet(ctx, "{"+prefix+"}:raw:"+r.ID, "m", r.Member, "p", r.Purpose, "b", r.Batch,
					"r", r.Recipient, "h", r.SecretHash[:], "s", r.State,
					"i", r.IssuedAt.UnixMicro(), "e", r.ExpiresAt.UnixMicro(), "st", 1)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
