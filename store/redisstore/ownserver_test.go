package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// ownServer starts a redis-server of the test's own, on a free port, with
// its own directory and the given settings (redis.conf lines), and stops it
// by its PID when the test ends. It never touches the shared server.
func ownServer(t *testing.T, conf ...string) *goredis.Client {
	t.Helper()
	return startOwnServer(t, conf...).client(t)
}

// redisServer is a redis-server of the test's own, which a test may stop
// and start again on the same port and directory.
type redisServer struct {
	bin, dir, conf string
	port           int
	cmd            *exec.Cmd // nil while stopped
	exited         chan struct{}
}

// startOwnServer starts the server of ownServer.
func startOwnServer(t testing.TB, conf ...string) *redisServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return startOwnServerOn(t, port, conf...)
}

// startOwnServerOn starts the server of ownServer on the given port.
func startOwnServerOn(t testing.TB, port int, conf ...string) *redisServer {
	t.Helper()
	testenv.RedisURL(t) // the same skip rule as every Redis test
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testenv.Required() {
			t.Fatalf("redis-server is required: %v", err)
		}
		t.Skipf("skipping: no redis-server binary: %v", err)
	}
	dir := t.TempDir()
	lines := append([]string{
		"bind 127.0.0.1", fmt.Sprintf("port %d", port), "dir " + dir, `save ""`, "appendonly no",
		"logfile " + filepath.Join(dir, "redis.log"), "daemonize no",
	}, conf...)
	r := &redisServer{bin: bin, dir: dir, conf: filepath.Join(dir, "redis.conf"), port: port}
	if err := os.WriteFile(r.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd != nil {
			r.cmd.Process.Kill()
			<-r.exited
		}
	})
	r.start(t)
	return r
}

// start starts the server and waits, for at most 10 s, until it answers.
func (r *redisServer) start(t testing.TB) {
	t.Helper()
	r.cmd = exec.Command(r.bin, r.conf)
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(r.cmd, r.exited)
	c := goredis.NewClient(&goredis.Options{Addr: r.addr(), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-r.exited:
			r.cmd = nil
			t.Fatalf("redis-server on port %d exited: %s", r.port, r.log())
		case <-time.After(50 * time.Millisecond):
		}
		if i == 200 {
			t.Fatalf("redis-server on port %d did not answer: %v\n%s", r.port, err, r.log())
		}
	}
}

// stop sends sig to the server by its PID and waits until it has exited.
func (r *redisServer) stop(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v to redis-server: %v", sig, err)
	}
	select {
	case <-r.exited:
		r.cmd = nil
	case <-time.After(30 * time.Second):
		t.Fatalf("redis-server did not exit within 30 s of %v: %s", sig, r.log())
	}
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *redisServer) log() []byte {
	b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
	return b
}

// client is a client of the server, closed when the test ends.
func (r *redisServer) client(t testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: r.addr(), ContextTimeoutEnabled: true,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// guardedLinks inserts 20 links: ten in a frozen batch, ten of members with a
// watermark after their issue.
func guardedLinks(t *testing.T, s *Store) []storetest.Link {
	t.Helper()
	ctx := context.Background()
	frozen := newLinks(t, 10, "frozen")
	marked := newLinks(t, 10, "marked")
	for i := range frozen {
		frozen[i].Batch = "held"
		marked[i].Batch = "other"
	}
	all := append(frozen, marked...)
	if err := s.Insert(ctx, records(all)); err != nil {
		t.Fatal(err)
	}
	if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "held", Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, l := range marked {
		if err := s.Watermark(ctx, l.Member, l.IssuedAt.Add(time.Microsecond)); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range all {
		if _, err := s.Peek(ctx, l.Request(time.Now())); err == nil {
			t.Fatalf("a guarded link is consumable before any eviction")
		}
	}
	return all
}

// fill writes junk until the store's control key is evicted, reading the
// records meanwhile so that they stay recently used.
func fill(t *testing.T, c *goredis.Client, s *Store, ls []storetest.Link) {
	t.Helper()
	ctx := context.Background()
	junk := strings.Repeat("x", 4096)
	for i := 0; ; i++ {
		if err := c.Set(ctx, fmt.Sprintf("junk:%d", i), junk, 0).Err(); err != nil {
			t.Fatalf("filling the server: %v", err)
		}
		if i%64 == 0 {
			for _, l := range ls {
				c.HGet(ctx, s.k.record(l.ID), recordFields[fieldStatus])
			}
			if n, _ := c.Exists(ctx, s.k.ctl).Result(); n == 0 {
				return
			}
		}
		if i > 200000 {
			t.Fatal("the control key was never evicted")
		}
	}
}

// TestEvictedControlKey: with a policy that evicts any key, the key that
// holds freezes and watermarks can go; the store must then refuse every
// link, not accept them as if nothing were frozen or revoked.
func TestEvictedControlKey(t *testing.T) {
	c := ownServer(t, "maxmemory 8mb", "maxmemory-policy allkeys-lru", "maxmemory-samples 10")
	s, err := New(context.Background(), c, WithPrefix(testPrefix(t)), UnsafeAllowEviction())
	if err != nil {
		t.Fatal(err)
	}
	ls := guardedLinks(t, s)
	fill(t, c, s, ls)
	accepted, survived := 0, 0
	for _, l := range ls {
		if n, _ := c.Exists(context.Background(), s.k.record(l.ID)).Result(); n == 1 {
			survived++
		}
		_, err := s.Consume(context.Background(), l.Request(time.Now()))
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, ErrDamaged):
			t.Errorf("a link of a damaged store: %v, want ErrUnavailable and ErrDamaged", err)
		}
	}
	t.Logf("%d of %d records survived the eviction of the control key", survived, len(ls))
	if accepted != 0 {
		t.Fatalf("%d of %d frozen or watermarked links were accepted after the control key was evicted", accepted, len(ls))
	}
	if survived == 0 {
		t.Fatal("no record survived: the test proves nothing")
	}
}

// TestEvictionPolicyChanged: a server switched to an evicting policy after
// New turns the store to refusing, until the policy is safe again.
func TestEvictionPolicyChanged(t *testing.T) {
	ctx := context.Background()
	c := ownServer(t, "maxmemory-policy noeviction")
	s, err := New(ctx, c, WithPrefix(testPrefix(t)), WithServerCheckInterval(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	ls := newLinks(t, 3, "policy")
	if err := s.Insert(ctx, records(ls)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, ls[0].Request(time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, ls[1].Request(time.Now())); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, ErrUnsafeServer) {
		t.Fatalf("consume after the policy became allkeys-lru: %v, want ErrUnavailable and ErrUnsafeServer", err)
	}
	if _, err := s.Peek(ctx, ls[1].Request(time.Now())); !errors.Is(err, ErrUnsafeServer) {
		t.Fatalf("peek after the policy became allkeys-lru: %v", err)
	}
	if err := c.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, ls[1].Request(time.Now())); err != nil {
		t.Fatalf("consume after the policy is safe again: %v", err)
	}
}

// TestControlKeyLost: a store whose control key is gone refuses every link
// and every operator's action that reads or writes freezes and watermarks,
// New refuses to open it, and RepairControl opens it with every earlier
// link revoked.
func TestControlKeyLost(t *testing.T) {
	ctx := context.Background()
	c, _ := realClient(t)
	prefix := testPrefix(t)
	t.Cleanup(func() { wipePrefix(t, c, prefix) })
	if _, err := New(ctx, c, WithPrefix(prefix), MustExist()); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("New(MustExist) of a prefix without a store: %v, want ErrNoStore", err)
	}
	if n, _ := c.Exists(ctx, "{"+prefix+"}:ctl").Result(); n != 0 {
		t.Fatal("New(MustExist) created the control key")
	}
	s, err := New(ctx, c, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, c, WithPrefix(prefix), MustExist()); err != nil {
		t.Fatalf("New(MustExist) of a store: %v", err)
	}
	ls := newLinks(t, 3, "lost")
	if err := s.Insert(ctx, records(ls)); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, s.k.ctl).Err(); err != nil {
		t.Fatal(err)
	}
	damaged := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrDamaged) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("%s on a damaged store: %v, want ErrDamaged and ErrUnavailable", what, err)
		}
	}
	_, err = s.Consume(ctx, ls[0].Request(time.Now()))
	damaged("Consume", err)
	_, err = s.Peek(ctx, ls[0].Request(time.Now()))
	damaged("Peek", err)
	for _, conf := range []store.Confirmation{store.Confirmed, store.Mismatched} {
		req := ls[0].Request(time.Now())
		req.Confirmation, req.MaxFailures = conf, 1
		_, err = s.Consume(ctx, req)
		damaged(fmt.Sprintf("Consume with confirmation %d", conf), err)
		_, err = s.Peek(ctx, req)
		damaged(fmt.Sprintf("Peek with confirmation %d", conf), err)
	}
	if f, _ := c.HGet(ctx, s.k.record(ls[0].ID), recordFields[fieldFailures]).Result(); f != "" {
		t.Fatalf("a refusal of a damaged store counted failures: %q", f)
	}
	unknown := newLinks(t, 1, "unknown")[0]
	_, err = s.Consume(ctx, unknown.Request(time.Now()))
	damaged("Consume of an unknown link", err)
	_, err = s.Hit(ctx, "lost/addr/a@example.org", time.Hour, time.Now())
	damaged("Hit", err)
	damaged("Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Since: time.Now()}))
	_, err = s.Thaw(ctx, store.ScopeGlobal, "")
	damaged("Thaw", err)
	damaged("Watermark", s.Watermark(ctx, "", time.Now()))
	_, err = s.WatermarkNow(ctx, "")
	damaged("WatermarkNow", err)
	_, err = s.Holds(ctx)
	damaged("Holds", err)
	_, err = s.Marks(ctx)
	damaged("Marks", err)
	damaged("Insert", s.Insert(ctx, records(newLinks(t, 1, "more"))))
	_, err = s.Tally(ctx, store.Filter{All: true}, time.Now())
	damaged("Tally", err)
	if n, _ := c.Exists(ctx, s.k.ctl).Result(); n != 0 {
		t.Fatal("an operation recreated the control key")
	}
	_, err = New(ctx, c, WithPrefix(prefix))
	damaged("New", err)

	r, err := New(ctx, c, WithPrefix(prefix), RepairControl())
	if err != nil {
		t.Fatalf("New(RepairControl): %v", err)
	}
	for _, l := range ls {
		if _, err := r.Consume(ctx, l.Request(time.Now())); !errors.Is(err, store.ErrRevoked) {
			t.Fatalf("a link recorded before the repair: %v, want ErrRevoked", err)
		}
	}
	fresh := newLinks(t, 1, "fresh")
	if err := r.Insert(ctx, records(fresh)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Consume(ctx, fresh[0].Request(time.Now())); err != nil {
		t.Fatalf("a link minted after the repair: %v", err)
	}
	if n, err := r.Hit(ctx, "lost/addr/a@example.org", time.Hour, time.Now()); err != nil || n != 1 {
		t.Fatalf("Hit after the repair = %d, %v; want 1", n, err)
	}
}
