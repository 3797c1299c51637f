package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/flow"
	"github.com/oncelink/oncelink/internal/browsertest"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/verify"
)

// startSite runs the member site on a loopback port with SQLite in a
// temporary directory, mailing to the outbox or through smtp.
func startSite(t *testing.T, smtp SMTPConfig) (*Site, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	dir := t.TempDir()
	site, err := NewSite(context.Background(), Config{BaseURL: base, StoreURL: "sqlite:" + filepath.Join(dir, "oncelink.db"), DataDir: dir, SMTP: smtp,
		Logger: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
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

// testLog writes the site's log to the test's.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
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

// TestBrowserLogin logs in through the real login flow in headless Chromium:
// a link opened from the outbox shows the confirmation page, the owner's
// address logs in and lands on the members' page, the same link again is
// refused, and a link opened with the wrong address is refused and stays
// usable for its owner. It writes a screenshot of each page to
// $ONCELINK_SCREENSHOTS (default: a directory under the system's temporary
// directory).
func TestBrowserLogin(t *testing.T) {
	browsertest.Chromium(t)
	site, base := startSite(t, SMTPConfig{})
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
	b := browsertest.Start(t, 3*time.Minute)
	submit := func(field, value string) {
		t.Helper()
		b.Type("#"+field, value)
		b.Click("#login")
	}

	// Ann opens her message in the outbox and follows the link.
	b.Navigate(base + "/outbox/" + itoa(numbers[ann.Email]))
	b.WaitFor("outbox message", "Dear "+ann.Name, `id="link"`)
	b.Screenshot("invite-01-outbox-message.png")
	b.Click("#link")
	b.WaitFor("confirmation page", "Confirm your login", `id="email"`)
	b.Screenshot("invite-02-confirmation-page.png")
	if st := recordOf(t, site, links[ann.Email]); st != store.StatusIssued {
		t.Fatalf("opening the link consumed it: %v", st)
	}

	submit("email", ann.Email)
	b.WaitFor("members' page", "Welcome, "+ann.Name, ann.Number)
	if u := b.URL(); !strings.HasSuffix(u, "/members") {
		t.Fatalf("landed on %s", u)
	}
	b.Screenshot("invite-03-members-page.png")

	// The same link a second time, while logged in.
	b.Navigate(links[ann.Email])
	b.WaitFor("used link", flow.MessageLoggedIn, `id="continue"`)
	b.Screenshot("invite-04-used-link-logged-in.png")

	// Carla got Bo's link and types her own address.
	b.Navigate(links[bo.Email])
	b.WaitFor("Bo's link", "Confirm your login")
	submit("email", carla.Email)
	b.WaitFor("wrong identity", verify.MessageCheckAddress, `id="email"`)
	b.Screenshot("invite-05-wrong-identity-refused.png")
	if st := recordOf(t, site, links[bo.Email]); st != store.StatusIssued {
		t.Fatalf("a wrong identity consumed Bo's link: %v", st)
	}

	// Bo himself, with the same link.
	b.Navigate(links[bo.Email])
	submit("email", bo.Email)
	b.WaitFor("Bo's members' page", "Welcome, "+bo.Name)
	b.Screenshot("invite-06-owner-after-stranger.png")
	if st := recordOf(t, site, links[bo.Email]); st != store.StatusConsumed {
		t.Fatalf("Bo's link after his login: %v", st)
	}
}

// TestBrowserRequestLink is a member's first login on a site that sends
// real mail: she asks for a link on the site, the message arrives at a real
// SMTP server (Mailpit), she opens the link from it, mistypes her address,
// types it right and is logged in; opening the link again says she already
// is. A screenshot of each step goes to $ONCELINK_SCREENSHOTS.
func TestBrowserRequestLink(t *testing.T) {
	browsertest.Chromium(t)
	mp := startMailpit(t)
	site, base := startSite(t, SMTPConfig{Addr: mp.SMTP})
	ann := site.members[0]
	b := browsertest.Start(t, 3*time.Minute)

	b.Navigate(base + "/")
	b.WaitFor("home page", `id="login"`)
	b.Screenshot("request-01-home.png")
	b.Click("#login")
	b.WaitFor("request page", `id="address"`)
	b.Type("#address", strings.ToUpper(ann.Email[:1])+ann.Email[1:])
	b.Screenshot("request-02-form.png")
	b.Click("#request")
	b.WaitFor("answer", "Check your email", "15 minutes")
	b.Screenshot("request-03-check-your-email.png")

	id, text, raw := mp.waitMessage(t, ann.Email, 1)
	link := linkRE.FindString(text)
	if link == "" || !strings.Contains(text, "Dear "+ann.Name) {
		t.Fatalf("the message in Mailpit has no link for %s:\n%s", ann.Name, text)
	}
	if body, err := Body(raw); err != nil || !strings.Contains(body, link) {
		t.Fatalf("the raw message Mailpit received does not carry the link: %v\n%s", err, raw)
	}
	// The message as Mailpit received it (a go-installed Mailpit serves
	// its API and message views, not its web UI's assets).
	b.Navigate(mp.Web + "/view/" + id + ".txt")
	b.WaitFor("the message in Mailpit", "Dear "+ann.Name)
	b.Screenshot("request-04-message-in-mailpit.png")

	b.Navigate(link)
	b.WaitFor("confirmation page", "Confirm your login", `id="email"`)
	b.Screenshot("request-05-confirmation-page.png")
	b.Type("#email", strings.Replace(ann.Email, "members", "memebrs", 1))
	b.Click("#login")
	b.WaitFor("typo", verify.MessageCheckAddress, `id="email"`)
	b.Screenshot("request-06-typo.png")
	b.Type("#email", ann.Email)
	b.Click("#login")
	b.WaitFor("members' page", "Welcome, "+ann.Name)
	b.Screenshot("request-07-members-page.png")

	b.Navigate(link)
	b.WaitFor("the link again", flow.MessageLoggedIn)
	b.Screenshot("request-08-already-logged-in.png")
	if n := len(mp.messages(t, ann.Email)); n != 1 {
		t.Fatalf("%d messages to %s, want 1", n, ann.Email)
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
