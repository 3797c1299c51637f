package main

import (
	"encoding/json"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// These tests are the operator who types fast on the worst day: a mistyped
// path, a scope that names nothing, a filter as wide as everything, a year
// off by thirty-six, and strangers' bytes in the report.

// fixture is a store with links minted and a verifier to try them.
type fixture struct {
	st  store.Store
	url string
	iss *token.Issuer
	v   *verify.Verifier
}

func newFixture(t *testing.T, b teststores.Backend) *fixture {
	t.Helper()
	st, url := b.New(t)
	key, _ := token.GenerateHMACKey("k")
	keys, _ := token.NewKeyring(key)
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := iss.Parser()
	v, err := verify.New(p, st)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, url: url, iss: iss, v: v}
}

func (f *fixture) mint(t *testing.T, batch string, n int) []*token.Link {
	t.Helper()
	var reqs []token.Request
	for i := 0; i < n; i++ {
		reqs = append(reqs, token.Request{Member: fmt.Sprintf("%s-m%d", batch, i), Purpose: token.PurposeLogin,
			Recipient: fmt.Sprintf("%s-%d@example.org", batch, i)})
	}
	ls, err := f.iss.MintBatch(ctx, batch, reqs)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func (f *fixture) consume(l *token.Link, session string) error {
	_, err := f.v.Consume(ctx, verify.Request{Link: l.URL, Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: l.Recipient}, Session: session, IP: "192.0.2.1"})
	return err
}

// TestCLINeverInventsAStore: a mistyped store address is an error that names
// it, never a new, empty store that a freeze silently protects.
func TestCLINeverInventsAStore(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "onceink.db")
	r := oncelink(t, "", "--store", "sqlite:"+typo, "freeze", "--global")
	if r.code == 0 || strings.Contains(r.stdout, "frozen") {
		t.Fatalf("a freeze on a mistyped path: exit %d, stdout %q", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, typo) || !strings.Contains(r.stderr, "oncelink init") {
		t.Fatalf("the error does not name the path and the way to create a store: %q", r.stderr)
	}
	if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the CLI created %s: %v", typo, err)
	}

	r = oncelink(t, "", "--store", "memory:", "freeze", "--global")
	if r.code == 0 || strings.Contains(r.stdout, "frozen") {
		t.Fatalf("a freeze on memory:: exit %d, stdout %q", r.code, r.stdout)
	}

	// An empty file, or another program's database, is not a store either.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r = oncelink(t, "", "--store", "sqlite:"+empty, "freeze", "--global")
	if r.code == 0 || !strings.Contains(r.stderr, empty) {
		t.Fatalf("a freeze on an empty file: exit %d, stderr %q", r.code, r.stderr)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Fatalf("the CLI wrote to an empty file: %v", err)
	}

	// oncelink init creates one, and then the freeze works.
	fresh := filepath.Join(dir, "oncelink.db")
	oncelink(t, "", "--store", "sqlite:"+fresh, "init").want(t, 0)
	oncelink(t, "", "--store", "sqlite:"+fresh, "freeze", "--global", "--force").want(t, 0)
}

// TestCLINeverInventsAServerStore: on PostgreSQL, MariaDB and Redis, a
// mistyped schema, table prefix or key prefix is an error, and creates
// nothing.
func TestCLINeverInventsAServerStore(t *testing.T) {
	for _, b := range teststores.Durable()[1:] {
		t.Run(b.Name, func(t *testing.T) {
			_, url := b.New(t)
			typo := strings.Replace(strings.Replace(url, "oncelink_schema=", "oncelink_schema=x", 1), "oncelink_prefix=", "oncelink_prefix=x", 1)
			if typo == url {
				// A MariaDB store of the tests is a database of its own,
				// its tables under the default prefix: mistype the prefix.
				u, err := neturl.Parse(url)
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				q.Set("oncelink_prefix", "x_")
				u.RawQuery = q.Encode()
				typo = u.String()
			}
			r := oncelink(t, "", "--store", typo, "freeze", "--global")
			if r.code == 0 || strings.Contains(r.stdout, "frozen") || !strings.Contains(r.stderr, "oncelink init") {
				t.Fatalf("a freeze on a mistyped store: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r = oncelink(t, "", "--store", typo, "state")
			if r.code == 0 {
				t.Fatalf("state of a store that does not exist: exit 0: %s", r.stdout)
			}
		})
	}
}

// TestCLIScopeMatchesNothing: a freeze, thaw or revoke of a batch or member
// that has no link says so and changes nothing, unless --force.
func TestCLIScopeMatchesNothing(t *testing.T) {
	f := newFixture(t, teststores.Durable()[0])
	links := f.mint(t, "invite-7", 4)
	cases := []struct {
		name string
		args []string
	}{
		{"freeze batch", []string{"freeze", "--batch", "invite-2026-11", "--reason", "wrong links"}},
		{"freeze member", []string{"freeze", "--member", "nobody"}},
		{"thaw batch", []string{"thaw", "--batch", "invite-2026-11"}},
		{"revoke batch", []string{"revoke", "--batches", "invite-2026-11"}},
		{"revoke member", []string{"revoke", "--members", "nobody"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := oncelink(t, "", append([]string{"--store", f.url}, tc.args...)...)
			if r.code != exitNoMatch || !strings.Contains(r.stderr, "matches no link") {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
	if s, _ := f.st.Holds(ctx); len(s) != 0 {
		t.Fatalf("a refused freeze placed a hold: %+v", s)
	}
	if m, _ := f.st.Marks(ctx); len(m) != 0 {
		t.Fatalf("a refused revoke placed a watermark: %+v", m)
	}
	oncelink(t, "", "--store", f.url, "freeze", "--batch", "invite-2026-11", "--force").want(t, 0)

	// A freeze that covers links says how many.
	r := oncelink(t, "", "--store", f.url, "freeze", "--batch", "invite-7").want(t, 0)
	if !strings.Contains(r.stdout, "4 outstanding links") {
		t.Fatalf("freeze output does not count the links: %q", r.stdout)
	}
	if err := f.consume(links[0], "s"); !errors.Is(err, verify.ErrFrozen) {
		t.Fatalf("after the freeze: %v", err)
	}
}

// TestCLIBatches lists the batches a site sent, with their counts.
func TestCLIBatches(t *testing.T) {
	f := newFixture(t, teststores.Durable()[0])
	a := f.mint(t, "invite-20261125-093000.000", 5)
	f.mint(t, "reminder-20261126-080000.000", 3)
	if err := f.consume(a[0], "s0"); err != nil {
		t.Fatal(err)
	}
	oncelink(t, "", "--store", f.url, "freeze", "--batch", "reminder-20261126-080000.000").want(t, 0)
	r := oncelink(t, "", "--store", f.url, "batches").want(t, 0)
	if !strings.Contains(r.stdout, "invite-20261125-093000.000") || !strings.Contains(r.stdout, "reminder-20261126-080000.000") {
		t.Fatalf("batches: %s", r.stdout)
	}
	r = oncelink(t, "", "--store", f.url, "--json", "batches").want(t, 0)
	var out struct {
		Batches []struct {
			Batch    string `json:"batch"`
			Links    int64  `json:"links"`
			Consumed int64  `json:"consumed"`
			Frozen   int64  `json:"frozen"`
			Issued   int64  `json:"issued"`
		} `json:"batches"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Batches) != 2 {
		t.Fatalf("batches --json: %v %s", err, r.stdout)
	}
	got := out.Batches[0]
	if got.Batch != "invite-20261125-093000.000" || got.Links != 5 || got.Consumed != 1 || got.Issued != 4 {
		t.Fatalf("first batch: %+v", got)
	}
	if got := out.Batches[1]; got.Links != 3 || got.Frozen != 3 || got.Issued != 0 {
		t.Fatalf("second batch: %+v", got)
	}
}

// TestCLIWideRevokeAsks: a filter that selects as much as --all asks as
// --all does, and shows the count.
func TestCLIWideRevokeAsks(t *testing.T) {
	f := newFixture(t, teststores.Durable()[0])
	links := f.mint(t, "b", 10)
	for _, args := range [][]string{
		{"revoke", "--issued-from", "2000-01-01T00:00:00Z"},
		{"revoke", "--purpose", "login"},
		{"revoke", "--batches", "b"},
		{"revoke", "--all"},
	} {
		r := oncelink(t, "", append([]string{"--store", f.url}, args...)...)
		if r.code != exitNotConfirmed || !strings.Contains(r.stderr, "10") {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if err := f.consume(links[0], "s0"); err != nil {
		t.Fatalf("an unconfirmed wide revoke revoked: %v", err)
	}
	r := oncelink(t, "revoke 9\n", "--store", f.url, "revoke", "--purpose", "login").want(t, 0)
	if !strings.Contains(r.stdout, "9") {
		t.Fatalf("revoke output does not count the links: %q", r.stdout)
	}
	if err := f.consume(links[1], "s1"); !errors.Is(err, verify.ErrRevoked) {
		t.Fatalf("after the confirmed revoke: %v", err)
	}
}

// TestCLIFutureWatermark: a watermark in the future would refuse every link
// minted until then, and nothing could lower it.
func TestCLIFutureWatermark(t *testing.T) {
	f := newFixture(t, teststores.Durable()[0])
	f.mint(t, "b", 3)
	r := oncelink(t, "", "--store", f.url, "revoke", "--issued-before", "2062-11-25T10:00:00Z", "--yes").want(t, exitUsage)
	if !strings.Contains(r.stderr, "--issued-before") || !strings.Contains(r.stderr, "future") {
		t.Fatalf("stderr %q", r.stderr)
	}
	if m, _ := f.st.Marks(ctx); len(m) != 0 {
		t.Fatalf("a future watermark was set: %+v", m)
	}
	later := f.mint(t, "c", 1)
	if err := f.consume(later[0], "s"); err != nil {
		t.Fatalf("a link minted after the refused revoke: %v", err)
	}
}

// TestCLIReportEscapes: the human report shows strangers' bytes escaped,
// never as terminal control sequences.
func TestCLIReportEscapes(t *testing.T) {
	f := newFixture(t, teststores.Durable()[0])
	links := f.mint(t, "b", 2)
	evil := "\x1b]0;owned\x07\x1b[2J\r"
	if _, err := f.v.Consume(ctx, verify.Request{Link: links[0].URL, Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: links[0].Recipient}, IP: "192.0.2.1" + evil, UserAgent: "ua" + evil, Session: "s0"}); err != nil {
		t.Fatal(err)
	}
	f.v.Consume(ctx, verify.Request{Link: links[1].URL, Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: "x@evil.example"}, IP: "198.51.100.1" + evil, UserAgent: "ua" + evil})
	r := oncelink(t, "", "--store", f.url, "report", "--batch", "b").want(t, 0)
	for i := 0; i < len(r.stdout); i++ {
		if c := r.stdout[i]; (c < 0x20 && c != '\n') || c == 0x7f {
			t.Fatalf("the report wrote control byte %#x to the terminal: %q", c, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, `\x1b`) || !strings.Contains(r.stdout, "ua") {
		t.Fatalf("the escaped text is not shown: %q", r.stdout)
	}
}
