package flow

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

var ctx = context.Background()

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is an issuer, its parser and a verifier on one store, on a clock
// the test holds, with a logger whose lines the test reads.
type fixture struct {
	clk    *clock
	keys   *token.Keyring
	st     store.Store
	mem    *memstore.Store
	iss    *token.Issuer
	p      *token.Parser
	v      *verify.Verifier
	logs   *bytes.Buffer
	logger *slog.Logger
}

func setup(t testing.TB, key *token.Key, st store.Store, vopts ...verify.Option) *fixture {
	t.Helper()
	f := &fixture{clk: &clock{t: time.Now().UTC().Truncate(time.Second)}, logs: &bytes.Buffer{}}
	if st == nil {
		f.mem = memstore.New()
		st = f.mem
	}
	f.st = st
	var err error
	if key == nil {
		if key, err = token.GenerateHMACKey("k1"); err != nil {
			t.Fatal(err)
		}
	}
	if f.keys, err = token.NewKeyring(key); err != nil {
		t.Fatal(err)
	}
	f.logger = slog.New(slog.NewJSONHandler(&lockedWriter{w: f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if f.iss, err = token.NewIssuer(f.keys, st, token.WithBaseURL("https://members.example.org/login"), token.WithClock(f.clk.now), token.WithLogger(f.logger)); err != nil {
		t.Fatal(err)
	}
	if f.p, err = f.iss.Parser(); err != nil {
		t.Fatal(err)
	}
	if f.v, err = verify.New(f.p, st, append([]verify.Option{verify.WithLogger(f.logger)}, vopts...)...); err != nil {
		t.Fatal(err)
	}
	return f
}

// lockedWriter lets the flows' goroutines log into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (f *fixture) mint(t testing.TB, req token.Request) *token.Link {
	t.Helper()
	l, err := f.iss.Mint(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (f *fixture) status(t testing.TB, id string) store.Record {
	t.Helper()
	r, err := f.st.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mintBatch mints n links of one batch, for members m0..m(n-1) at
// m<i>@example.org.
func (f *fixture) mintBatch(t testing.TB, batch string, n int) []*token.Link {
	t.Helper()
	reqs := make([]token.Request, n)
	for i := range reqs {
		reqs[i] = token.Request{Member: fmt.Sprint("m", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)}
	}
	ls, err := f.iss.MintBatch(ctx, batch, reqs)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func (f *fixture) frozen(t testing.TB, batch string) bool {
	t.Helper()
	hs, err := f.st.Holds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Scope == store.ScopeBatch && h.Key == batch {
			return true
		}
	}
	return false
}

var ann = token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org", Number: "10442"}

func loginRequest(link string, id verify.Identity) verify.Request {
	return verify.Request{Link: link, Purpose: token.PurposeLogin, Identity: id, IP: "192.0.2.10", UserAgent: "test", Session: "s-1"}
}

// countingStore records which store methods a request calls.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (c *countingStore) note(m string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, m)
}

func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *countingStore) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	c.note("Consume")
	return c.Store.Consume(ctx, req)
}

func (c *countingStore) Peek(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	c.note("Peek")
	return c.Store.Peek(ctx, req)
}

func (c *countingStore) Fail(ctx context.Context, id string, at time.Time, max int) (store.Record, error) {
	c.note("Fail")
	return c.Store.Fail(ctx, id, at, max)
}

func (c *countingStore) Append(ctx context.Context, evs ...store.Event) error {
	c.note("Append")
	return c.Store.Append(ctx, evs...)
}

func (c *countingStore) Events(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	c.note("Events")
	return c.Store.Events(ctx, q)
}

func (c *countingStore) Holds(ctx context.Context) ([]store.Hold, error) {
	c.note("Holds")
	return c.Store.Holds(ctx)
}

func (c *countingStore) Hit(ctx context.Context, key string, w time.Duration, at time.Time) (int64, error) {
	c.note("Hit")
	return c.Store.(store.Counters).Hit(ctx, key, w, at)
}

func (c *countingStore) Insert(ctx context.Context, recs []store.Record) error {
	c.note("Insert")
	return c.Store.Insert(ctx, recs)
}

func (c *countingStore) Count(ctx context.Context, f store.Filter) (int64, error) {
	c.note("Count")
	return c.Store.Count(ctx, f)
}
