package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/redisstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// client returns a client of the test server, closed when the test ends.
func client(t testing.TB) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("ONCELINK_TEST_REDIS_URL: %v", err)
	}
	opt.ContextTimeoutEnabled = true
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func randomPrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "oltest-" + hex.EncodeToString(b)
}

// wipe deletes the keys of one prefix, and nothing else.
func wipe(t testing.TB, c *goredis.Client, prefix string) {
	ctx := context.Background()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "{"+prefix+"}:*", 1000).Result()
		if err != nil {
			t.Errorf("cleaning prefix %s: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				t.Errorf("cleaning prefix %s: %v", prefix, err)
				return
			}
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// newStore returns a store under a fresh prefix, wiped when the test ends.
func newStore(t testing.TB, opts ...redisstore.Option) (*redisstore.Store, *goredis.Client, string) {
	t.Helper()
	c := client(t)
	prefix := randomPrefix(t)
	t.Cleanup(func() { wipe(t, c, prefix) })
	s, err := redisstore.New(context.Background(), c, append([]redisstore.Option{redisstore.WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, c, prefix
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _, _ := newStore(t)
		return s
	})
}

func TestNewOptions(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []redisstore.Option
	}{
		{"empty prefix", []redisstore.Option{redisstore.WithPrefix("")}},
		{"brace in prefix", []redisstore.Option{redisstore.WithPrefix("a{b}")}},
		{"negative retention", []redisstore.Option{redisstore.WithRetention(-time.Second)}},
		{"long prefix", []redisstore.Option{redisstore.WithPrefix(strings.Repeat("p", 65))}},
		{"no server check interval", []redisstore.Option{redisstore.WithServerCheckInterval(0)}},
		{"a bad option after good ones", []redisstore.Option{redisstore.MustExist(), redisstore.WithPrefix("ok"), redisstore.WithPrefix("}")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := redisstore.New(ctx, c, tc.opts...); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("New = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := redisstore.New(ctx, nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("New(nil client) = %v, want ErrInvalid", err)
	}
}

// TestPersistenceCheck reads the test server's settings: with RDB snapshots
// and no AOF, New must refuse unless told it is unsafe.
func TestPersistenceCheck(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	cfg, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Skipf("CONFIG GET not allowed here: %v", err)
	}
	_, err = redisstore.New(ctx, c, redisstore.WithPrefix(randomPrefix(t)))
	snapshots := cfg["appendonly"] != "yes" && strings.TrimSpace(cfg["save"]) != ""
	switch {
	case snapshots && !errors.Is(err, redisstore.ErrUnsafeServer):
		t.Fatalf("New on a snapshot-only server = %v, want ErrUnsafeServer", err)
	case !snapshots && strings.HasPrefix(cfg["maxmemory-policy"], "allkeys-") && !errors.Is(err, redisstore.ErrUnsafeServer):
		t.Fatalf("New with allkeys eviction = %v, want ErrUnsafeServer", err)
	case !snapshots && !strings.HasPrefix(cfg["maxmemory-policy"], "allkeys-") && err != nil:
		t.Fatalf("New on a server without persistence or with AOF: %v", err)
	}
	if _, err := redisstore.New(ctx, c, redisstore.WithPrefix(randomPrefix(t)), redisstore.UnsafeAllowSnapshotPersistence(), redisstore.UnsafeAllowEviction()); err != nil {
		t.Fatalf("New with the unsafe options: %v", err)
	}
	if _, err := redisstore.New(ctx, c, redisstore.WithPrefix(randomPrefix(t)), redisstore.WithoutPersistenceCheck()); err != nil {
		t.Fatalf("New without the check: %v", err)
	}
}

// mkRecord makes a link of member in batch with the given times, and the
// request that presents it at its issue time.
func mkRecord(t testing.TB, member, batch string, issued, expires time.Time) (store.Record, store.ConsumeRequest) {
	t.Helper()
	l := storetest.NewLink(t, member)
	l.Batch, l.Recipient, l.IssuedAt, l.ExpiresAt = batch, member+"@example.org", issued, expires
	return l.Record, l.Request(issued)
}

// TestKeyExpiry checks that a record's key expires with its token plus the
// retention, that a record whose key expired is refused and never accepted,
// and that the ledger keeps its issued and consumed entries after that.
func TestKeyExpiry(t *testing.T) {
	ctx := context.Background()
	now := store.Micro(time.Now())

	t.Run("retention", func(t *testing.T) {
		s, c, prefix := newStore(t)
		exp := now.Add(time.Hour).Add(123 * time.Microsecond)
		r, _ := mkRecord(t, "ann", "", now, exp)
		if err := s.Insert(ctx, []store.Record{r}); err != nil {
			t.Fatal(err)
		}
		key := "{" + prefix + "}:t:" + r.ID
		at, err := c.PExpireTime(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := time.Duration((exp.UnixMicro()+999)/1000)*time.Millisecond + redisstore.DefaultRetention
		if at != want {
			t.Fatalf("PEXPIRETIME = %v, want expiry + retention = %v", at, want)
		}
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl < redisstore.DefaultRetention+59*time.Minute || ttl > redisstore.DefaultRetention+time.Hour+time.Second {
			t.Fatalf("PTTL = %v, want about an hour plus the retention", ttl)
		}
	})

	t.Run("retention 0", func(t *testing.T) {
		s, c, prefix := newStore(t, redisstore.WithRetention(0))
		start := store.Micro(time.Now())
		exp := start.Add(300 * time.Millisecond)
		used, usedReq := mkRecord(t, "ann", "kx", start, exp)
		left, leftReq := mkRecord(t, "bob", "kx", start, exp)
		if err := s.Insert(ctx, []store.Record{used, left}); err != nil {
			t.Fatal(err)
		}
		usedReq.Presentation = store.Presentation{Identity: "member:ann", Session: "s-ann"}
		if _, err := s.Consume(ctx, usedReq); err != nil {
			t.Fatalf("Consume before expiry: %v", err)
		}
		ttl, err := c.PTTL(ctx, "{"+prefix+"}:t:"+left.ID).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > 301*time.Millisecond {
			t.Fatalf("PTTL with retention 0 = %v, want at most the 300ms left to the token", ttl)
		}
		// Right at expiry the record may still be there: refused as expired.
		leftReq.At = exp
		if _, err := s.Consume(ctx, leftReq); !errors.Is(err, store.ErrExpired) && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Consume at expiry = %v, want ErrExpired or ErrNotFound", err)
		}
		time.Sleep(time.Until(exp.Add(50 * time.Millisecond)))
		for _, id := range []string{used.ID, left.ID} {
			if n, err := c.Exists(ctx, "{"+prefix+"}:t:"+id).Result(); err != nil || n != 0 {
				t.Fatalf("record key still there after expiry: %d %v", n, err)
			}
		}
		leftReq.At = time.Now()
		if _, err := s.Consume(ctx, leftReq); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Consume after the key expired = %v, want ErrNotFound", err)
		}
		if _, err := s.Peek(ctx, leftReq); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Peek after the key expired = %v, want ErrNotFound", err)
		}
		evs, _, err := s.Events(ctx, store.EventQuery{Batch: "kx"})
		if err != nil {
			t.Fatal(err)
		}
		var issued, consumed int
		for _, e := range evs {
			switch e.Kind {
			case store.EventIssued:
				issued++
			case store.EventConsumed:
				consumed++
				if e.TokenID != used.ID || e.Member != "ann" || e.Presentation.Session != "s-ann" {
					t.Fatalf("consumed entry = %+v", e)
				}
			}
		}
		if issued != 2 || consumed != 1 {
			t.Fatalf("ledger after the keys expired: %d issued, %d consumed; want 2 and 1", issued, consumed)
		}
		// The expired records are counted by nothing and leave the indexes.
		if n, err := s.Count(ctx, store.Filter{Batches: []string{"kx"}}); err != nil || n != 0 {
			t.Fatalf("Count of expired records = %d, %v", n, err)
		}
		if n, err := c.ZCard(ctx, "{"+prefix+"}:b:kx").Result(); err != nil || n != 0 {
			t.Fatalf("batch index after a count met expired records: %d entries, %v", n, err)
		}
		if n, err := s.Purge(ctx, time.Now()); err != nil || n != 0 {
			t.Fatalf("Purge of records whose keys expired = %d, %v; want 0 deleted", n, err)
		}
		if n, err := c.ZCard(ctx, "{"+prefix+"}:exp").Result(); err != nil || n != 0 {
			t.Fatalf("expiry index after Purge: %d entries, %v", n, err)
		}
	})
}

// TestInsertChunks checks an insert of several chunks whose last chunk holds
// a duplicate: nothing of it stays.
func TestInsertChunks(t *testing.T) {
	ctx := context.Background()
	s, c, prefix := newStore(t)
	now := store.Micro(time.Now())
	held, _ := mkRecord(t, "held", "", now, now.Add(time.Hour))
	if err := s.Insert(ctx, []store.Record{held}); err != nil {
		t.Fatal(err)
	}
	recs := make([]store.Record, 2500)
	for i := range recs {
		recs[i], _ = mkRecord(t, "m", "chunks", now, now.Add(time.Hour))
	}
	dup, _ := mkRecord(t, "other", "chunks", now, now.Add(time.Hour))
	dup.ID = held.ID
	recs[len(recs)-1] = dup
	if err := s.Insert(ctx, recs); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("Insert = %v, want ErrDuplicate", err)
	}
	n, err := s.Count(ctx, store.Filter{All: true})
	if err != nil || n != 1 {
		t.Fatalf("Count after a refused insert = %d, %v; want 1", n, err)
	}
	for _, k := range []string{"all", "exp", "b:chunks", "m:m", "l:b:chunks", "l:m:m"} {
		want := int64(0)
		if k == "all" || k == "exp" {
			want = 1
		}
		if got, err := c.ZCard(ctx, "{"+prefix+"}:"+k).Result(); err != nil || got != want {
			t.Fatalf("%s after a refused insert: %d entries, %v; want %d", k, got, err, want)
		}
	}
	if r, err := s.Get(ctx, held.ID); err != nil || r.Member != "held" {
		t.Fatalf("the held record was touched: %+v, %v", r, err)
	}
	evs, _, err := s.Events(ctx, store.EventQuery{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("ledger after a refused insert: %d entries, %v; want the held record's only", len(evs), err)
	}
}
