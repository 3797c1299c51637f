package flow

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// wordsServer is a login flow that offers the request page and knows who
// is logged in (the "me" header stands for the site's session cookie).
func wordsServer(t *testing.T, f *fixture) *httptest.Server {
	t.Helper()
	sess := &testSessions{started: map[string]string{}}
	h, err := NewLogin("/login", f.v, sess, WithLanding("/members"), WithRequestPath("/login/request"),
		WithLoggedIn(func(r *http.Request) string { return r.Header.Get("me") }), WithLogger(f.logger))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// show fetches the confirmation page for tok as the browser that followed
// the link does, logged in as me (or nobody).
func show(t *testing.T, srv *httptest.Server, tok, me string) (*http.Response, string) {
	t.Helper()
	c := open(t, srv, tok)
	req, _ := http.NewRequest("GET", srv.URL+"/login", nil)
	req.AddCookie(c)
	if me != "" {
		req.Header.Set("me", me)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestFlowWords: each case gets words a member understands, and no more
// than the form already shows: a typo keeps the form; a paused link says
// try again later; a used, revoked, expired, unknown or mangled link gets
// one page, word for word, with the way to ask for a new link; one's own
// link while logged in says so.
func TestFlowWords(t *testing.T) {
	f := setup(t, nil, nil)
	srv := wordsServer(t, f)

	// A typo: the form again, with the words for it, and the link still works.
	l := f.mint(t, ann)
	resp, page := post(t, srv, l.Token, url.Values{"email": {"ann@exmple.org"}}, nil)
	if resp.StatusCode != 403 || !strings.Contains(page, verify.MessageCheckAddress) || !strings.Contains(page, `name="email"`) ||
		strings.Contains(page, verify.GenericMessage) {
		t.Fatalf("typo: %d %s", resp.StatusCode, page)
	}
	numOnly := f.mint(t, token.Request{Member: "m-3", Purpose: token.PurposeLogin, Number: "777"})
	resp, page = post(t, srv, numOnly.Token, url.Values{"number": {"778"}}, nil)
	if resp.StatusCode != 403 || !strings.Contains(page, MessageCheckNumber) || !strings.Contains(page, `name="number"`) {
		t.Fatalf("typo in a number: %d %s", resp.StatusCode, page)
	}
	if f.status(t, l.Claims.ID).Status != store.StatusIssued {
		t.Fatal("a typo consumed the link")
	}

	// A paused link: try again later, no new link offered.
	if err := f.st.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "m-17", Since: f.clk.now(), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	resp, page = show(t, srv, l.Token, "")
	if resp.StatusCode != 403 || !strings.Contains(page, verify.MessageLater) || strings.Contains(page, verify.GenericMessage) ||
		strings.Contains(page, "/login/request") {
		t.Fatalf("paused: %d %s", resp.StatusCode, page)
	}
	if _, err := f.st.Thaw(ctx, store.ScopeMember, "m-17"); err != nil {
		t.Fatal(err)
	}

	// Used, revoked, expired, unknown, mangled: one page, byte for byte.
	used := f.mint(t, ann)
	if _, err := f.v.Consume(ctx, loginRequest(used.URL, verify.Identity{Email: "ann@example.org"})); err != nil {
		t.Fatal(err)
	}
	revoked := f.mint(t, ann)
	if _, err := f.st.Revoke(ctx, store.Filter{IDs: []string{revoked.Claims.ID}}, f.clk.now()); err != nil {
		t.Fatal(err)
	}
	expired, err := f.iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	other := setup(t, nil, nil) // a link no store here knows, signed by another key
	unknown := other.mint(t, ann)
	mangled := l.Token[:len(l.Token)-4] + "AAAA"
	var want string
	for _, c := range []struct{ name, tok string }{{"used", used.Token}, {"revoked", revoked.Token},
		{"expired", expired.Token}, {"unknown", unknown.Token}, {"mangled", mangled}} {
		if c.name == "expired" {
			f.clk.add(2 * time.Minute)
		}
		resp, page := show(t, srv, c.tok, "")
		if resp.StatusCode != 403 || !strings.Contains(page, verify.GenericMessage) || !strings.Contains(page, `href="/login/request"`) {
			t.Fatalf("%s: %d %s", c.name, resp.StatusCode, page)
		}
		if want == "" {
			want = page
		} else if page != want {
			t.Fatalf("%s: a page of its own:\n%s\nwant\n%s", c.name, page, want)
		}
		if c.name == "expired" {
			f.clk.add(-2 * time.Minute)
		}
	}
	// A wrong address on a used link is answered as the right one.
	_, wrong := post(t, srv, used.Token, url.Values{"email": {"bob@example.org"}}, nil)
	_, right := post(t, srv, used.Token, url.Values{"email": {"ann@example.org"}}, nil)
	if wrong != right || wrong != want {
		t.Fatalf("a used link answers a wrong address apart from a right one:\n%s\n%s", wrong, right)
	}

	// One's own used link while logged in; someone else's, or nobody's.
	resp, page = show(t, srv, used.Token, "m-17")
	if resp.StatusCode != 200 || !strings.Contains(page, MessageLoggedIn) || !strings.Contains(page, `href="/members"`) {
		t.Fatalf("own link while logged in: %d %s", resp.StatusCode, page)
	}
	if _, page := show(t, srv, used.Token, "m-2"); page != want {
		t.Fatalf("another member's used link while logged in: %s", page)
	}
}
