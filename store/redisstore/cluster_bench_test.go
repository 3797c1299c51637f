package redisstore

import (
	"context"
	"fmt"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store/storetest"
)

// BenchmarkConsumeCluster measures Consume on a Redis Cluster of three
// masters with a replica each, with and without waiting for the replica's
// confirmation, beside the raw single script on the same cluster.
func BenchmarkConsumeCluster(b *testing.B) {
	tc := startCluster(b, 3, false)
	c := tc.client(b)
	for _, g := range []int{1, 16} {
		for _, mode := range []struct {
			name string
			opt  Option
		}{{"acks=1", WithReplicaAcks(1, DefaultReplicaAckTimeout)}, {"acks=0", UnsafeWithoutReplicaAcks()}} {
			b.Run(fmt.Sprintf("oncelink/%s/goroutines=%d", mode.name, g), func(b *testing.B) {
				s, err := New(context.Background(), c, WithPrefix(testPrefix(b)), mode.opt)
				if err != nil {
					b.Fatal(err)
				}
				storetest.BenchConsume(b, s, g)
			})
		}
		b.Run(fmt.Sprintf("raw/goroutines=%d", g), func(b *testing.B) {
			ctx := context.Background()
			prefix := testPrefix(b)
			recs, _ := storetest.Tokens(b, b.N, "raw")
			pipe := c.Pipeline()
			keys := make([]string, len(recs))
			for i := range recs {
				keys[i] = "{" + prefix + "}:raw:" + recs[i].ID
				pipe.Set(ctx, keys[i], recs[i].SecretHash[:], 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			storetest.Parallel(b, g, func(i int) error {
				n, err := rawClusterConsume.Run(ctx, c, keys[i:i+1], recs[i].SecretHash[:]).Int64()
				if err == nil && n != 1 {
					err = fmt.Errorf("raw consume refused")
				}
				return err
			})
		})
	}
}

var rawClusterConsume = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`)
