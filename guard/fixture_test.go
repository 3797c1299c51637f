package guard

import (
	"bytes"
	"context"
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

// fixture is an issuer and a verifier on one memory store, on a clock the
// test holds.
type fixture struct {
	clk  *clock
	keys *token.Keyring
	st   store.Store
	iss  *token.Issuer
	v    *verify.Verifier
	logs *bytes.Buffer
}

func setup(t testing.TB, key *token.Key, st store.Store) *fixture {
	t.Helper()
	f := &fixture{clk: &clock{t: time.Now().UTC().Truncate(time.Second)}, logs: &bytes.Buffer{}}
	if st == nil {
		st = memstore.New()
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
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if f.iss, err = token.NewIssuer(f.keys, st, token.WithBaseURL("https://members.example.org/login"), token.WithClock(f.clk.now), token.WithLogger(logger)); err != nil {
		t.Fatal(err)
	}
	p, err := f.iss.Parser()
	if err != nil {
		t.Fatal(err)
	}
	if f.v, err = verify.New(p, st, verify.WithLogger(logger)); err != nil {
		t.Fatal(err)
	}
	return f
}

func login(link string, id verify.Identity) verify.Request {
	return verify.Request{Link: link, Purpose: token.PurposeLogin, Identity: id, IP: "192.0.2.10", UserAgent: "test", Session: "s-1"}
}
