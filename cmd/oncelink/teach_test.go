package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
)

// These tests are the operator who has never run oncelink before: they ask
// each command for help, mistype a flag, write a duration in days, and feed
// the JSON to a script.

// commands is every command the CLI has.
var commands = []string{"batches", "freeze", "thaw", "revoke", "state", "report", "purge", "init", "migrate"}

// TestCLIHelpPerCommand: --help, -h and 'help CMD' print that command's
// flags and a worked example, on stdout, with exit 0.
func TestCLIHelpPerCommand(t *testing.T) {
	flagsOf := map[string][]string{
		"batches": {"--json"},
		"freeze":  {"--global", "--batch", "--member", "--reason", "--force", "--actor"},
		"thaw":    {"--global", "--batch", "--member", "--force", "--actor"},
		"revoke":  {"--all", "--ids", "--members", "--batches", "--purpose", "--issued-from", "--issued-before", "--consumed", "--dry-run", "--yes", "--force", "--actor"},
		"state":   {"--json"},
		"report":  {"--batch", "--since", "--until", "--csv"},
		"purge":   {"--older-than", "--before", "--dry-run", "--yes", "--actor"},
		"init":    {"--repair"},
		"migrate": {"--repair"},
	}
	for _, cmd := range commands {
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}, {"--store", "sqlite:/nonexistent/x.db", cmd, "--help"}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := oncelink(t, "", args...).want(t, 0)
				if !strings.Contains(r.stdout, "usage: oncelink "+cmd) {
					t.Fatalf("no usage line for %s:\n%s", cmd, r.stdout)
				}
				if !strings.Contains(r.stdout, "Example") || !strings.Contains(r.stdout, "\n    oncelink ") {
					t.Fatalf("no worked example for %s:\n%s", cmd, r.stdout)
				}
				for _, f := range append(flagsOf[cmd], "--store", "--timeout") {
					if !strings.Contains(r.stdout, f) {
						t.Fatalf("help of %s does not name %s:\n%s", cmd, f, r.stdout)
					}
				}
				if strings.Contains(r.stdout, "flag: help requested") || r.stderr != "" {
					t.Fatalf("help of %s: stderr %q", cmd, r.stderr)
				}
			})
		}
	}
	r := oncelink(t, "", "help", "nuke").want(t, 2)
	if !strings.Contains(r.stderr, `unknown command "nuke"`) {
		t.Fatalf("help nuke: %q", r.stderr)
	}
}

// goWords are Go field names and API words an operator never typed.
var goWords = regexp.MustCompile(`IssuedBefore|IssuedFrom|\bAll\b|call Migrate|parse error|flag -[a-z]|store: invalid argument|ErrInvalid`)

// TestCLIErrorsSpeakFlags: every usage error names the flag or command the
// operator typed, never a Go field, and the exit code is 2.
func TestCLIErrorsSpeakFlags(t *testing.T) {
	_, url := teststores.SQLite(t)
	members := make([]string, store.MaxFilterValues+1)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"empty filter", []string{"revoke"}, "say what to revoke: --all"},
		{"window", []string{"revoke", "--issued-from", "2026-01-02T00:00:00Z", "--issued-before", "2026-01-01T00:00:00Z"}, "--issued-before must be after --issued-from"},
		{"days", []string{"purge", "--older-than", "30x"}, `--older-than: "30x" is not a duration`},
		{"negative", []string{"purge", "--older-than", "-3d"}, "--older-than must be positive"},
		{"bad time", []string{"report", "--since", "yesterday"}, `--since: "yesterday" is not an RFC 3339 time`},
		{"unknown flag", []string{"revoke", "--batch", "b"}, "revoke: unknown flag --batch"},
		{"too many", []string{"revoke", "--members", strings.Join(members, ",")}, fmt.Sprintf("--ids, --members and --batches name %d values together, at most %d", store.MaxFilterValues+1, store.MaxFilterValues)},
		{"long member", []string{"revoke", "--members", strings.Repeat("m", store.MaxMemberLen+1)}, "--members: a member id is at most 256 bytes"},
		{"long purpose", []string{"revoke", "--purpose", strings.Repeat("p", store.MaxPurposeLen+1)}, "--purpose is at most 64 bytes"},
		{"bad timeout", []string{"--timeout", "soon", "state"}, `--timeout: "soon" is not a duration`},
		{"long reason", []string{"freeze", "--global", "--reason", strings.Repeat("r", store.MaxReasonLen+1)}, "--reason is at most 1024 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := oncelink(t, "", append([]string{"--store", url}, tc.args...)...).want(t, 2)
			if !strings.Contains(r.stderr, tc.want) || goWords.MatchString(r.stderr) {
				t.Fatalf("stderr %q, want %q and no Go words", r.stderr, tc.want)
			}
			if !strings.Contains(r.stderr, "oncelink "+tc.args[0]+" --help") && tc.name != "bad timeout" {
				t.Fatalf("stderr %q does not point at the command's help", r.stderr)
			}
		})
	}
}

// TestCLIDurationsInDays: --older-than takes days, as an operator writes a
// retention.
func TestCLIDurationsInDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"30d", 30 * 24 * time.Hour}, {"12h", 12 * time.Hour}, {"1d12h", 36 * time.Hour}, {"720h", 720 * time.Hour}, {"1.5d", 36 * time.Hour}} {
		got, err := parseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "d", "30", "3dd", "1h1d", "-d", "9999999999d", "1d-1h"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
	st, url := teststores.SQLite(t)
	_ = st
	r := oncelink(t, "", "--store", url, "purge", "--older-than", "30d", "--dry-run").want(t, 0)
	if !strings.Contains(r.stdout, "would purge") {
		t.Fatalf("purge --older-than 30d --dry-run: %q", r.stdout)
	}
}

// TestCLINoStoreSpeaksCommands: a PostgreSQL schema that was never created
// is answered with the command that creates it, not the Go method.
func TestCLINoStoreSpeaksCommands(t *testing.T) {
	_, url := teststores.Postgres(t)
	u := strings.Replace(url, "oncelink_schema=", "oncelink_schema=never_", 1)
	if u == url {
		t.Fatalf("no schema in %s", url)
	}
	r := oncelink(t, "", "--store", u, "state").want(t, 1)
	if !strings.Contains(r.stderr, "'oncelink init'") || goWords.MatchString(r.stderr) {
		t.Fatalf("stderr %q", r.stderr)
	}
}

// TestCLIJSONVocabulary: scripts get snake_case keys, scopes as words, RFC
// 3339 times and [] for empty lists.
func TestCLIJSONVocabulary(t *testing.T) {
	f := newFixture(t, teststores.Durable()[0])
	ls := f.mint(t, "b1", 4)
	if err := f.consume(ls[0], "s-1"); err != nil {
		t.Fatal(err)
	}
	oncelink(t, "", "--store", f.url, "state", "--json").want(t, 0).checkJSON(t, `"holds": []`, `"watermarks": []`)
	oncelink(t, "", "--store", f.url, "freeze", "--batch", "b1", "--reason", "r").want(t, 0)
	oncelink(t, "", "--store", f.url, "revoke", "--members", "b1-m1").want(t, 0)
	r := oncelink(t, "", "--store", f.url, "state", "--json").want(t, 0).checkJSON(t, `"scope": "batch"`, `"key": "b1"`, `"member": "b1-m1"`)
	var s struct {
		Holds []struct {
			Since string `json:"since"`
		} `json:"holds"`
	}
	json.Unmarshal([]byte(r.stdout), &s)
	if len(s.Holds) != 1 {
		t.Fatalf("state: %s", r.stdout)
	}
	if _, err := time.Parse(time.RFC3339Nano, s.Holds[0].Since); err != nil {
		t.Fatalf("since: %v", err)
	}
	oncelink(t, "", "--store", f.url, "report", "--batch", "b1", "--json").want(t, 0).checkJSON(t,
		`"consumed_by": {`, `"identity": "email:b1-0@example.org"`, `"actions": [`, `"kind": "frozen"`, `"actor": "tester"`)
}

// checkJSON asserts the output is JSON with only snake_case keys, holding
// each of want.
func (r result) checkJSON(t *testing.T, want ...string) result {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if k := badKey(v); k != "" {
		t.Fatalf("key %q is not snake_case:\n%s", k, r.stdout)
	}
	if strings.Contains(r.stdout, "null") {
		t.Fatalf("null in:\n%s", r.stdout)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Fatalf("no %s in:\n%s", w, r.stdout)
		}
	}
	return r
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func badKey(v any) string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !snake.MatchString(k) {
				return k
			}
			if b := badKey(x); b != "" {
				return b
			}
		}
	case []any:
		for _, x := range v {
			if b := badKey(x); b != "" {
				return b
			}
		}
	}
	return ""
}

// TestCLIDryRunCountsAsTheRunDoes: on a batch already revoked, the dry run
// and the revocation say the same number.
func TestCLIDryRunCountsAsTheRunDoes(t *testing.T) {
	f := newFixture(t, teststores.Durable()[0])
	f.mint(t, "b1", 5)
	f.mint(t, "b2", 20)
	oncelink(t, "", "--store", f.url, "revoke", "--batches", "b1").want(t, 0)
	dry := oncelink(t, "", "--store", f.url, "revoke", "--batches", "b1", "--dry-run").want(t, 0)
	real := oncelink(t, "", "--store", f.url, "revoke", "--batches", "b1").want(t, 0)
	if !strings.HasPrefix(dry.stdout, "would revoke: 0 outstanding links") || !strings.HasPrefix(real.stdout, "revoked: 0 outstanding links") {
		t.Fatalf("dry run %q, run %q", dry.stdout, real.stdout)
	}
	dry = oncelink(t, "", "--store", f.url, "revoke", "--batches", "b2", "--ids", "x", "--dry-run")
	_ = dry
	dj := oncelink(t, "", "--store", f.url, "--json", "revoke", "--members", "b2-m1,b2-m2", "--dry-run").want(t, 0)
	rj := oncelink(t, "", "--store", f.url, "--json", "revoke", "--members", "b2-m1,b2-m2").want(t, 0)
	var d, r struct {
		Outstanding *int64 `json:"outstanding"`
	}
	json.Unmarshal([]byte(dj.stdout), &d)
	json.Unmarshal([]byte(rj.stdout), &r)
	if d.Outstanding == nil || r.Outstanding == nil || *d.Outstanding != 2 || *r.Outstanding != 2 {
		t.Fatalf("dry run %s\nrun %s", dj.stdout, rj.stdout)
	}
}

// TestCLIActor: every action is recorded in the ledger with who acted:
// --actor, or the operating system's user.
func TestCLIActor(t *testing.T) {
	f := newFixture(t, teststores.Durable()[0])
	f.mint(t, "b1", 3)
	run := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"--store", f.url}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	noUser := []string{"ONCELINK_ACTOR=", "USER=", "SUDO_USER=", "LOGNAME="}
	run(noUser, "freeze", "--batch", "b1", "--actor", "ann@ops")
	run(noUser, "thaw", "--batch", "b1", "--actor", "ann@ops")
	run(noUser, "revoke", "--members", "b1-m0")
	run(append(noUser, "ONCELINK_ACTOR=bob"), "revoke", "--ids", mustID(t, f, "b1-m1"))
	evs, _, err := f.st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventFrozen, store.EventThawed, store.EventWatermark, store.EventRevoked}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	osUser := currentUser()
	want := []string{"ann@ops", "ann@ops", osUser, "bob"}
	if len(evs) != len(want) {
		t.Fatalf("events: %+v", evs)
	}
	for i, e := range evs {
		if e.Actor != want[i] {
			t.Errorf("%s by %q, want %q", e.Kind, e.Actor, want[i])
		}
	}
	if osUser == "" || osUser == "cli" {
		t.Fatalf("the operating system's user is %q", osUser)
	}
}

func mustID(t *testing.T, f *fixture, member string) string {
	t.Helper()
	recs, err := f.st.Records(ctx, store.RecordQuery{Filter: store.Filter{Members: []string{member}}, Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("records of %s: %v %v", member, recs, err)
	}
	return recs[0].ID
}
