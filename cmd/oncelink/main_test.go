package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

var binary string

// TestMain builds the oncelink binary once; the tests run it as an operator
// would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "oncelink-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "oncelink")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the binary: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func oncelink(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "ONCELINK_ACTOR=tester", "ONCELINK_STORE=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

var ctx = context.Background()

func TestCLI(t *testing.T) {
	for _, b := range teststores.Durable() {
		t.Run(b.Name, func(t *testing.T) {
			st, url := b.New(t)
			key, _ := token.GenerateHMACKey("k")
			keys, _ := token.NewKeyring(key)
			iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
			p, _ := iss.Parser()
			v, err := verify.New(p, st)
			if err != nil {
				t.Fatal(err)
			}
			mint := func(batch string, n int) []*token.Link {
				var reqs []token.Request
				for i := 0; i < n; i++ {
					reqs = append(reqs, token.Request{Member: fmt.Sprintf("%s-m%d", batch, i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("%s-%d@example.org", batch, i)})
				}
				ls, err := iss.MintBatch(ctx, batch, reqs)
				if err != nil {
					t.Fatal(err)
				}
				return ls
			}
			consume := func(l *token.Link, session string) error {
				_, err := v.Consume(ctx, verify.Request{Link: l.URL, Purpose: token.PurposeLogin,
					Identity: verify.Identity{Email: l.Recipient}, Session: session, IP: "192.0.2.1"})
				return err
			}
			b1, b2 := mint("b1", 5), mint("b2", 5)
			for i := 0; i < 2; i++ {
				if err := consume(b1[i], fmt.Sprint("sess-b1-", i)); err != nil {
					t.Fatal(err)
				}
			}

			oncelink(t, "", "--store", url, "state").want(t, 0)

			r := oncelink(t, "", "--store", url, "--json", "revoke", "--batches", "b1", "--dry-run").want(t, 0)
			var preview map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &preview); err != nil || preview["matching"] != 5.0 || preview["consumed"] != 2.0 {
				t.Fatalf("dry run: %v %s", err, r.stdout)
			}
			if err := consume(b1[2], "sess-b1-2"); err != nil {
				t.Fatalf("a dry run revoked: %v", err)
			}

			oncelink(t, "", "--store", url, "freeze", "--batch", "b2", "--reason", "wrong links").want(t, 0)
			if err := consume(b2[0], "x"); !errors.Is(err, verify.ErrFrozen) {
				t.Fatalf("after the CLI froze b2: %v", err)
			}
			r = oncelink(t, "", "--store", url, "state").want(t, 0)
			if !strings.Contains(r.stdout, "freeze") || !strings.Contains(r.stdout, "b2") || !strings.Contains(r.stdout, "wrong links") {
				t.Fatalf("state: %s", r.stdout)
			}
			oncelink(t, "", "--store", url, "thaw", "--batch", "b2").want(t, 0)
			if err := consume(b2[0], "sess-b2-0"); err != nil {
				t.Fatalf("after the CLI thawed b2: %v", err)
			}

			r = oncelink(t, "", "revoke", "--store", url, "--json", "--batches", "b1").want(t, 0)
			var res map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res["revoked"] != 5.0 || len(res["sessions"].([]any)) != 3 {
				t.Fatalf("revoke: %v %s", err, r.stdout)
			}
			if err := consume(b1[4], "x"); !errors.Is(err, verify.ErrRevoked) {
				t.Fatalf("after the CLI revoked b1: %v", err)
			}

			r = oncelink(t, "", "--store", url, "report", "--batch", "b1", "--csv").want(t, 0)
			rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
			if err != nil || rows[0][0] != "event" || len(rows) != 1+5+3+1 { // issued, consumed, and the refused late attempt
				t.Fatalf("csv report (%v): %q", err, r.stdout)
			}
			r = oncelink(t, "", "--store", url, "report", "--batch", "b1").want(t, 0)
			// The three logins were the members' own: listed, with their
			// sessions, not counted as affected.
			if !strings.Contains(r.stdout, "logins: 3 confirmed") || !strings.Contains(r.stdout, "affected members, to contact (0)") || !strings.Contains(r.stdout, "sess-b1-2") {
				t.Fatalf("report: %s", r.stdout)
			}

			// Revoking everything asks first, with the count of outstanding
			// links (b2's four); anything but the phrase aborts.
			r = oncelink(t, "yes\n", "--store", url, "revoke", "--all").want(t, 3)
			if !strings.Contains(r.stderr, `"revoke 4"`) {
				t.Fatalf("no confirmation prompt: %s", r.stderr)
			}
			oncelink(t, "", "--store", url, "revoke", "--all").want(t, 3)
			if err := consume(b2[1], "sess-b2-1"); err != nil {
				t.Fatalf("an unconfirmed revoke-all revoked: %v", err)
			}
			r = oncelink(t, "revoke 3\n", "--store", url, "revoke", "--all").want(t, 0)
			if !strings.Contains(r.stdout, "watermark") || !strings.Contains(r.stdout, "sess-b2-1") {
				t.Fatalf("revoke --all: %s", r.stdout)
			}
			if err := consume(b2[2], "x"); !errors.Is(err, verify.ErrRevoked) {
				t.Fatalf("after revoke --all: %v", err)
			}

			oncelink(t, "", "--store", url, "purge", "--older-than", "720h", "--dry-run").want(t, 0)
			oncelink(t, "", "--store", url, "purge", "--older-than", "720h").want(t, 3)
			r = oncelink(t, "", "--store", url, "--json", "purge", "--older-than", "720h", "--yes").want(t, 0)
			if !strings.Contains(r.stdout, `"purged": 0`) {
				t.Fatalf("purge: %s", r.stdout)
			}
		})
	}
}

func TestCLIUsage(t *testing.T) {
	st, url := teststores.SQLite(t)
	_ = st
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"no command", nil, 2},
		{"help", []string{"help"}, 0},
		{"unknown command", []string{"--store", url, "nuke"}, 2},
		{"no store", []string{"state"}, 2},
		{"bad store url", []string{"--store", "ftp://x", "state"}, 2},
		{"empty filter", []string{"--store", url, "revoke"}, 2},
		{"all with more", []string{"--store", url, "revoke", "--all", "--batches", "b"}, 2},
		{"bad id", []string{"--store", url, "revoke", "--ids", "nope"}, 2},
		{"bad time", []string{"--store", url, "revoke", "--issued-before", "yesterday"}, 2},
		{"two scopes", []string{"--store", url, "freeze", "--global", "--batch", "b"}, 2},
		{"no scope", []string{"--store", url, "thaw"}, 2},
		{"report without scope", []string{"--store", url, "report"}, 2},
		{"purge in the future", []string{"--store", url, "purge", "--before", time.Now().Add(time.Hour).Format(time.RFC3339)}, 2},
		{"stray argument", []string{"--store", url, "state", "extra"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oncelink(t, "", tc.args...).want(t, tc.want)
		})
	}
}

// TestCLIStoreDown points the CLI at a PostgreSQL, a MariaDB and a Redis
// address where nothing listens: it fails with exit 1 and claims nothing was done.
func TestCLIStoreDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, url := range []string{"postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=2", "mysql://root@" + addr + "/test?timeout=2s", "redis://" + addr + "/0?dial_timeout=2s"} {
		r := oncelink(t, "", "--store", url, "freeze", "--global")
		if r.code != 1 || strings.Contains(r.stdout, "frozen") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", url, r.code, r.stdout, r.stderr)
		}
	}
	_ = store.ScopeGlobal
}
