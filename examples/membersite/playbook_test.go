package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// exampleBatch matches the batch names the README's playbook shows: the
// member site's own (see Site.Invite).
var exampleBatch = regexp.MustCompile(`invite-\d{8}-\d{6}\.\d{3}`)

// playbook returns the oncelink command lines of the README's incident
// playbook, in order.
func playbook(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Incident playbook")
	if !ok {
		t.Fatal("README.md has no incident playbook")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var cmds []string
	for _, line := range strings.Split(section, "\n") {
		if cmd, ok := strings.CutPrefix(line, "    oncelink "); ok {
			cmds = append(cmds, cmd)
		}
	}
	if len(cmds) < 12 {
		t.Fatalf("the playbook has %d commands", len(cmds))
	}
	return cmds
}

// words splits a command line as a shell would for these commands: words,
// double-quoted words, a trailing # comment, and "> file".
func words(line string) (args []string, out string) {
	var cur strings.Builder
	quoted, in := false, false
	flush := func() {
		if in {
			args = append(args, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			quoted, in = !quoted, true
		case quoted:
			cur.WriteByte(c)
		case c == '#':
			flush()
			return splitRedirect(args)
		case c == ' ':
			flush()
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	flush()
	return splitRedirect(args)
}

func splitRedirect(args []string) ([]string, string) {
	for i, a := range args {
		if a == ">" && i+1 < len(args) {
			return args[:i], args[i+1]
		}
	}
	return args, ""
}

// typed is what the operator types at a confirmation prompt: the phrase it
// shows.
var typed = regexp.MustCompile(`Type "([^"]+)" to confirm`)

// TestPlaybook runs the README's incident playbook, command by command as
// written, against the store of a member site that sent invitations, with
// the batch name the site used: every command exits 0, and what it says is
// checked against what happened. Every command's --help exits 0 too.
func TestPlaybook(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bin := filepath.Join(dir, "oncelink")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/oncelink").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/oncelink: %v\n%s", err, out)
	}
	storeURL := "sqlite:" + filepath.Join(dir, "oncelink.db")
	site, err := NewSite(ctx, Config{BaseURL: "http://127.0.0.1:1", StoreURL: storeURL, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	sent, err := site.Invite(ctx)
	if err != nil || sent.Sent != len(site.members) || !exampleBatch.MatchString(sent.Batch) {
		t.Fatalf("Invite = %+v, %v", sent, err)
	}
	// An impostor gets in with the first member's link, typing the
	// address the message shows; the second member, who got the same
	// message, types their own and is refused: a mismatch.
	first, second := site.members[0], site.members[1]
	link := readLink(t, site, first.Email)
	if _, err := site.v.Consume(ctx, verify.Request{Link: link, Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: first.Email}, Session: "s-impostor", IP: "198.51.100.7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := site.v.Consume(ctx, verify.Request{Link: link, Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: second.Email}, Session: "s-second", IP: "198.51.100.8"}); err == nil { // the answer a used link gets; the ledger says mismatch
		t.Fatalf("the second member with the first's link: %v", err)
	}
	pb := &playbookRun{batch: sent.Batch, members: len(site.members), first: first.Email, second: second.Email}

	for _, line := range playbook(t) {
		if !exampleBatch.MatchString(line) && strings.Contains(line, "invite-") {
			t.Fatalf("the playbook names a batch the member site would not: %s", line)
		}
		args, out := words(exampleBatch.ReplaceAllString(line, sent.Batch))
		stdout, stderr, code := runCLI(t, bin, dir, storeURL, args, "")
		if code == 3 {
			m := typed.FindStringSubmatch(stderr)
			if m == nil {
				t.Fatalf("oncelink %s: exit 3 without a prompt: %s", line, stderr)
			}
			stdout, stderr, code = runCLI(t, bin, dir, storeURL, args, m[1]+"\n")
		}
		if code != 0 {
			t.Fatalf("oncelink %s: exit %d\nstdout: %s\nstderr: %s", line, code, stdout, stderr)
		}
		if out != "" {
			if err := os.WriteFile(filepath.Join(dir, out), []byte(stdout), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		pb.check(t, args, stdout, out, filepath.Join(dir, out))
	}
	csv, err := os.ReadFile(filepath.Join(dir, "affected.csv"))
	if err != nil || !bytes.Contains(csv, []byte("s-impostor")) || !bytes.Contains(csv, []byte("mismatch,")) {
		t.Fatalf("affected.csv: %v\n%s", err, csv)
	}
	checkHelps(t, bin, dir, storeURL)
	if _, err := site.v.Consume(ctx, verify.Request{Link: readLink(t, site, site.members[1].Email), Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: site.members[1].Email}}); !errors.Is(err, verify.ErrRevoked) {
		t.Fatalf("a link of the bad send after the playbook: %v", err)
	}
}

// checkHelps runs --help, -h and 'help CMD' for every command 'oncelink
// help' lists: each exits 0 with the command's usage and examples.
func checkHelps(t *testing.T, bin, dir, storeURL string) {
	t.Helper()
	usage, _, code := runCLI(t, bin, dir, storeURL, []string{"help"}, "")
	_, list, _ := strings.Cut(usage, "Commands:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
			continue
		}
		cmd := strings.Fields(line)[0]
		n++
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}} {
			stdout, stderr, code := runCLI(t, bin, dir, storeURL, args, "")
			if code != 0 || !strings.Contains(stdout, "usage: oncelink "+cmd) || !strings.Contains(stdout, "Examples:") {
				t.Fatalf("oncelink %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
			}
		}
	}
	if code != 0 || n < 8 {
		t.Fatalf("oncelink help: exit %d, %d commands:\n%s", code, n, usage)
	}
}

// playbookRun is what happened before the playbook ran, and what its
// commands said so far.
type playbookRun struct {
	batch         string
	members       int
	first, second string
	wouldRevoke   string
}

// check checks what each command of the playbook says against what
// happened: one link consumed (by an impostor typing the shown address),
// one mismatch on it, every other link of the batch outstanding.
func (pb *playbookRun) check(t *testing.T, args []string, stdout, out, outPath string) {
	t.Helper()
	line := strings.Join(args, " ")
	has := func(want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(stdout, w) {
				t.Fatalf("oncelink %s: %q does not say %q", line, stdout, w)
			}
		}
	}
	dry := slices.Contains(args, "--dry-run")
	switch {
	case args[0] == "help":
		has("usage: oncelink "+args[1], "Examples:", "--dry-run")
	case args[0] == "batches":
		has(pb.batch)
	case args[0] == "freeze" && slices.Contains(args, "--global"):
		has("frozen: --global")
	case args[0] == "freeze":
		has(fmt.Sprintf("frozen: --batch %s: covers %d outstanding links", pb.batch, pb.members-1))
	case args[0] == "state" && slices.Contains(args, "--json"):
		var st struct {
			Holds []struct {
				Scope, Key string
			} `json:"holds"`
			Watermarks []any `json:"watermarks"`
		}
		if err := json.Unmarshal([]byte(stdout), &st); err != nil || len(st.Holds) != 2 || st.Holds[0].Scope == "" || st.Watermarks == nil {
			t.Fatalf("oncelink %s: %v\n%s", line, err, stdout)
		}
	case args[0] == "state":
		has("freeze", pb.batch)
	case args[0] == "report" && out == "":
		has("affected members, to contact (1)", pb.first, "email:"+pb.second, "logins: links consumed", "s-impostor")
	case args[0] == "report" && slices.Contains(args, "--json"):
		b, _ := os.ReadFile(outPath)
		var rep struct {
			Counts   map[string]int `json:"counts"`
			Affected []struct {
				Member    string   `json:"member"`
				Addresses []string `json:"addresses"`
			} `json:"affected"`
		}
		if err := json.Unmarshal(b, &rep); err != nil || rep.Counts["mismatches"] != 1 || rep.Counts["logins"] != 1 ||
			len(rep.Affected) != 1 || !slices.Equal(rep.Affected[0].Addresses, []string{pb.first}) {
			t.Fatalf("oncelink %s: %v\n%s", line, err, b)
		}
	case args[0] == "revoke" && dry:
		pb.wouldRevoke = fmt.Sprintf("%d outstanding links", pb.members-1)
		has("would revoke: " + pb.wouldRevoke)
	case args[0] == "revoke" && slices.Contains(args, "--all"):
		has("revoked: 0 outstanding links")
	case args[0] == "revoke":
		if pb.wouldRevoke == "" {
			t.Fatalf("the playbook revokes before its dry run")
		}
		has("revoked: "+pb.wouldRevoke, "s-impostor")
	case args[0] == "thaw":
		has("thawed: --global")
	case args[0] == "purge":
		has("purged: ")
	case out != "":
	default:
		t.Fatalf("the playbook runs oncelink %s, which this test does not check", line)
	}
}

// readLink returns the link the outbox holds for an address.
func readLink(t *testing.T, site *Site, to string) string {
	t.Helper()
	for _, m := range site.outbox.List() {
		if m.To == to {
			_, raw, _ := site.outbox.Read(m.N)
			body, err := Body(raw) // quoted-printable: a long link is wrapped
			if err != nil {
				t.Fatal(err)
			}
			if link := linkRE.FindString(body); link != "" {
				return link
			}
		}
	}
	t.Fatalf("no message to %s in the outbox", to)
	return ""
}

func runCLI(t *testing.T, bin, dir, storeURL string, args []string, stdin string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ONCELINK_STORE="+storeURL, "ONCELINK_ACTOR=playbook")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}
