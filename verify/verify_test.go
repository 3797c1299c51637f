package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
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

type fixture struct {
	clk  *clock
	keys *token.Keyring
	st   store.Store
	mem  *memstore.Store
	iss  *token.Issuer
	v    *Verifier
	logs *bytes.Buffer
}

func setup(t testing.TB, key *token.Key, st store.Store, vopts ...Option) *fixture {
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
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if f.iss, err = token.NewIssuer(f.keys, st, token.WithBaseURL("https://members.example.org/login"), token.WithClock(f.clk.now), token.WithLogger(logger)); err != nil {
		t.Fatal(err)
	}
	p, err := f.iss.Parser()
	if err != nil {
		t.Fatal(err)
	}
	if f.v, err = New(p, st, append([]Option{WithLogger(logger)}, vopts...)...); err != nil {
		t.Fatal(err)
	}
	return f
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

var ann = token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org", Number: "10442"}

func login(link string, id Identity) Request {
	return Request{Link: link, Purpose: token.PurposeLogin, Identity: id, IP: "192.0.2.10", UserAgent: "test", Session: "s-1"}
}

func TestConsumeOnce(t *testing.T) {
	hk, _ := token.GenerateHMACKey("h")
	ek, _ := token.GenerateEd25519Key("e")
	for _, key := range []*token.Key{hk, ek} {
		t.Run(string(key.Alg()), func(t *testing.T) {
			f := setup(t, key, nil)
			l := f.mint(t, ann)
			res, err := f.v.Peek(ctx, Request{Link: l.URL, Purpose: token.PurposeLogin})
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			if res.Needs != ConfirmTyped|ConfirmMember || res.Record.Status != store.StatusIssued {
				t.Fatalf("Peek result %+v", res)
			}
			res, err = f.v.Consume(ctx, login(l.URL, Identity{Email: "Ann@Example.org"}))
			if err != nil {
				t.Fatalf("Consume: %v", err)
			}
			if res.Identity != "email:ann@example.org" || res.Claims.Member != "m-17" || res.Record.Status != store.StatusConsumed {
				t.Fatalf("Consume result %+v", res)
			}
			r := f.status(t, l.Claims.ID)
			if r.Consumer.Session != "s-1" || r.Consumer.Identity != "email:ann@example.org" || r.Consumer.IP != "192.0.2.10" {
				t.Fatalf("consumption recorded as %+v", r.Consumer)
			}
			_, err = f.v.Consume(ctx, login(l.URL, Identity{Email: "ann@example.org"}))
			if !errors.Is(err, ErrUsed) || !errors.Is(err, store.ErrUsed) {
				t.Fatalf("replay: %v, want ErrUsed", err)
			}
			if _, err := f.v.Peek(ctx, Request{Link: l.Token, Purpose: token.PurposeLogin}); !errors.Is(err, ErrUsed) {
				t.Fatalf("Peek after use: %v", err)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	cases := []struct {
		name    string
		mint    token.Request
		batch   bool
		policy  *Policy
		id      Identity
		wantErr error
		want    string
	}{
		{"email", ann, false, nil, Identity{Email: " ANN@example.org "}, nil, "email:ann@example.org"},
		{"number", ann, false, nil, Identity{Number: "10-442"}, nil, "number:10442"},
		{"member asserted", ann, false, nil, Identity{Member: "m-17"}, nil, "member:m-17"},
		{"email and member", ann, false, nil, Identity{Member: "m-17", Email: "ann@example.org"}, nil, "email:ann@example.org"},
		{"nothing presented", ann, false, nil, Identity{}, ErrIdentityRequired, ""},
		{"wrong email", ann, false, nil, Identity{Email: "bob@example.org"}, ErrMismatch, ""},
		{"wrong number", ann, false, nil, Identity{Number: "10443"}, ErrMismatch, ""},
		{"wrong member", ann, false, nil, Identity{Member: "m-18"}, ErrMismatch, ""},
		{"right email, logged in as another member", ann, false, nil, Identity{Member: "m-18", Email: "ann@example.org"}, ErrMismatch, ""},
		{"not an email", ann, false, nil, Identity{Email: "ann"}, ErrMismatch, ""},
		{"number on a link without one", token.Request{Member: "m-1", Purpose: token.PurposeLogin, Recipient: "a@b.dk"}, false, nil, Identity{Number: "1"}, ErrIdentityRequired, ""},
		{"batch link, member asserted", ann, true, nil, Identity{Member: "m-17"}, ErrIdentityRequired, ""},
		{"batch link, email", ann, true, nil, Identity{Email: "ann@example.org"}, nil, "email:ann@example.org"},
		{"batch link, wrong member asserted", ann, true, nil, Identity{Member: "m-18"}, ErrMismatch, ""},
		{"email-only policy, number", ann, false, &Policy{Accept: ConfirmEmail}, Identity{Number: "10442"}, ErrIdentityRequired, ""},
		{"email-only policy, email", ann, false, &Policy{Accept: ConfirmEmail}, Identity{Email: "ann@example.org"}, nil, "email:ann@example.org"},
		{"no confirmation policy", ann, false, &Policy{UnsafeNoConfirmation: true}, Identity{}, nil, ""},
		{"no confirmation policy still compares", ann, false, &Policy{UnsafeNoConfirmation: true}, Identity{Email: "bob@example.org"}, ErrMismatch, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.policy != nil {
				opts = append(opts, WithPolicy(token.PurposeLogin, *tc.policy))
			}
			f := setup(t, nil, nil, opts...)
			var l *token.Link
			if tc.batch {
				ls, err := f.iss.MintBatch(ctx, "b1", []token.Request{tc.mint})
				if err != nil {
					t.Fatal(err)
				}
				l = ls[0]
			} else {
				l = f.mint(t, tc.mint)
			}
			res, err := f.v.Consume(ctx, login(l.URL, tc.id))
			rec := f.status(t, l.Claims.ID)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Consume: %v, want %v", err, tc.wantErr)
				}
				if rec.Status != store.StatusIssued {
					t.Fatalf("a refused confirmation changed the link: %v", rec.Status)
				}
				wantFailures := 0
				if tc.wantErr == ErrMismatch {
					wantFailures = 1
				}
				if rec.Failures != wantFailures {
					t.Fatalf("failures = %d, want %d", rec.Failures, wantFailures)
				}
				return
			}
			if err != nil {
				t.Fatalf("Consume: %v", err)
			}
			if res.Identity != tc.want || rec.Status != store.StatusConsumed {
				t.Fatalf("identity %q (want %q), status %v", res.Identity, tc.want, rec.Status)
			}
		})
	}
}

func TestMismatchLeavesLinkToOwner(t *testing.T) {
	f := setup(t, nil, nil)
	l := f.mint(t, ann)
	for i := 1; i <= 4; i++ {
		_, err := f.v.Consume(ctx, login(l.URL, Identity{Email: fmt.Sprintf("guess%d@example.org", i)}))
		if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), fmt.Sprintf("%d of 5", i)) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatalf("the owner after 4 wrong guesses: %v", err)
	}
}

func TestFailuresRevoke(t *testing.T) {
	f := setup(t, nil, nil, WithMaxFailures(3))
	l := f.mint(t, ann)
	// Guesses through Peek count too: Peek is no oracle.
	for i := 0; i < 2; i++ {
		if _, err := f.v.Peek(ctx, Request{Link: l.URL, Purpose: token.PurposeLogin, Identity: Identity{Number: fmt.Sprint(i)}}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Peek guess: %v", err)
		}
	}
	if _, err := f.v.Consume(ctx, login(l.URL, Identity{Number: "99"})); !errors.Is(err, ErrMismatch) {
		t.Fatal(err)
	}
	if r := f.status(t, l.Claims.ID); r.Status != store.StatusRevoked || r.Failures != 3 {
		t.Fatalf("after 3 failures: %+v", r)
	}
	if _, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "ann@example.org"})); !errors.Is(err, ErrRevoked) {
		t.Fatalf("the owner after the link was revoked: %v", err)
	}
}

func TestPurposeAndExpiry(t *testing.T) {
	f := setup(t, nil, nil)
	reset := f.mint(t, token.Request{Member: "m-17", Purpose: token.PurposeReset, Recipient: "ann@example.org"})
	if _, err := f.v.Consume(ctx, login(reset.URL, Identity{Email: "ann@example.org"})); !errors.Is(err, ErrPurpose) {
		t.Fatalf("a reset link at the login endpoint: %v", err)
	}
	if r := f.status(t, reset.Claims.ID); r.Status != store.StatusIssued {
		t.Fatal("a link refused for its purpose was changed")
	}
	short := f.mint(t, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org", TTL: time.Hour})
	f.clk.add(time.Hour)
	if _, err := f.v.Consume(ctx, login(short.URL, Identity{Email: "ann@example.org"})); !errors.Is(err, ErrExpired) {
		t.Fatalf("an expired link: %v", err)
	}
	if _, err := f.v.Consume(ctx, Request{Link: short.URL}); !errors.Is(err, ErrConfig) {
		t.Fatalf("a request without purpose: %v", err)
	}
	if _, err := f.v.Consume(ctx, Request{Link: short.URL, Purpose: token.PurposeLogin, Session: strings.Repeat("s", 300)}); !errors.Is(err, ErrConfig) {
		t.Fatalf("an over-long session reference: %v", err)
	}
}

func TestStateBinding(t *testing.T) {
	var mu sync.Mutex
	version := map[string]string{"m-17": "pw1"}
	state := func(_ context.Context, m string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if m == "panic" {
			panic("boom")
		}
		return []byte(version[m]), nil
	}
	f := &fixture{}
	f = setup(t, nil, nil, WithStateFunc(state))
	iss, _ := token.NewIssuer(f.keys, f.st, token.WithBaseURL("https://members.example.org/login"), token.WithClock(f.clk.now), token.WithStateFunc(state))
	l1, _ := iss.Mint(ctx, ann)
	l2, _ := iss.Mint(ctx, ann)
	if _, err := f.v.Consume(ctx, login(l1.URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatalf("same state: %v", err)
	}
	mu.Lock()
	version["m-17"] = "pw2" // the member reset the password
	mu.Unlock()
	if _, err := f.v.Consume(ctx, login(l2.URL, Identity{Email: "ann@example.org"})); !errors.Is(err, ErrStale) {
		t.Fatalf("after a state change: %v, want ErrStale", err)
	}
	lp, _ := iss.Mint(ctx, token.Request{Member: "x", Purpose: token.PurposeLogin})
	_ = lp
	pl, err := f.iss.Mint(ctx, token.Request{Member: "panic", Purpose: token.PurposeLogin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Consume(ctx, login(pl.URL, Identity{Member: "panic"})); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a panicking state function: %v, want ErrUnavailable", err)
	}
}

// brokenStore fails in configurable ways, for the fail-closed tests.
type brokenStore struct {
	*memstore.Store
	mode string
}

func (b *brokenStore) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	switch b.mode {
	case "error":
		return store.Record{}, fmt.Errorf("%w: connection reset", store.ErrUnavailable)
	case "panic":
		panic("driver bug")
	case "hang":
		<-ctx.Done()
		return store.Record{}, fmt.Errorf("%w: %w", store.ErrUnavailable, ctx.Err())
	case "lie":
		// A broken store that reports an unknown error: still a refusal.
		return store.Record{ID: req.ID, Status: store.StatusConsumed}, errors.New("weird")
	}
	return b.Store.Consume(ctx, req)
}

func TestFailClosed(t *testing.T) {
	for _, mode := range []string{"error", "panic", "hang", "lie"} {
		t.Run(mode, func(t *testing.T) {
			bs := &brokenStore{Store: memstore.New()}
			f := setup(t, nil, bs, WithTimeout(200*time.Millisecond))
			l := f.mint(t, ann)
			bs.mode = mode
			start := time.Now()
			res, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "ann@example.org"}))
			if !errors.Is(err, ErrUnavailable) || res != nil {
				t.Fatalf("Consume on a %s store: %v, %v; want ErrUnavailable", mode, res, err)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("the timeout did not bound the verification")
			}
			bs.mode = ""
			if _, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "ann@example.org"})); err != nil {
				t.Fatalf("the link after the store recovered: %v", err)
			}
		})
	}
}

func TestFreezeAndRevoke(t *testing.T) {
	f := setup(t, nil, nil)
	l := f.mint(t, ann)
	other := f.mint(t, token.Request{Member: "m-2", Purpose: token.PurposeLogin, Recipient: "b@example.org"})
	if err := f.st.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "m-17", Since: f.clk.now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "ann@example.org"})); !errors.Is(err, ErrFrozen) {
		t.Fatalf("frozen member: %v", err)
	}
	if _, err := f.st.Thaw(ctx, store.ScopeMember, "m-17"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Watermark(ctx, "m-2", f.clk.now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Consume(ctx, login(other.URL, Identity{Email: "b@example.org"})); !errors.Is(err, ErrRevoked) {
		t.Fatalf("under a member watermark: %v", err)
	}
	if _, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatalf("thawed: %v", err)
	}
}

func TestLedger(t *testing.T) {
	f := setup(t, nil, nil, WithLedgerRate(2))
	l := f.mint(t, ann)
	req := login(l.URL, Identity{Email: "bob@example.org"})
	req.IP, req.UserAgent, req.Session = "198.51.100.7", strings.Repeat("u", 1000), "sess-b"
	if _, err := f.v.Consume(ctx, req); !errors.Is(err, ErrMismatch) {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		f.v.Consume(ctx, login("garbage-"+fmt.Sprint(i), Identity{Email: "x@y.z"}))
	}
	evs, _, err := f.st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventRefused}})
	if err != nil {
		t.Fatal(err)
	}
	var mismatch, malformed int
	for _, e := range evs {
		switch e.Reason {
		case "mismatch":
			mismatch++
			p := e.Presentation
			if e.TokenID != l.Claims.ID || e.Member != "m-17" || p.Identity != "email:bob@example.org" || p.IP != "198.51.100.7" ||
				p.Session != "sess-b" || len(p.UserAgent) != store.MaxUserAgentLen {
				t.Fatalf("mismatch recorded as %+v", e)
			}
		case "malformed":
			malformed++
			if e.TokenID != "" || e.Presentation.Identity != "email:x@y.z" {
				t.Fatalf("malformed recorded as %+v", e)
			}
		}
	}
	if mismatch != 1 || malformed != 2 {
		t.Fatalf("ledger has %d mismatches and %d malformed (rate 2/s), want 1 and 2", mismatch, malformed)
	}
}

func TestBreaker(t *testing.T) {
	var trips []Trip
	var mu sync.Mutex
	f := setup(t, nil, nil, WithBreaker(Breaker{Window: 10 * time.Minute, OnTrip: func(_ context.Context, tr Trip) {
		mu.Lock()
		trips = append(trips, tr)
		mu.Unlock()
		panic("site callback bug") // a panicking callback must not break verification
	}}))
	links := f.mintBatch(t, "invite-7", 30)
	single := f.mint(t, ann)
	// In each of three groups of ten, members 1 and 2 received member 0's
	// link and typed their own addresses.
	for g := 0; g < 3; g++ {
		for i := 10*g + 1; i <= 10*g+2; i++ {
			if _, err := f.v.Consume(ctx, as(i, links[10*g].URL, fmt.Sprintf("m%d@example.org", i))); !errors.Is(err, ErrMismatch) {
				t.Fatalf("group %d, member %d: %v", g, i, err)
			}
		}
	}
	if len(trips) != 1 {
		t.Fatalf("trips = %+v", trips)
	}
	tr := trips[0]
	if tr.Batch != "invite-7" || tr.Shared != 3 || tr.Links != 3 || tr.People != 6 || tr.Mismatches != 6 || tr.Sent != 30 ||
		len(tr.Evidence) != 6 || tr.Window != 10*time.Minute || tr.Rule == "" {
		t.Fatalf("trip = %+v", tr)
	}
	if _, err := f.v.Consume(ctx, as(5, links[5].URL, "m5@example.org")); !errors.Is(err, ErrFrozen) {
		t.Fatalf("a link of the frozen batch: %v", err)
	}
	if _, err := f.v.Consume(ctx, login(single.URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatalf("a link outside the batch: %v", err)
	}
	// Another mismatch, on a frozen link, does not trip again.
	if _, err := f.v.Consume(ctx, as(9, links[1].URL, "m9@example.org")); !errors.Is(err, ErrFrozen) {
		t.Fatalf("a wrong identity on a frozen link: %v", err)
	}
	if len(trips) != 1 {
		t.Fatalf("the breaker tripped %d times", len(trips))
	}
	evs, _, _ := f.st.Events(ctx, store.EventQuery{Batch: "invite-7", Kinds: []store.EventKind{store.EventBreaker}})
	if len(evs) != 1 || evs[0].Count != 3 {
		t.Fatalf("breaker events %+v", evs)
	}
	hs, _ := f.st.Holds(ctx)
	if len(hs) != 1 || !strings.HasPrefix(hs[0].Reason, "breaker: 3 links each presented") {
		t.Fatalf("holds %+v", hs)
	}
}

func TestConcurrentConsume(t *testing.T) {
	f := setup(t, nil, nil, WithMemberLimit(100, time.Hour))
	l := f.mint(t, ann)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "ann@example.org"}))
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrUsed) {
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d winners", wins)
	}
}

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	f := setup(t, nil, nil)
	l := f.mint(t, ann)
	var errs []error
	for _, id := range []Identity{{Email: "bob@example.org"}, {Email: "ann@example.org"}, {Email: "ann@example.org"}} {
		_, err := f.v.Consume(ctx, login(l.URL, id))
		errs = append(errs, err)
	}
	_, err := f.v.Consume(ctx, login(l.Token[:len(l.Token)-3]+"xyz", Identity{}))
	errs = append(errs, err)
	sig := l.Token[strings.LastIndex(l.Token, ".")+1:]
	payload := strings.Split(l.Token, ".")[1]
	for _, s := range append([]string{f.logs.String()}, fmt.Sprint(errs)) {
		if strings.Contains(s, sig) || strings.Contains(s, payload) {
			t.Fatalf("token material in logs or errors: %s", s)
		}
	}
	if !strings.Contains(f.logs.String(), l.Claims.ID) {
		t.Fatal("the logs do not name the link by id")
	}
}

func TestMessageAndReason(t *testing.T) {
	all := []error{ErrMalformed, ErrSignature, ErrClaims, ErrExpired, ErrPurpose, ErrIdentityRequired, ErrMismatch,
		ErrUsed, ErrRevoked, ErrFrozen, ErrStale, ErrNotFound, ErrUnavailable, fromStore(store.ErrSecret), fromStore(errors.New("x"))}
	seen := map[store.Reason]bool{}
	for _, err := range all {
		if Message(err) == "" {
			t.Fatalf("Message(%v) is empty", err)
		}
		r := Reason(err)
		if r == "" || seen[r] && r != "unavailable" {
			t.Fatalf("Reason(%v) = %q (duplicate or empty)", err, r)
		}
		seen[r] = true
	}
	if Message(nil) != "" || Reason(nil) != "" {
		t.Fatal("nil error")
	}
	if Reason(fromStore(store.ErrSecret)) != "secret" || !errors.Is(fromStore(store.ErrSecret), ErrSignature) {
		t.Fatal("a secret mismatch is a signature failure with its own reason")
	}
}

func TestConfig(t *testing.T) {
	p := func() *token.Parser {
		k, _ := token.GenerateHMACKey("k")
		kr, _ := token.NewKeyring(k)
		p, _ := token.NewParser(kr, token.WithIssuer("x"))
		return p
	}()
	cases := []Option{
		WithMaxFailures(0), WithTimeout(time.Hour), WithPolicy("Bad Purpose", defaultPolicy),
		WithPolicy("login", Policy{}), WithPolicy("login", Policy{Accept: 1 << 6}), WithLedgerRate(-1),
		WithBreaker(Breaker{Window: time.Millisecond}), WithBreaker(Breaker{Shared: -1}), WithBreaker(Breaker{LinkFraction: 2}),
		WithMemberLimit(0, time.Hour), WithMemberLimit(5, time.Second),
	}
	for i, o := range cases {
		if _, err := New(p, memstore.New(), o); !errors.Is(err, ErrConfig) {
			t.Errorf("option %d: %v", i, err)
		}
	}
	if _, err := New(nil, memstore.New()); !errors.Is(err, ErrConfig) {
		t.Error("nil parser")
	}
}
