package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/oncelink/oncelink/flow"
	"github.com/oncelink/oncelink/guard"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// TestREADMEQuotesSite: the README's quick start is this package's
// site.go, from its first declaration to its end, line for line, so that
// the quick start compiles and this test runs it.
func TestREADMEQuotesSite(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if !ok {
		t.Fatal("the README has no quick start")
	}
	_, block, ok := strings.Cut(section, "```go\n")
	block, _, closed := strings.Cut(block, "```\n")
	if !ok || !closed {
		t.Fatal("the quick start has no go block")
	}
	src, err := os.ReadFile("site.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "\n)\n\n")
	if !ok {
		t.Fatal("site.go has no import block")
	}
	if block != body {
		t.Fatalf("the README's quick start is not site.go:\n--- README\n%s\n--- site.go\n%s", block, body)
	}
}

// testSessions records the sessions the login page opens.
type testSessions struct {
	mu      sync.Mutex
	started map[string]string // reference -> member
}

func (s *testSessions) NewReference(*http.Request) (string, error) { return "sess-1", nil }
func (s *testSessions) Start(_ http.ResponseWriter, _ *http.Request, ref string, res *verify.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started[ref] = res.Claims.Member
	return nil
}

// outbox renders plain messages and keeps what it is handed to send.
type outbox struct {
	mu   sync.Mutex
	sent map[string][]byte // address -> message
}

func (o *outbox) Render(_ context.Context, a flow.Addressee, l *token.Link) ([]byte, error) {
	return message(a.Recipient, l), nil
}

func (o *outbox) Send(_ context.Context, a flow.Addressee, raw []byte) error {
	return o.deliver(context.Background(), a.Recipient, raw)
}

func (o *outbox) deliver(_ context.Context, to string, raw []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent[to] = raw
	return nil
}

func message(to string, l *token.Link) []byte {
	return []byte("To: " + to + "\r\nSubject: Your login link\r\n\r\nLog in: " + l.URL + "\r\n")
}

var (
	ann    = flow.Addressee{Member: "m-17", Recipient: "ann@example.org", Number: "10442"}
	linkRE = regexp.MustCompile(`https://members\.example\.org/login\?t=[A-Za-z0-9._-]+`)
)

// TestSite runs the quick start: a member asks for a link, follows it and
// confirms her address on the login page; a bulk send passes the send
// guard, and a send that puts one member's link in another's message is
// stopped before anything leaves.
func TestSite(t *testing.T) {
	ctx := context.Background()
	sess := &testSessions{started: map[string]string{}}
	mail := &outbox{sent: map[string][]byte{}}
	findMember := func(_ context.Context, q flow.Query) (flow.Addressee, bool, error) {
		return ann, q.Email == ann.Recipient, nil
	}
	s, err := newSite(memstore.New(), sess, findMember, mail)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.mux)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := srv.Client()
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, page := post("/login/request", url.Values{"address": {"Ann@Example.org"}}); resp.StatusCode != 200 || !strings.Contains(page, flow.MessageRequested) {
		t.Fatalf("asking for a link: %d %s", resp.StatusCode, page)
	}
	if err := s.requests.Close(ctx); err != nil {
		t.Fatal(err)
	}
	link := linkRE.FindString(string(mail.sent[ann.Recipient]))
	if link == "" {
		t.Fatalf("no link mailed to ann: %q", mail.sent)
	}
	u, _ := url.Parse(link)
	resp, err := client.Get(srv.URL + "/login?" + u.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("following the link: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, page := post("/login", url.Values{"email": {"ann@example.org"}}); resp.StatusCode != http.StatusSeeOther || sess.started["sess-1"] != ann.Member {
		t.Fatalf("confirming: %d %s, sessions %v", resp.StatusCode, page, sess.started)
	}

	members := []token.Request{
		{Member: "m-1", Purpose: token.PurposeLogin, Recipient: "m1@example.org"},
		{Member: "m-2", Purpose: token.PurposeLogin, Recipient: "m2@example.org"},
	}
	render := func(l *token.Link) []byte { return message(l.Recipient, l) }
	if err := s.invite(ctx, members, render, mail.deliver); err != nil {
		t.Fatal(err)
	}
	if !linkRE.Match(mail.sent["m2@example.org"]) {
		t.Fatalf("m-2's invitation: %q", mail.sent["m2@example.org"])
	}
	// The incident's mailer: every message carries the first member's link.
	var first []byte
	reused := func(l *token.Link) []byte {
		if first == nil {
			first = message(l.Recipient, l)
		}
		return bytes.Replace(first, []byte("m1@"), []byte(strings.Split(l.Recipient, "@")[0]+"@"), 1)
	}
	mail.sent = map[string][]byte{}
	err = s.invite(ctx, members, reused, mail.deliver)
	var be *guard.BlockedError
	if !errors.As(err, &be) || be.Reason != "foreign link" || len(mail.sent) != 0 {
		t.Fatalf("a send with another member's link: %v, sent %d", err, len(mail.sent))
	}
}
