package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/browsertest"
	"github.com/oncelink/oncelink/verify"
)

// fitsViewport is true when the page is no wider than the window: wide
// tables scroll in their own boxes.
const fitsViewport = "document.documentElement.scrollWidth <= window.innerWidth"

// consoleBrowser starts a browser logged in to the operator's console,
// with screenshots in $ONCELINK_SCREENSHOTS or the test's own directory.
func consoleBrowser(t *testing.T, base, key string, noScript bool) *browsertest.Browser {
	t.Helper()
	if os.Getenv(browsertest.ScreenshotsEnv) == "" {
		t.Setenv(browsertest.ScreenshotsEnv, t.TempDir())
	}
	b := browsertest.Start(t, 3*time.Minute)
	if noScript {
		b.DisableScripts()
	}
	b.Navigate(base + "/admin/?key=" + key)
	b.WaitFor("the console", "Incident console", `id="act-h"`)
	if strings.Contains(b.URL(), "key=") {
		t.Fatalf("the key stayed in the address bar: %s", b.URL())
	}
	return b
}

// step checks the page fits the window and takes a full-page screenshot.
func step(t *testing.T, b *browsertest.Browser, name string) {
	t.Helper()
	if !b.Eval(fitsViewport) {
		t.Errorf("%s: the page is wider than the window", name)
	}
	b.FullScreenshot(name + ".png")
}

// TestBrowserConsoleIncident drives an incident through the operator's
// console in headless Chromium: a batch sent, a login and a mismatch,
// the batch frozen after a confirmation that counts its links, a typed
// batch id that the form does not ignore, the batch revoked with its one
// open session ended, and the report that tells the mismatch from the
// login, with addresses. Every page fits the window, and a full-page
// screenshot of each step goes to $ONCELINK_SCREENSHOTS.
func TestBrowserConsoleIncident(t *testing.T) {
	browsertest.Chromium(t)
	site, base := startSite(t, SMTPConfig{})
	b := consoleBrowser(t, base, site.adminKey, false)
	b.WaitFor("empty console", "The store holds no batch.", "No holds")
	step(t, b, "console-01-empty")

	b.Navigate(base + "/admin/send")
	b.WaitFor("send page", `id="invite"`)
	b.Click("#invite")
	page := b.WaitFor("sent", "Sent 25 invitations")
	batch := between(page, "(batch ", ")")
	if !strings.HasPrefix(batch, "invite-") {
		t.Fatalf("no batch in the result: %q", batch)
	}
	links, _ := outboxLinks(t, site)
	ann, bo, carla := site.members[0], site.members[1], site.members[2]

	// Ann logs in with her own link; Carla got Bo's and types her address.
	login := func(link, email, want string) {
		t.Helper()
		b.Navigate(link)
		b.WaitFor("confirmation page", `id="email"`)
		b.Type("#email", email)
		b.Click("#login")
		b.WaitFor("after the login", want)
	}
	login(links[ann.Email], ann.Email, "Welcome, "+ann.Name)
	login(links[bo.Email], carla.Email, verify.MessageCheckAddress)
	if n := site.sessions.count(); n != 1 {
		t.Fatalf("%d sessions open, want Ann's", n)
	}

	b.Navigate(base + "/admin/?batch=" + batch)
	b.WaitFor("console after the send", batch, "Timeline of batch "+batch, "1 logins, 1 mismatches", "<svg")
	step(t, b, "console-02-after-send")

	// An operator who chose every link but typed the batch id is told so.
	b.Click("#scope-global")
	b.Type("#batch", batch)
	b.Click("#freeze")
	b.WaitFor("typed id not ignored", "Nothing done", "You chose every link but also typed")
	step(t, b, "console-03-typed-id-not-ignored")

	b.Navigate(base + "/admin/")
	b.WaitFor("console", `id="batch"`)
	b.Type("#batch", batch)
	b.Type("#reason", "links in the wrong mailboxes")
	b.Click("#freeze")
	page = b.WaitFor("freeze confirmation", "Freeze batch", `id="do"`)
	if !strings.Contains(page, `<strong id="links">25</strong>`) || !strings.Contains(page, `<strong id="outstanding">24</strong>`) {
		t.Fatalf("the freeze confirmation does not count 25 links, 24 outstanding:\n%s", page)
	}
	step(t, b, "console-04-freeze-confirmation")
	b.Click("#do")
	b.WaitFor("frozen", fmt.Sprintf(`Froze batch "%s": 25 links, 24 of them outstanding`, batch), "links in the wrong mailboxes")
	step(t, b, "console-05-frozen")

	b.Type("#batch", batch)
	b.Click("#revoke")
	page = b.WaitFor("revoke confirmation", "Revoke batch", `id="sessions"`)
	if !strings.Contains(page, "opened 1 sessions; 1 of them are open now and will be ended") {
		t.Fatalf("the revocation's confirmation does not count the open session:\n%s", page)
	}
	if !strings.Contains(page, "Type <strong>24</strong> to confirm") {
		t.Fatalf("revoking every outstanding link of the store does not ask for its count:\n%s", page)
	}
	b.Type("#confirm", "24")
	step(t, b, "console-06-revoke-confirmation")
	b.Click("#do")
	b.WaitFor("revoked", "(24 of them outstanding) will never work again", "Sessions: 1 of the 1 its links opened were open; 1 were ended; 0 are open now.")
	step(t, b, "console-07-revoked")
	if n := site.sessions.count(); n != 0 {
		t.Fatalf("%d sessions open after the revocation", n)
	}

	b.Navigate(base + "/admin/report?batch=" + batch)
	page = b.WaitFor("report", "Mismatches (1)", "Replays (0)", "Logins (1)", bo.Email, ann.Email, carla.Email)
	if strings.Index(page, `id="mismatches"`) > strings.Index(page, `id="logins"`) {
		t.Errorf("the report lists logins before mismatches")
	}
	step(t, b, "console-08-report")
}

// TestBrowserConsoleWithoutScript runs the console with JavaScript
// disabled: the forms, the confirmation and the redirect after each action
// work as plain HTML.
func TestBrowserConsoleWithoutScript(t *testing.T) {
	browsertest.Chromium(t)
	site, base := startSite(t, SMTPConfig{})
	res, err := site.Invite(context.Background())
	if err != nil || res.Sent != 25 {
		t.Fatalf("invite: %+v %v", res, err)
	}
	b := consoleBrowser(t, base, site.adminKey, true)
	b.WaitFor("console", res.Batch)
	step(t, b, "noscript-01-console")
	b.Type("#batch", res.Batch)
	b.Click("#freeze")
	b.WaitFor("freeze confirmation", `<strong id="links">25</strong>`)
	step(t, b, "noscript-02-freeze-confirmation")
	b.Click("#do")
	b.WaitFor("frozen", "Froze batch", "25 links, 25 of them outstanding")
	step(t, b, "noscript-03-frozen")
	b.Type("#batch", res.Batch)
	b.Click("#thaw")
	b.WaitFor("thaw confirmation", "Thaw batch", `id="do"`)
	b.Click("#do")
	b.WaitFor("thawed", "Thawed batch", "25 links can be used again")
	step(t, b, "noscript-04-thawed")
	b.Click("#scope-global")
	b.Click("#revoke")
	b.WaitFor("revoke everything", "Type <strong>25</strong> to confirm", `id="confirm"`)
	b.Type("#confirm", "24")
	b.Click("#do")
	b.WaitFor("wrong count", "Not done: the number typed was not 25")
	step(t, b, "noscript-05-wrong-count")
	if marks, err := site.st.Marks(context.Background()); err != nil || len(marks) != 0 {
		t.Fatalf("a wrong count revoked: %+v %v", marks, err)
	}
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
