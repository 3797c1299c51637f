package flow

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
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
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

func (s *testSessions) Start(w http.ResponseWriter, _ *http.Request, ref string, res *verify.Result) error {
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
	h, err := NewLogin("/login", f.v, sess, WithLanding("/members"), WithLogger(f.logger))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return f, srv, sess
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// open follows a link as a browser does: the GET with the token sets the
// token's cookie and redirects; it returns the cookie.
func open(t *testing.T, srv *httptest.Server, tok string) *http.Cookie {
	t.Helper()
	resp, err := noRedirect.Get(srv.URL + "/login?t=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET with the token: %d %v", resp.StatusCode, resp.Header)
	}
	for _, c := range resp.Cookies() {
		if c.Name == flowCookieName(false) {
			return c
		}
	}
	t.Fatalf("no token cookie: %v", resp.Cookies())
	return nil
}

// get fetches the bare path with a cookie.
func get(t *testing.T, srv *httptest.Server, c *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/login", nil)
	if c != nil {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// post posts the form with the link's cookie (none when tok is "").
func post(t *testing.T, srv *httptest.Server, tok string, form url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if tok != "" {
		req.AddCookie(&http.Cookie{Name: flowCookieName(false), Value: tok})
	}
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
		c := open(t, srv, l.Token)
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/login" || c.MaxAge != int(cookieTTL/time.Second) {
			t.Fatalf("the token's cookie: %+v", c)
		}
		resp, page := get(t, srv, c)
		if resp.StatusCode != 200 || !strings.Contains(page, `name="email"`) || !strings.Contains(page, `action="/login"`) {
			t.Fatalf("GET: %d %s", resp.StatusCode, page)
		}
		if strings.Contains(page, "m-17") || strings.Contains(page, "ann@example.org") || strings.Contains(page, l.Token) {
			t.Fatal("the confirmation page tells a stranger whose link it is, or carries the token")
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
	resp, page := post(t, srv, l.Token, url.Values{"email": {"bob@example.org"}}, nil)
	if resp.StatusCode != 403 || !strings.Contains(page, verify.MessageCheckAddress) || !strings.Contains(page, `name="email"`) {
		t.Fatalf("mismatch: %d %s", resp.StatusCode, page)
	}
	// The owner: consumed, session started, cookie cleared, redirected.
	resp, _ = post(t, srv, l.Token, url.Values{"email": {"Ann@Example.org"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/members" {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
	}
	var session string
	for _, c := range resp.Cookies() {
		switch c.Name {
		case "session":
			session = c.Value
		case flowCookieName(false):
			if c.MaxAge >= 0 || c.Value != "" {
				t.Fatalf("the token's cookie was not cleared: %+v", c)
			}
		}
	}
	if sess.started[session] != "m-17" {
		t.Fatalf("session: %v %v", resp.Cookies(), sess.started)
	}
	if r := f.status(t, l.Claims.ID); r.Consumer.Session != session || r.Consumer.Identity != "email:ann@example.org" {
		t.Fatalf("consumption recorded as %+v", r.Consumer)
	}
	// The same link again: refused, one generic message.
	resp, page = post(t, srv, l.Token, url.Values{"email": {"ann@example.org"}}, nil)
	if resp.StatusCode != 403 || !strings.Contains(page, verify.GenericMessage) || strings.Contains(page, "already") {
		t.Fatalf("replay: %d %s", resp.StatusCode, page)
	}
	if resp, _ := get(t, srv, open(t, srv, l.Token)); resp.StatusCode != 403 {
		t.Fatalf("GET of a used link: %d", resp.StatusCode)
	}
}

func TestFlowRefusals(t *testing.T) {
	f, srv, sess := flowServer(t)
	l := f.mint(t, ann)
	cases := []struct {
		name string
		tok  string
		form url.Values
		hdr  map[string]string
		want int
	}{
		{"cross-site post", l.Token, url.Values{"email": {"ann@example.org"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-origin post", l.Token, url.Values{"email": {"ann@example.org"}}, map[string]string{"Origin": "https://evil.example"}, 403},
		{"no identity", l.Token, nil, nil, 403},
		{"no cookie", "", url.Values{"t": {l.Token}, "email": {"ann@example.org"}}, nil, 403},
		{"garbage token", "abc", url.Values{"email": {"ann@example.org"}}, nil, 403},
		{"huge form", l.Token, url.Values{"email": {strings.Repeat("a", maxFormBody)}}, nil, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := post(t, srv, tc.tok, tc.form, tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, page)
			}
		})
	}
	if resp, _ := get(t, srv, nil); resp.StatusCode != 403 {
		t.Fatalf("the bare path without a cookie: %d", resp.StatusCode)
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
	resp, page := post(t, srv, l.Token, url.Values{"email": {"ann@example.org"}}, nil)
	if resp.StatusCode != 503 || !strings.Contains(page, verify.GenericMessage) {
		t.Fatalf("panicking session store: %d %s", resp.StatusCode, page)
	}
}

func TestFlowConfig(t *testing.T) {
	f := setup(t, nil, nil)
	sess := &testSessions{}
	cases := []struct {
		name string
		v    *verify.Verifier
		s    Sessions
		path string
		opts []LoginOption
	}{
		{"no verifier", nil, sess, "/login", nil},
		{"bad purpose", f.v, sess, "/login", []LoginOption{WithPurpose("")}},
		{"no sessions", f.v, nil, "/login", nil},
		{"no path", f.v, sess, "", nil},
		{"relative path", f.v, sess, "login", nil},
		{"another host", f.v, sess, "//evil.example/login", nil},
		{"a query", f.v, sess, "/login?x=1", nil},
		{"a space", f.v, sess, "/log in", nil},
		{"landing elsewhere", f.v, sess, "/login", []LoginOption{WithLanding("https://evil.example/")}},
		{"landing on another host", f.v, sess, "/login", []LoginOption{WithLanding("//evil.example/")}},
		{"landing back-slashed", f.v, sess, "/login", []LoginOption{WithLanding("/\\evil.example/")}},
		{"request page elsewhere", f.v, sess, "/login", []LoginOption{WithRequestPath("//evil.example/request")}},
		{"nil option", f.v, sess, "/login", []LoginOption{nil}},
	}
	for _, tc := range cases {
		if _, err := NewLogin(tc.path, tc.v, tc.s, tc.opts...); !errors.Is(err, token.ErrConfig) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
