package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	if len(cmds) < 8 {
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
// the batch name the site used: every command works, and its answers are
// true.
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
	// An impostor gets in with the first member's link.
	first := site.members[0]
	link := readLink(t, site, first.Email)
	if _, err := site.v.Consume(ctx, verify.Request{Link: link, Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: first.Email}, Session: "s-impostor", IP: "198.51.100.7"}); err != nil {
		t.Fatal(err)
	}

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
		checkAnswer(t, args, stdout, sent.Batch, len(site.members))
	}
	csv, err := os.ReadFile(filepath.Join(dir, "affected.csv"))
	if err != nil || !bytes.Contains(csv, []byte("s-impostor")) {
		t.Fatalf("affected.csv: %v\n%s", err, csv)
	}
	if _, err := site.v.Consume(ctx, verify.Request{Link: readLink(t, site, site.members[1].Email), Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: site.members[1].Email}}); !errors.Is(err, verify.ErrRevoked) {
		t.Fatalf("a link of the bad send after the playbook: %v", err)
	}
}

// checkAnswer checks what some of the playbook's commands say.
func checkAnswer(t *testing.T, args []string, stdout, batch string, n int) {
	t.Helper()
	want := map[string]string{
		"batches": batch,
		"freeze":  "outstanding links",
		"state":   "freeze",
		"revoke":  "revoked: ",
	}[args[0]]
	if args[0] == "revoke" && len(args) > 1 && args[len(args)-1] == "--dry-run" {
		want = "would revoke: " + strconv.Itoa(n) + " links match"
	}
	if !strings.Contains(stdout, want) {
		t.Fatalf("oncelink %s: %q does not say %q", strings.Join(args, " "), stdout, want)
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
