package verify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// hmacFixture sets up a verifier with an HS256 key whose secret the test
// knows, as every verifier of an HS256 site does.
func hmacFixture(t testing.TB, st store.Store, opts ...Option) (*fixture, []byte) {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	key, err := token.NewHMACKey("k1", secret)
	if err != nil {
		t.Fatal(err)
	}
	return setup(t, key, st, opts...), secret
}

// resign changes the claims of tok and signs it again with secret.
func resign(t testing.TB, secret []byte, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b64 := base64.RawURLEncoding
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	out, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := parts[0] + "." + b64.EncodeToString(out)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(m.Sum(nil))
}

// TestForgedClaimsEveryStore re-signs one's own consumable link with the
// real HS256 key and another member, purpose or batch: the record, not the
// claims, decides, on every store.
func TestForgedClaimsEveryStore(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			f, secret := hmacFixture(t, st)
			cases := []struct {
				name string
				mint token.Request
				edit func(map[string]any)
			}{
				{"another member", token.Request{Member: "m-mallory", Purpose: token.PurposeLogin, Recipient: "mallory@example.org"},
					func(c map[string]any) { c["sub"] = "m-17" }},
				{"another purpose", token.Request{Member: "m-mallory", Purpose: token.PurposeVerifyEmail, Recipient: "mallory@example.org"},
					func(c map[string]any) { c["aud"] = token.PurposeLogin }},
				{"a batch added", token.Request{Member: "m-mallory", Purpose: token.PurposeLogin, Recipient: "mallory@example.org"},
					func(c map[string]any) { c["bat"] = "b-other" }},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					own := f.mint(t, tc.mint)
					forged := resign(t, secret, own.Token, tc.edit)
					res, err := f.v.Consume(ctx, login(forged, Identity{Email: "mallory@example.org"}))
					if err == nil {
						t.Fatalf("the forged token logged in as %s", res.Claims.Member)
					}
					if !errors.Is(err, ErrSignature) || Reason(err) != "forged" {
						t.Fatalf("forged token: %v (reason %q), want ErrSignature, reason forged", err, Reason(err))
					}
					if r := f.status(t, own.Claims.ID); r.Status != store.StatusIssued {
						t.Fatalf("the forged token changed the record: %v", r.Status)
					}
				})
			}
		})
	}
}

// TestLedgerTextEveryStore presents a link with a user agent and address
// that are not UTF-8 (one byte is legal in HTTP): the mismatch is recorded
// and the owner logs in, on every store.
func TestLedgerTextEveryStore(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			f := setup(t, nil, st)
			l := f.mint(t, ann)
			req := login(l.URL, Identity{Email: "bob@example.org"})
			req.UserAgent, req.IP = "Mozilla/5.0 \xff\xfe", "192.0.2.\xff"
			if _, err := f.v.Consume(ctx, req); !errors.Is(err, ErrMismatch) {
				t.Fatalf("mismatch: %v", err)
			}
			evs, _, err := f.st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventRefused}})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].TokenID != l.Claims.ID || !strings.HasPrefix(evs[0].Presentation.UserAgent, "Mozilla/5.0 ") {
				t.Fatalf("the mismatch was not recorded: %+v", evs)
			}
			owner := login(l.URL, Identity{Email: "ann@example.org"})
			owner.UserAgent = "Mozilla/5.0 \xff"
			if _, err := f.v.Consume(ctx, owner); err != nil {
				t.Fatalf("the owner: %v", err)
			}
		})
	}
}

// TestGuessingSettledLinks guesses the identity of links that are used or
// revoked: a wrong guess gets the answer a right one gets, and counts.
func TestGuessingSettledLinks(t *testing.T) {
	f := setup(t, nil, nil)
	used := f.mint(t, ann)
	if _, err := f.v.Consume(ctx, login(used.URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatal(err)
	}
	revoked := f.mint(t, ann)
	if _, err := f.st.Revoke(ctx, store.Filter{IDs: []string{revoked.Claims.ID}}, f.clk.now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		link    *token.Link
		wantErr error
	}{
		{"used", used, ErrUsed},
		{"revoked", revoked, ErrRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, right := f.v.Consume(ctx, login(tc.link.URL, Identity{Email: "ann@example.org"}))
			for i := 0; i < 8; i++ {
				_, wrong := f.v.Consume(ctx, login(tc.link.URL, Identity{Email: fmt.Sprintf("guess%d@example.org", i)}))
				if !errors.Is(wrong, tc.wantErr) || !errors.Is(right, tc.wantErr) || Reason(wrong) != Reason(right) || errors.Is(wrong, ErrMismatch) {
					t.Fatalf("guess %d: wrong %v, right %v: want both %v", i, wrong, right, tc.wantErr)
				}
			}
			if r := f.status(t, tc.link.Claims.ID); r.Failures != 8 {
				t.Fatalf("failures on a %s link: %d, want every wrong guess counted", tc.name, r.Failures)
			}
		})
	}
}

// countingStore records which store methods a verification calls.
type countingStore struct {
	store.Store
	mu         sync.Mutex
	calls      []string
	failAppend bool
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
	if c.failAppend {
		return fmt.Errorf("%w: ledger disk full", store.ErrUnavailable)
	}
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

// TestGuessCostsTheSame compares the store work of a right and a wrong
// guess at a link that is no longer consumable: the same calls, in the
// same order.
func TestGuessCostsTheSame(t *testing.T) {
	cs := &countingStore{}
	f := setup(t, nil, nil)
	cs.Store = f.st
	f = setup(t, nil, cs)
	ls, err := f.iss.MintBatch(ctx, "b-guess", []token.Request{ann, {Member: "m-2", Purpose: token.PurposeLogin, Recipient: "b@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Consume(ctx, login(ls[0].URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatal(err)
	}
	cs.take()
	f.v.Consume(ctx, login(ls[0].URL, Identity{Email: "ann@example.org"}))
	right := cs.take()
	f.v.Consume(ctx, login(ls[0].URL, Identity{Email: "bob@example.org"}))
	wrong := cs.take()
	if fmt.Sprint(right) != fmt.Sprint(wrong) {
		t.Fatalf("a right guess costs %v, a wrong one %v", right, wrong)
	}
}

// TestMemberThrottle guesses one member's identity across many of their
// links, through two verifiers sharing the store: once the member's cap is
// reached, even the right identity on a fresh link is refused.
func TestMemberThrottle(t *testing.T) {
	f := setup(t, nil, nil)
	p, err := f.iss.Parser()
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(p, f.st)
	if err != nil {
		t.Fatal(err)
	}
	verifiers := []*Verifier{f.v, other}
	n := 0
	for i := 0; i < 12; i++ {
		l := f.mint(t, ann)
		for j := 0; j < 5; j++ {
			verifiers[n%2].Consume(ctx, login(l.URL, Identity{Email: fmt.Sprintf("guess%d@example.org", n)}))
			n++
		}
	}
	fresh := f.mint(t, ann)
	if _, err := f.v.Consume(ctx, login(fresh.URL, Identity{Email: "ann@example.org"})); err == nil {
		t.Fatalf("after %d guesses across the member's links, the right identity still logs in", n)
	}
}

// TestUnreadableIdentityNotRecorded pastes a link into the address field:
// what does not canonicalise is recorded as a fingerprint, never verbatim.
func TestUnreadableIdentityNotRecorded(t *testing.T) {
	f := setup(t, nil, nil)
	l := f.mint(t, ann)
	pasted := l.URL
	if _, err := f.v.Consume(ctx, login(l.URL, Identity{Email: pasted})); !errors.Is(err, ErrMismatch) {
		t.Fatal(err)
	}
	if _, err := f.v.Consume(ctx, login("not a link", Identity{Email: "secret words " + l.Token})); err == nil {
		t.Fatal("garbage accepted")
	}
	evs, _, err := f.st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventRefused}})
	if err != nil {
		t.Fatal(err)
	}
	sig := l.Token[strings.LastIndex(l.Token, ".")+1:]
	if len(evs) != 2 {
		t.Fatalf("events: %+v", evs)
	}
	for _, e := range evs {
		if strings.Contains(e.Presentation.Identity, sig[:8]) || strings.Contains(e.Presentation.Identity, "secret words") || e.Presentation.Identity == "" {
			t.Fatalf("recorded identity %q", e.Presentation.Identity)
		}
	}
}

// TestRequestRedacted prints a request every way fmt and slog can.
func TestRequestRedacted(t *testing.T) {
	f := setup(t, nil, nil)
	l := f.mint(t, ann)
	req := login(l.URL, Identity{Email: "ann@example.org"})
	sig := l.Token[strings.LastIndex(l.Token, ".")+1:]
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("request", "req", req, "ptr", &req)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("request", "req", req)
	for _, s := range []string{fmt.Sprintf("%v", req), fmt.Sprintf("%+v", req), fmt.Sprintf("%#v", req), fmt.Sprintf("%s", req),
		fmt.Sprintf("%v", &req), fmt.Sprintf("%+v", []Request{req}), logs.String()} {
		if strings.Contains(s, sig) {
			t.Fatalf("the token is printed: %s", s)
		}
	}
}
