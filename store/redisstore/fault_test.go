package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// These tests break the connection to Redis in real ways: a closed port, a
// server that accepts and never answers, a paused server, connections killed
// under load, and the stop or crash and restart of a server of the test's
// own.
// Every failure must be ErrUnavailable, bounded by the caller's deadline,
// and must never let a link be consumed twice.

// faultClient is a client with small timeouts, named so that the test can
// find its connections.
func faultClient(t *testing.T, addr, name string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr:                  addr,
		ClientName:            name,
		DialTimeout:           100 * time.Millisecond,
		ReadTimeout:           200 * time.Millisecond,
		WriteTimeout:          200 * time.Millisecond,
		PoolTimeout:           300 * time.Millisecond,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// realClient is a client of the test server.
func realClient(t *testing.T) (*goredis.Client, *goredis.Options) {
	t.Helper()
	opt, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("%s: %v", testenv.RedisEnv, err)
	}
	opt.ContextTimeoutEnabled = true
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c, opt
}

func testPrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "oltest-" + hex.EncodeToString(b)
}

// wipePrefix deletes the keys of one prefix, and nothing else.
func wipePrefix(t *testing.T, c *goredis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Unlink(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("cleaning prefix %s: %v", prefix, err)
	}
}

// realStore is a store on the test server under a fresh prefix.
func realStore(t *testing.T, c *goredis.Client) *Store {
	t.Helper()
	prefix := testPrefix(t)
	t.Cleanup(func() { wipePrefix(t, c, prefix) })
	s, err := New(context.Background(), c, WithPrefix(prefix))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// newLinks returns n links of batch "fault" for members "<member>-<i>",
// issued now.
func newLinks(t *testing.T, n int, member string) []storetest.Link {
	t.Helper()
	now := store.Micro(time.Now())
	out := make([]storetest.Link, n)
	for i := range out {
		out[i] = storetest.NewLink(t, fmt.Sprintf("%s-%d", member, i))
		out[i].Batch, out[i].IssuedAt, out[i].ExpiresAt = "fault", now, now.Add(time.Hour)
	}
	return out
}

func records(ls []storetest.Link) []store.Record {
	out := make([]store.Record, len(ls))
	for i := range ls {
		out[i] = ls[i].Record
	}
	return out
}

// unreachable checks every operation against a client that cannot reach a
// server, and that New fails cleanly.
func unreachable(t *testing.T, c *goredis.Client) {
	const deadline = 500 * time.Millisecond
	storetest.WantUnavailable(t, "New", deadline, func(ctx context.Context) error {
		s, err := New(ctx, c, WithPrefix(testPrefix(t)))
		if s != nil {
			t.Error("New returned a store with its error")
		}
		return err
	})
	s := build(c, &config{prefix: testPrefix(t), retention: DefaultRetention})
	ls := newLinks(t, 3, "down")
	storetest.WantUnavailable(t, "Insert", deadline, func(ctx context.Context) error { return s.Insert(ctx, records(ls)) })
	storetest.WantUnavailable(t, "Consume", deadline, func(ctx context.Context) error { _, err := s.Consume(ctx, ls[0].Request(time.Now())); return err })
	storetest.WantUnavailable(t, "Peek", deadline, func(ctx context.Context) error { _, err := s.Peek(ctx, ls[0].Request(time.Now())); return err })
	storetest.WantUnavailable(t, "Get", deadline, func(ctx context.Context) error { _, err := s.Get(ctx, ls[0].ID); return err })
	storetest.WantUnavailable(t, "Revoke", deadline, func(ctx context.Context) error {
		_, err := s.Revoke(ctx, store.Filter{All: true}, time.Now())
		return err
	})
	storetest.WantUnavailable(t, "Freeze", deadline, func(ctx context.Context) error {
		return s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Since: time.Now()})
	})
	storetest.WantUnavailable(t, "Ping", deadline, s.Ping)
}

func TestFaultClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	unreachable(t, faultClient(t, addr, "oltest-closed"))
}

func TestFaultSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	unreachable(t, faultClient(t, l.Addr().String(), "oltest-silent"))
}

// TestFaultPausedServer pauses the real server's writes for at most 1.5 s:
// a consume with a shorter deadline is unavailable, and the link is then
// consumable exactly once.
func TestFaultPausedServer(t *testing.T) {
	admin, _ := realClient(t)
	c, _ := realClient(t)
	s := realStore(t, c)
	ctx := context.Background()
	ls := newLinks(t, 2, "paused")
	if err := s.Insert(ctx, records(ls[:1])); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, "CLIENT", "PAUSE", 1500, "WRITE").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "CLIENT", "UNPAUSE") })
	storetest.WantUnavailable(t, "Consume on a paused server", 200*time.Millisecond, func(ctx context.Context) error {
		_, err := s.Consume(ctx, ls[0].Request(time.Now()))
		return err
	})
	storetest.WantUnavailable(t, "Insert on a paused server", 200*time.Millisecond, func(ctx context.Context) error {
		return s.Insert(ctx, records(ls[1:]))
	})
	if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatalf("CLIENT UNPAUSE: %v", err)
	}
	if _, err := s.Consume(ctx, ls[0].Request(time.Now())); err != nil {
		t.Fatalf("Consume after the pause: %v", err)
	}
	if _, err := s.Consume(ctx, ls[0].Request(time.Now())); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second Consume after the pause: %v, want ErrUsed", err)
	}
	if _, err := s.Get(ctx, ls[1].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the insert that timed out during the pause left a record: %v", err)
	}
}

// TestFaultKilledConnections kills the store's connections again and again
// while goroutines race to consume links.
func TestFaultKilledConnections(t *testing.T) {
	// go-redis retries a command on a broken connection (MaxRetries): with
	// retries a consume whose first attempt went through answers ErrUsed;
	// without, the failures reach the caller as ErrUnavailable.
	for _, retries := range []int{0, -1} {
		t.Run(fmt.Sprintf("MaxRetries=%d", retries), func(t *testing.T) { killedConnections(t, retries) })
	}
}

func killedConnections(t *testing.T, retries int) {
	admin, opt := realClient(t)
	name := testPrefix(t) + "-conn"
	o := *opt
	o.ClientName = name
	o.MaxRetries = retries
	c := goredis.NewClient(&o)
	t.Cleanup(func() { c.Close() })
	s := realStore(t, c)
	ctx := context.Background()
	const n, racers = 200, 4
	ls := newLinks(t, n, "killed")
	if err := s.Insert(ctx, records(ls)); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var kills atomic.Int64
	var killer sync.WaitGroup
	killer.Add(1)
	go func() {
		defer killer.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			list, err := admin.ClientList(ctx).Result()
			if err != nil {
				continue
			}
			for _, line := range strings.Split(list, "\n") {
				if !strings.Contains(line, " name="+name+" ") {
					continue
				}
				id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
				if admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err() == nil {
					kills.Add(1)
				}
			}
		}
	}()

	wins := make([]atomic.Int32, n)
	var unavailable atomic.Int64
	var wg sync.WaitGroup
	for i := range ls {
		for r := 0; r < racers; r++ {
			wg.Add(1)
			go func(i, r int) {
				defer wg.Done()
				req := ls[i].Request(time.Now())
				req.Presentation.Session = fmt.Sprintf("s-%d", r)
				_, err := s.Consume(ctx, req)
				switch {
				case err == nil:
					wins[i].Add(1)
				case errors.Is(err, store.ErrUnavailable):
					unavailable.Add(1)
				case errors.Is(err, store.ErrUsed):
				default:
					t.Errorf("Consume: %v, want success, ErrUsed or ErrUnavailable", err)
				}
			}(i, r)
		}
	}
	wg.Wait()
	close(stop)
	killer.Wait()
	t.Logf("%d connections killed, %d consumes unavailable", kills.Load(), unavailable.Load())
	if kills.Load() == 0 {
		t.Fatal("no connection was killed: the test proved nothing")
	}
	for i := range ls {
		w := wins[i].Load()
		if w > 1 {
			t.Fatalf("link %d consumed %d times", i, w)
		}
		r, err := s.Get(ctx, ls[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if w == 1 && r.Status != store.StatusConsumed {
			t.Fatalf("link %d: a consumer won but the record is %v", i, r.Status)
		}
	}
	// The store recovers once the connections are left alone.
	fresh := newLinks(t, 1, "after")
	if err := s.Insert(ctx, records(fresh)); err != nil {
		t.Fatalf("Insert after the kills: %v", err)
	}
	if _, err := s.Consume(ctx, fresh[0].Request(time.Now())); err != nil {
		t.Fatalf("Consume after the kills: %v", err)
	}
}

// newOwnStore is a store on a server of the test's own.
func newOwnStore(t *testing.T, c *goredis.Client) *Store {
	t.Helper()
	s, err := New(context.Background(), c, WithPrefix(testPrefix(t)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// TestFaultRestart stops a server of the test's own that keeps nothing on
// disk (save "", appendonly no) and starts it again. Its links and the
// store's control key were lost with it: the store refuses everything until
// it is created again.
func TestFaultRestart(t *testing.T) {
	srv := startOwnServer(t)
	c := srv.client(t)
	s := newOwnStore(t, c)
	ctx := context.Background()

	before := newLinks(t, 50, "before")
	if err := s.Insert(ctx, records(before)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, before[0].Request(time.Now())); err != nil {
		t.Fatal(err)
	}
	srv.stop(t, syscall.SIGTERM) // a shutdown that has nowhere to save to

	down := newLinks(t, 1, "down")
	storetest.WantUnavailable(t, "Insert while down", time.Second, func(ctx context.Context) error { return s.Insert(ctx, records(down)) })
	storetest.WantUnavailable(t, "Consume while down", time.Second, func(ctx context.Context) error {
		_, err := s.Consume(ctx, before[1].Request(time.Now()))
		return err
	})
	storetest.WantUnavailable(t, "Peek while down", time.Second, func(ctx context.Context) error {
		_, err := s.Peek(ctx, before[1].Request(time.Now()))
		return err
	})

	srv.start(t)

	// Nothing survived a server without persistence, the control key
	// included: the store refuses every link, and every mint, as damaged,
	// since the freezes and watermarks it held are gone.
	for i, l := range before {
		if _, err := s.Consume(ctx, l.Request(time.Now())); !errors.Is(err, ErrDamaged) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Consume of link %d minted before the restart: %v, want ErrDamaged", i, err)
		}
	}
	if err := s.Insert(ctx, records(newLinks(t, 1, "lost"))); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Insert after the restart: %v, want ErrDamaged", err)
	}
	// Creating the store again (the server holds nothing of it) makes it
	// work, without a new Store: the scripts the restart dropped are loaded
	// again on first use, pipelined calls included.
	if _, err := New(ctx, c, WithPrefix(strings.Trim(s.k.tag, "{}"))); err != nil {
		t.Fatalf("New after the restart: %v", err)
	}
	after := newLinks(t, 2*insertChunk+1, "after")
	if err := s.Insert(ctx, records(after)); err != nil {
		t.Fatalf("Insert after the restart: %v", err)
	}
	if _, err := s.Consume(ctx, after[len(after)-1].Request(time.Now())); err != nil {
		t.Fatalf("Consume after the restart: %v", err)
	}
}

// TestFaultRestartAppendOnly kills (SIGKILL) a server of the test's own
// that writes every change to its append-only file before it answers
// (appendfsync always), and starts it again on the same directory: nothing
// the store reported done is lost. A consumed link stays consumed, a
// frozen batch frozen, a watermark in force, an outstanding link
// consumable, and the store works again without being created again or
// reopened.
func TestFaultRestartAppendOnly(t *testing.T) {
	srv := startOwnServer(t, "appendonly yes", "appendfsync always")
	c := srv.client(t)
	s := newOwnStore(t, c)
	ctx := context.Background()

	ls := newLinks(t, 4, "aof")
	ls[1].Batch = "held"
	if err := s.Insert(ctx, records(ls)); err != nil {
		t.Fatal(err)
	}
	consume := ls[0].Request(time.Now())
	consume.Presentation.Session = "before-crash"
	if _, err := s.Consume(ctx, consume); err != nil {
		t.Fatal(err)
	}
	if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "held", Since: time.Now(), Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Watermark(ctx, ls[2].Member, ls[2].IssuedAt.Add(time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name string
		l    storetest.Link
		want error
	}{
		{"consumed", ls[0], store.ErrUsed},
		{"frozen", ls[1], store.ErrFrozen},
		{"watermarked", ls[2], store.ErrRevoked},
	}
	for _, tc := range refused {
		if _, err := s.Peek(ctx, tc.l.Request(time.Now())); !errors.Is(err, tc.want) {
			t.Fatalf("Peek of the %s link: %v, want %v", tc.name, err, tc.want)
		}
	}
	srv.stop(t, os.Kill)

	more := newLinks(t, 1, "more")
	storetest.WantUnavailable(t, "Insert while down", time.Second, func(ctx context.Context) error { return s.Insert(ctx, records(more)) })
	storetest.WantUnavailable(t, "Consume while down", time.Second, func(ctx context.Context) error {
		_, err := s.Consume(ctx, ls[3].Request(time.Now()))
		return err
	})
	storetest.WantUnavailable(t, "Peek while down", time.Second, func(ctx context.Context) error {
		_, err := s.Peek(ctx, ls[3].Request(time.Now()))
		return err
	})

	srv.start(t)

	r, err := s.Get(ctx, ls[0].ID)
	if err != nil {
		t.Fatalf("Get after the restart: %v", err)
	}
	if r.Status != store.StatusConsumed || r.Consumer.Session != "before-crash" || r.ConsumedAt.IsZero() {
		t.Fatalf("consumed record after the restart: %+v", r)
	}
	for _, tc := range refused {
		if _, err := s.Consume(ctx, tc.l.Request(time.Now())); !errors.Is(err, tc.want) {
			t.Fatalf("Consume of the %s link after the restart: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.Consume(ctx, ls[3].Request(time.Now())); err != nil {
		t.Fatalf("Consume of the outstanding link after the restart: %v", err)
	}
	after := newLinks(t, 2*insertChunk+1, "after")
	if err := s.Insert(ctx, records(after)); err != nil {
		t.Fatalf("Insert after the restart: %v", err)
	}
	if _, err := s.Consume(ctx, after[len(after)-1].Request(time.Now())); err != nil {
		t.Fatalf("Consume after the restart: %v", err)
	}
}
