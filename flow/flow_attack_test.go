package flow

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// flowWith builds a flow on f with the given assertion.
func flowWith(t *testing.T, f *fixture, asserted func(*http.Request) string) (http.Handler, *testSessions) {
	t.Helper()
	sess := &testSessions{started: map[string]string{}}
	opts := []LoginOption{WithLanding("/members"), WithLogger(f.logger)}
	if asserted != nil {
		opts = append(opts, WithAsserted(asserted))
	}
	h, err := NewLogin("/login", f.v, sess, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h, sess
}

func serve(h http.Handler, r *http.Request) (*http.Response, string) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestFlowTokenLeavesURL: the GET on a link moves the token into a
// short-lived HttpOnly cookie and redirects to the bare path, so that the
// URL with the token stays out of history and logs; the form carries no
// token.
func TestFlowTokenLeavesURL(t *testing.T) {
	f := setup(t, nil, nil)
	h, sess := flowWith(t, f, nil)
	l := f.mint(t, ann)
	resp, page := serve(h, httptest.NewRequest("GET", "https://members.example.org/login?t="+l.Token, nil))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET with the token: %d, Location %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if strings.Contains(page, l.Token) {
		t.Fatal("the redirect page carries the token")
	}
	var carrier *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Value == l.Token {
			carrier = c
		}
	}
	if carrier == nil || !carrier.HttpOnly || carrier.MaxAge <= 0 || carrier.MaxAge > 3600 || carrier.Path != "/login" {
		t.Fatalf("the token's cookie: %+v", carrier)
	}
	r := httptest.NewRequest("GET", "https://members.example.org/login", nil)
	r.AddCookie(carrier)
	resp, page = serve(h, r)
	if resp.StatusCode != 200 || !strings.Contains(page, `name="email"`) || strings.Contains(page, l.Token) {
		t.Fatalf("the confirmation page: %d %s", resp.StatusCode, page)
	}
	r = httptest.NewRequest("POST", "https://members.example.org/login", strings.NewReader(url.Values{"email": {"ann@example.org"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(carrier)
	resp, _ = serve(h, r)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/members" || len(sess.started) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestFlowDuplicateToken: two "t" parameters are refused, as the parser
// refuses them in a link.
func TestFlowDuplicateToken(t *testing.T) {
	f := setup(t, nil, nil)
	h, _ := flowWith(t, f, nil)
	l := f.mint(t, ann)
	other := f.mint(t, token.Request{Member: "m-2", Purpose: token.PurposeLogin, Recipient: "b@example.org"})
	resp, page := serve(h, httptest.NewRequest("GET", "https://members.example.org/login?t="+l.Token+"&t="+other.Token, nil))
	if resp.StatusCode != http.StatusForbidden || strings.Contains(page, `name="email"`) {
		t.Fatalf("two tokens: %d %s", resp.StatusCode, page)
	}
}

// TestFlowActionFromConfig: the form posts to the configured path, whatever
// path the request named.
func TestFlowActionFromConfig(t *testing.T) {
	f := setup(t, nil, nil)
	h, _ := flowWith(t, f, nil)
	l := f.mint(t, ann)
	r := httptest.NewRequest("GET", "https://members.example.org/login?t="+l.Token, nil)
	r.URL.Path = "//evil.example/login"
	resp, page := serve(h, r)
	for _, s := range append([]string{page, resp.Header.Get("Location")}, resp.Header.Values("Set-Cookie")...) {
		if strings.Contains(s, "evil.example") {
			t.Fatalf("the request's path reached the response: %q", s)
		}
	}
}

// TestFlowAssertedCountsOnce: a member logged in as someone else posts the
// form with a wrong address; the failure counts once.
func TestFlowAssertedCountsOnce(t *testing.T) {
	f := setup(t, nil, nil)
	h, _ := flowWith(t, f, func(*http.Request) string { return "m-99" })
	l := f.mint(t, ann)
	r := httptest.NewRequest("POST", "https://members.example.org/login", strings.NewReader(url.Values{"email": {"bob@example.org"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(&http.Cookie{Name: flowCookieName(true), Value: l.Token})
	serve(h, r)
	if got := f.status(t, l.Claims.ID).Failures; got != 1 {
		t.Fatalf("one failed POST counted %d failures", got)
	}
}

// TestFlowCrossSiteGetFramesNobody: an attacker lures a logged-in member to
// the attacker's own batch link from another site, three times; nothing is
// recorded in the member's name and the batch is not frozen.
func TestFlowCrossSiteGetFramesNobody(t *testing.T) {
	f := setup(t, nil, nil)
	h, _ := flowWith(t, f, func(*http.Request) string { return "m-victim" })
	ls := f.mintBatch(t, "b-attacker", 10)
	for i := 0; i < 3; i++ {
		r := httptest.NewRequest("GET", "https://members.example.org/login?t="+ls[i].Token, nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Sec-Fetch-Mode", "navigate")
		serve(h, r)
		// And the redirect that follows, with whatever cookie was set.
		r2 := httptest.NewRequest("GET", "https://members.example.org/login", nil)
		r2.Header.Set("Sec-Fetch-Site", "cross-site")
		r2.AddCookie(&http.Cookie{Name: flowCookieName(true), Value: ls[i].Token})
		serve(h, r2)
	}
	evs, _, err := f.st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventRefused}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if strings.Contains(e.Presentation.Identity, "m-victim") {
			t.Fatalf("a refusal recorded in the victim's name: %+v", e)
		}
	}
	if f.frozen(t, "b-attacker") {
		t.Fatal("cross-site visits froze the batch")
	}
}
