package verify

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// testSessions records the sessions the flow opens.
type testSessions struct {
	mu      sync.Mutex
	n       int
	started map[string]string // ref -> member
	panics  bool
}

func (s *testSessions) NewReference(*http.Request) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprint("sess-", s.n), nil
}

func (s *testSessions) Start(w http.ResponseWriter, _ *http.Request, ref string, res *Result) error {
	if s.panics {
		panic("session store down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started[ref] = res.Claims.Member
	http.SetCookie(w, &http.Cookie{Name: "session", Value: ref, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	return nil
}

func flowServer(t *testing.T) (*fixture, *httptest.Server, *testSessions) {
	t.Helper()
	f := setup(t, nil, nil)
	sess := &testSessions{started: map[string]string{}}
	h, err := NewFlow(FlowConfig{Verifier: f.v, Purpose: token.PurposeLogin, Sessions: sess, Landing: "/members"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return f, srv, sess
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func post(t *testing.T, srv *httptest.Server, form url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestFlow(t *testing.T) {
	f, srv, sess := flowServer(t)
	l := f.mint(t, ann)
	// GET: the confirmation page, nothing consumed, as often as scanners like.
	for i := 0; i < 3; i++ {
		resp, err := http.Get(srv.URL + "/login?t=" + l.Token)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		if resp.StatusCode != 200 || !strings.Contains(page, `name="email"`) || !strings.Contains(page, `action="/login"`) {
			t.Fatalf("GET: %d %s", resp.StatusCode, page)
		}
		if strings.Contains(page, "m-17") || strings.Contains(page, "ann@example.org") {
			t.Fatal("the confirmation page tells a stranger whose link it is")
		}
		for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
			if got := resp.Header.Get(h); got != want {
				t.Fatalf("%s = %q, want %q", h, got, want)
			}
		}
	}
	if f.status(t, l.Claims.ID).Status != store.StatusIssued {
		t.Fatal("a GET consumed the link")
	}

	// A stranger types their own address: the form again, the link intact.
	resp, page := post(t, srv, url.Values{"t": {l.Token}, "email": {"bob@example.org"}}, nil)
	if resp.StatusCode != 403 || !strings.Contains(page, GenericMessage) || !strings.Contains(page, `name="email"`) {
		t.Fatalf("mismatch: %d %s", resp.StatusCode, page)
	}
	// The owner: consumed, session started, redirected.
	resp, _ = post(t, srv, url.Values{"t": {l.Token}, "email": {"Ann@Example.org"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/members" {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
	}
	cookie := resp.Cookies()
	if len(cookie) != 1 || sess.started[cookie[0].Value] != "m-17" {
		t.Fatalf("session: %v %v", cookie, sess.started)
	}
	if r := f.status(t, l.Claims.ID); r.Consumer.Session != cookie[0].Value || r.Consumer.Identity != "email:ann@example.org" {
		t.Fatalf("consumption recorded as %+v", r.Consumer)
	}
	// The same link again: refused, one generic message.
	resp, page = post(t, srv, url.Values{"t": {l.Token}, "email": {"ann@example.org"}}, nil)
	if resp.StatusCode != 403 || !strings.Contains(page, GenericMessage) || strings.Contains(page, "already") {
		t.Fatalf("replay: %d %s", resp.StatusCode, page)
	}
	resp2, _ := http.Get(srv.URL + "/login?t=" + l.Token)
	if resp2.StatusCode != 403 {
		t.Fatalf("GET of a used link: %d", resp2.StatusCode)
	}
}

func TestFlowRefusals(t *testing.T) {
	f, srv, sess := flowServer(t)
	l := f.mint(t, ann)
	cases := []struct {
		name string
		form url.Values
		hdr  map[string]string
		want int
	}{
		{"cross-site post", url.Values{"t": {l.Token}, "email": {"ann@example.org"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-origin post", url.Values{"t": {l.Token}, "email": {"ann@example.org"}}, map[string]string{"Origin": "https://evil.example"}, 403},
		{"no identity", url.Values{"t": {l.Token}}, nil, 403},
		{"garbage token", url.Values{"t": {"abc"}, "email": {"ann@example.org"}}, nil, 403},
		{"huge form", url.Values{"t": {strings.Repeat("a", MaxFormBody)}}, nil, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := post(t, srv, tc.form, tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, page)
			}
		})
	}
	if f.status(t, l.Claims.ID).Status != store.StatusIssued || len(sess.started) != 0 {
		t.Fatal("a refused request consumed the link or opened a session")
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/login", nil)
	resp, _ := http.DefaultClient.Do(req)
	if resp.StatusCode != 405 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	// A session store that panics after the link was consumed: refused, not a 500.
	sess.panics = true
	resp, page := post(t, srv, url.Values{"t": {l.Token}, "email": {"ann@example.org"}}, nil)
	if resp.StatusCode != 503 || !strings.Contains(page, GenericMessage) {
		t.Fatalf("panicking session store: %d %s", resp.StatusCode, page)
	}
}

func TestFlowConfig(t *testing.T) {
	f := setup(t, nil, nil)
	sess := &testSessions{}
	for _, c := range []FlowConfig{
		{Purpose: "login", Sessions: sess},
		{Verifier: f.v, Sessions: sess},
		{Verifier: f.v, Purpose: "login"},
		{Verifier: f.v, Purpose: "login", Sessions: sess, Landing: "https://evil.example/"},
		{Verifier: f.v, Purpose: "login", Sessions: sess, Landing: "//evil.example/"},
	} {
		if _, err := NewFlow(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
