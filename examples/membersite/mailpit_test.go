package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/testenv"
)

// mailpit is a Mailpit server of the test's own, on free loopback ports:
// an SMTP server with a web UI and an API.
type mailpit struct {
	SMTP string // host:port
	Web  string // http://host:port
	cmd  *exec.Cmd
}

// mailpitBinary finds Mailpit on PATH or in Go's bin directory, where
// `go install github.com/axllent/mailpit@v1.33.1` (.ci/run) puts it.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var dirs []string
		if len(lines) > 0 && lines[0] != "" {
			dirs = append(dirs, lines[0])
		}
		if len(lines) > 1 {
			for _, p := range filepath.SplitList(lines[1]) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
		for _, d := range dirs {
			if p := filepath.Join(d, "mailpit"); isFile(p) {
				return p
			}
		}
	}
	if testenv.Required() {
		t.Fatal("mailpit is required (" + testenv.RequireEnv + "=1); .ci/run installs it with go install github.com/axllent/mailpit@v1.33.1")
	}
	t.Skip("skipping: mailpit not installed (go install github.com/axllent/mailpit@v1.33.1)")
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startMailpit starts Mailpit and waits, boundedly, until its API answers;
// it is stopped by its PID when the test ends.
func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	dir := t.TempDir()
	m := &mailpit{SMTP: freePort(t)}
	web := freePort(t)
	m.Web = "http://" + web
	m.cmd = exec.Command(bin, "--smtp", m.SMTP, "--listen", web, "--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check", "--smtp-disable-rdns", "--quiet")
	logf, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		t.Fatal(err)
	}
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(m.Web + "/api/v1/info")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "mailpit.log"))
			t.Fatalf("mailpit (pid %d) did not answer: %v\n%s", m.cmd.Process.Pid, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *mailpit) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(m.Web + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("mailpit %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
}

// messages returns the ids of the messages Mailpit holds for an address.
func (m *mailpit) messages(t *testing.T, to string) []string {
	t.Helper()
	var list struct {
		Messages []struct {
			ID string
			To []struct{ Address string }
		}
	}
	m.getJSON(t, "/api/v1/search?query="+url.QueryEscape("to:"+to), &list)
	var ids []string
	for _, msg := range list.Messages {
		for _, a := range msg.To {
			if strings.EqualFold(a.Address, to) {
				ids = append(ids, msg.ID)
			}
		}
	}
	return ids
}

// waitMessage waits, boundedly, for the nth message (from 1) to an address
// and returns its id, its text as Mailpit decoded it, and its raw bytes.
func (m *mailpit) waitMessage(t *testing.T, to string, n int) (id, text string, raw []byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ids := m.messages(t, to); len(ids) >= n {
			id = ids[len(ids)-n] // newest first
			var msg struct{ Text string }
			m.getJSON(t, "/api/v1/message/"+id, &msg)
			resp, err := http.Get(m.Web + "/api/v1/message/" + id + "/raw")
			if err != nil {
				t.Fatal(err)
			}
			raw, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			return id, msg.Text, raw
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message %d to %s in mailpit", n, to)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *mailpit) String() string { return fmt.Sprintf("mailpit smtp %s web %s", m.SMTP, m.Web) }
