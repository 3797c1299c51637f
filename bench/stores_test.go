package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/postgresstore"
	"github.com/oncelink/oncelink/store/redisstore"
	"github.com/oncelink/oncelink/store/storetest"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// The benchmarks of this file's siblings run against real servers, each in
// a schema or key prefix of its own, made through the store's own
// migration, dropped or deleted when the benchmark ends.

// poolConns is the connection pool of every PostgreSQL benchmark here: room
// for 16 goroutines, the same for oncelink and for every peer.
const poolConns = 20

func randomSuffix(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// pgStore returns a pool and a store in a new schema, migrated, and the
// quoted name of the schema's tokens table; the schema is dropped when tb
// ends.
func pgStore(tb testing.TB) (*pgxpool.Pool, store.Store, string) {
	tb.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "oncelink-bench"
	cfg.ConnConfig.Tracer = tripTracer{}
	cfg.MaxConns = poolConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	schema := "oncelink_bench_" + randomSuffix(tb)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		pool.Close()
	})
	st, err := postgresstore.New(pool, postgresstore.WithSchema(schema))
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return pool, st, pgx.Identifier{schema, "tokens"}.Sanitize()
}

// redisStore returns a client and a store under a new key prefix, and the
// prefix's hash tag, under which the peers' keys go too; every key of the
// prefix is deleted when tb ends.
func redisStore(tb testing.TB) (*goredis.Client, store.Store, string) {
	tb.Helper()
	opt, err := goredis.ParseURL(testenv.RedisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	c := goredis.NewClient(opt)
	c.AddHook(tripHook{})
	prefix := "oncelink-bench-" + randomSuffix(tb)
	tag := "{" + prefix + "}"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, tag+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			if keys = append(keys, iter.Val()); len(keys) == 1000 {
				c.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
		c.Close()
	})
	st, err := redisstore.New(context.Background(), c, redisstore.WithPrefix(prefix))
	if err != nil {
		tb.Fatal(err)
	}
	return c, st, tag
}

// trips counts the statements and commands sent to the servers, each a
// round trip (a pipeline is one), so that a benchmark can report how many
// a verification costs. Benchmarks run one at a time.
var trips atomic.Int64

type tripTracer struct{}

func (tripTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	trips.Add(1)
	return ctx
}
func (tripTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

type tripHook struct{}

func (tripHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (tripHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		trips.Add(1)
		return next(ctx, cmd)
	}
}
func (tripHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		trips.Add(1)
		return next(ctx, cmds)
	}
}

// timed runs op(i) for i in [0, b.N) on goroutines goroutines
// ([storetest.Parallel]) and reports the round trips an op took to a
// server (none to SQLite, which is in the process).
func timed(b *testing.B, goroutines int, op func(i int) error) {
	b.Helper()
	start := trips.Load()
	storetest.Parallel(b, goroutines, op)
	if n := trips.Load() - start; n > 0 {
		b.ReportMetric(float64(n)/float64(b.N), "round-trips/op")
	}
}

// site is an issuer and a verifier over one store, as a member site runs
// them.
type site struct {
	iss *token.Issuer
	v   *verify.Verifier
}

func newSite(tb testing.TB, st store.Store, opts ...verify.Option) *site {
	tb.Helper()
	key, err := token.GenerateHMACKey("bench")
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := token.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := iss.Parser()
	if err != nil {
		tb.Fatal(err)
	}
	v, err := verify.New(p, st, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return &site{iss: iss, v: v}
}

// mints numbers the sets of links minted in one process, so that no two
// sets share a member (the member limit counts a member's presentations).
var mints atomic.Int64

// invite mints n links in one batch, each to a member of its own, with
// the presentation that confirms each: the address it was sent to, typed.
func (s *site) invite(tb testing.TB, n int) []verify.Request {
	tb.Helper()
	ctx := context.Background()
	run := mints.Add(1)
	out := make([]verify.Request, 0, n)
	for start := 0; start < n; start += 100000 {
		reqs := make([]token.Request, min(100000, n-start))
		for i := range reqs {
			m := fmt.Sprintf("m-%d-%d", run, start+i)
			reqs[i] = token.Request{Member: m, Purpose: token.PurposeLogin, Recipient: m + "@members.example"}
		}
		links, err := s.iss.MintBatch(ctx, fmt.Sprintf("bench-%d-%d", run, start), reqs)
		if err != nil {
			tb.Fatal(err)
		}
		for i, l := range links {
			out = append(out, verify.Request{Link: l.URL, Purpose: token.PurposeLogin,
				Identity: verify.Identity{Email: reqs[i].Recipient}, IP: "192.0.2.10", UserAgent: "bench", Session: "s"})
		}
	}
	return out
}
