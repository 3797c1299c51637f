package flow

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/browsertest"
)

// cookieProbe answers /probe/<mode>?set: it sets a cookie of that SameSite
// mode and moves on to /probe/<mode>/check, by a 303 or, for "strict-page",
// by a page that navigates there itself; the check page says whether the
// cookie came back.
func cookieProbe(w http.ResponseWriter, r *http.Request) {
	mode, check := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/probe/"), "/check")
	if check {
		_, err := r.Cookie("probe-" + mode)
		fmt.Fprintf(w, "<!doctype html><p id=result>cookie:%v</p>", err == nil)
		return
	}
	same := http.SameSiteStrictMode
	if mode == "lax" {
		same = http.SameSiteLaxMode
	}
	http.SetCookie(w, &http.Cookie{Name: "probe-" + mode, Value: "1", Path: "/", HttpOnly: true, SameSite: same})
	next := "/probe/" + mode + "/check"
	if mode == "strict-page" {
		fmt.Fprintf(w, `<!doctype html><meta http-equiv="refresh" content="0;url=%s"><p>moving on</p>`, next)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// TestBrowserCrossSiteLink clicks a link in a page of another site, as in
// webmail, in headless Chromium: the token leaves the URL, the confirmation
// page appears, the owner logs in. It also records what Chromium does with
// a SameSite=Strict cookie set on that cross-site navigation, the reason the
// flow's cookie is SameSite=Lax.
func TestBrowserCrossSiteLink(t *testing.T) {
	browsertest.Chromium(t)
	f := setup(t, nil, nil)
	sess := &testSessions{started: map[string]string{}}
	h, err := NewLogin("/login", f.v, sess, WithLanding("/members"), WithLogger(f.logger))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", h)
	mux.HandleFunc("/probe/", cookieProbe)
	mux.HandleFunc("/members", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><h1 id="welcome">Welcome</h1>`)
	})
	site := httptest.NewServer(mux) // http://127.0.0.1:port
	defer site.Close()
	l := f.mint(t, ann)
	webmail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><p><a id="link" href="%s">Log in</a></p>`, html.EscapeString(site.URL+r.URL.Query().Get("to")))
	}))
	defer webmail.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(webmail.URL, "http://"))
	mailURL := "http://localhost:" + port + "/?to=" // another site than 127.0.0.1

	b := browsertest.Start(t, 2*time.Minute)
	click := func(to string) {
		t.Helper()
		b.Navigate(mailURL + to)
		b.Click("#link")
	}

	for _, mode := range []string{"strict", "strict-page", "lax"} {
		click("/probe/" + mode + "?set")
		src := b.WaitFor(mode, "cookie:")
		t.Logf("a SameSite=%s cookie set on a cross-site navigation came back: %v", mode, strings.Contains(src, "cookie:true"))
	}

	click("/login?t=" + l.Token)
	b.WaitFor("confirmation page", "Confirm your login", `id="email"`)
	if u := b.URL(); u != site.URL+"/login" {
		t.Fatalf("the confirmation page is at %s, want the bare path", u)
	}
	b.Type("#email", "ann@example.org")
	b.Click("#login")
	b.WaitFor("landing page", `id="welcome"`)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.started) != 1 {
		t.Fatalf("sessions started: %v", sess.started)
	}
	for _, m := range sess.started {
		if m != "m-17" {
			t.Fatalf("logged in as %s", m)
		}
	}
}
