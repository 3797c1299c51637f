package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/internal/webdriver"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/verify"
)

// startSite runs the member site on a loopback port with SQLite in a
// temporary directory.
func startSite(t *testing.T) (*Site, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	dir := t.TempDir()
	site, err := NewSite(context.Background(), Config{BaseURL: base, StoreURL: "sqlite:" + filepath.Join(dir, "oncelink.db"), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: site.Handler()}
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		site.Close()
	})
	return site, base
}

// outboxLinks returns the login link of every message in the outbox, by
// recipient, and the outbox number of each message.
func outboxLinks(t *testing.T, site *Site) (map[string]string, map[string]int) {
	t.Helper()
	links, numbers := map[string]string{}, map[string]int{}
	for _, m := range site.outbox.List() {
		_, raw, ok := site.outbox.Read(m.N)
		if !ok {
			t.Fatalf("outbox message %d unreadable", m.N)
		}
		body, err := Body(raw)
		if err != nil {
			t.Fatal(err)
		}
		links[m.To] = linkRE.FindString(body)
		numbers[m.To] = m.N
	}
	return links, numbers
}

func browserPaths(t *testing.T) (chromium, chromedriver string) {
	t.Helper()
	for _, c := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			chromium = p
			break
		}
	}
	chromedriver, _ = exec.LookPath("chromedriver")
	if chromium == "" || chromedriver == "" {
		if testenv.Required() {
			t.Fatal("chromium and chromedriver are required (ONCELINK_REQUIRE_SERVICES=1); .ci/run installs Debian's chromium and chromium-driver")
		}
		t.Skip("skipping: chromium or chromedriver not installed (Debian packages chromium, chromium-driver)")
	}
	return chromium, chromedriver
}

// TestBrowserLogin logs in through the real login flow in headless Chromium:
// a link opened from the outbox shows the confirmation page, the owner's
// address logs in and lands on the members' page, the same link again is
// refused, and a link opened with the wrong address is refused and stays
// usable for its owner. It writes a screenshot of each page to
// $ONCELINK_SCREENSHOTS (default: a directory under the system's temporary
// directory).
func TestBrowserLogin(t *testing.T) {
	chromium, chromedriver := browserPaths(t)
	site, base := startSite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	res, err := site.Invite(ctx)
	if err != nil || res.Sent != len(site.members) || res.Blocked != nil {
		t.Fatalf("invite: %+v %v", res, err)
	}
	links, numbers := outboxLinks(t, site)
	ann, bo, carla := site.members[0], site.members[1], site.members[2]
	if links[ann.Email] == "" || links[bo.Email] == "" {
		t.Fatalf("no links in the outbox: %v", links)
	}

	shots := os.Getenv("ONCELINK_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "oncelink-membersite-screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	driver, err := webdriver.Start(ctx, chromedriver)
	if err != nil {
		t.Fatal(err)
	}
	defer driver.Stop()
	b, err := driver.Chromium(ctx, chromium, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	shot := func(name string) {
		t.Helper()
		p := filepath.Join(shots, name)
		must(b.Screenshot(ctx, p))
		t.Logf("screenshot: %s", p)
	}
	source := func() string {
		t.Helper()
		s, err := b.Source(ctx)
		must(err)
		return s
	}
	wantPage := func(name string, wants ...string) {
		t.Helper()
		// A form submission navigates; wait for the page, boundedly.
		deadline := time.Now().Add(10 * time.Second)
		for {
			src := source()
			missing := ""
			for _, w := range wants {
				if !strings.Contains(src, w) {
					missing = w
					break
				}
			}
			if missing == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the page lacks %q:\n%s", name, missing, src)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	submit := func(field, value string) {
		t.Helper()
		el, err := b.Find(ctx, "#"+field)
		must(err)
		must(el.Type(ctx, value))
		btn, err := b.Find(ctx, "#login")
		must(err)
		must(btn.Click(ctx))
	}

	// Ann opens her message in the outbox and follows the link.
	must(b.Navigate(ctx, base+"/outbox/"+itoa(numbers[ann.Email])))
	wantPage("outbox message", "Dear "+ann.Name, `id="link"`)
	shot("01-outbox-message.png")
	link, err := b.Find(ctx, "#link")
	must(err)
	must(link.Click(ctx))
	wantPage("confirmation page", "Confirm your login", `id="email"`)
	shot("02-confirmation-page.png")
	if st := recordOf(t, site, links[ann.Email]); st != store.StatusIssued {
		t.Fatalf("opening the link consumed it: %v", st)
	}

	submit("email", ann.Email)
	wantPage("members' page", "Welcome, "+ann.Name, ann.Number)
	if u, _ := b.URL(ctx); !strings.HasSuffix(u, "/members") {
		t.Fatalf("landed on %s", u)
	}
	shot("03-members-page.png")

	// The same link a second time, while logged in.
	must(b.Navigate(ctx, links[ann.Email]))
	wantPage("used link", verify.MessageLoggedIn, `id="continue"`)
	shot("04-used-link-logged-in.png")

	// Carla got Bo's link and types her own address.
	must(b.Navigate(ctx, links[bo.Email]))
	wantPage("Bo's link", "Confirm your login")
	submit("email", carla.Email)
	wantPage("wrong identity", verify.MessageCheckAddress, `id="email"`)
	shot("05-wrong-identity-refused.png")
	if st := recordOf(t, site, links[bo.Email]); st != store.StatusIssued {
		t.Fatalf("a wrong identity consumed Bo's link: %v", st)
	}

	// Bo himself, with the same link.
	must(b.Navigate(ctx, links[bo.Email]))
	submit("email", bo.Email)
	wantPage("Bo's members' page", "Welcome, "+bo.Name)
	shot("06-owner-after-stranger.png")
	if st := recordOf(t, site, links[bo.Email]); st != store.StatusConsumed {
		t.Fatalf("Bo's link after his login: %v", st)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// recordOf returns the status of the link's record.
func recordOf(t *testing.T, site *Site, link string) store.Status {
	t.Helper()
	res, err := site.v.Peek(context.Background(), verify.Request{Link: link, Purpose: "login"})
	if err == nil {
		return res.Record.Status
	}
	if errors.Is(err, verify.ErrUsed) {
		return store.StatusConsumed
	}
	if errors.Is(err, verify.ErrRevoked) {
		return store.StatusRevoked
	}
	t.Fatalf("peek: %v", err)
	return 0
}
