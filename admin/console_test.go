package admin_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/storeurl"
)

// consoleClient talks to a console as a browser without script does:
// plain GETs and form POSTs, following no redirect by itself.
type consoleClient struct {
	t   *testing.T
	srv *httptest.Server
}

func newConsole(t *testing.T, a *admin.Admin, opts ...admin.ConsoleOption) *consoleClient {
	t.Helper()
	h, err := admin.NewConsole(a, func(r *http.Request) (string, bool) {
		return "ops@site", r.Header.Get("Authorization") == "Bearer staff"
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/", http.StripPrefix("/ops", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &consoleClient{t: t, srv: srv}
}

func (c *consoleClient) do(method, path string, form url.Values) (int, string, http.Header) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.srv.URL+"/ops/"+path, body)
	req.Header.Set("Authorization", "Bearer staff")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (c *consoleClient) get(path string) (int, string) {
	code, body, _ := c.do("GET", path, nil)
	return code, body
}

// post posts a form and follows its redirect, as a browser does; it
// returns the page the redirect leads to, or the page answered at once.
func (c *consoleClient) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	code, body, h := c.do("POST", path, form)
	if code != http.StatusSeeOther {
		return code, body
	}
	loc := h.Get("Location")
	if !strings.HasPrefix(loc, "./") {
		c.t.Fatalf("redirect to %q, want a relative address", loc)
	}
	return c.get(strings.TrimPrefix(loc, "./"))
}

var (
	tagRE    = regexp.MustCompile(`<[^>]+>`)
	styleRE  = regexp.MustCompile(`(?s)<style>.*?</style>`)
	resultRE = regexp.MustCompile(`(?s)id="result">(.*?)</div>`)
)

// result returns the text of the result of an action on a page.
func result(page string) string {
	m := resultRE.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return text(m[1])
}

// text returns the page without its tags and with its spaces collapsed.
func text(page string) string {
	return html.UnescapeString(strings.Join(strings.Fields(tagRE.ReplaceAllString(styleRE.ReplaceAllString(page, ""), " ")), " "))
}

// TestConsoleForm: every input of the overview has a label; the scope
// that is chosen by default is one batch, never every link.
func TestConsoleForm(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	s.mintBatches(t, 10, 10, "f")
	c := newConsole(t, s.a)
	code, page := c.get("")
	if code != 200 {
		t.Fatalf("overview: %d %s", code, page)
	}
	inputs := regexp.MustCompile(`<input[^>]*>`).FindAllString(page, -1)
	if len(inputs) < 4 {
		t.Fatalf("the overview has %d inputs", len(inputs))
	}
	for _, in := range inputs {
		if strings.Contains(in, `type="hidden"`) {
			continue
		}
		id := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(in)
		if id == nil || !strings.Contains(page, `<label for="`+id[1]+`"`) {
			t.Errorf("input without a label: %s", in)
		}
		if strings.Contains(in, `value="global"`) && strings.Contains(in, "checked") {
			t.Errorf("every link is chosen by default: %s", in)
		}
	}
	if !regexp.MustCompile(`<input type="radio" id="scope-batch"[^>]*checked`).MatchString(page) {
		t.Errorf("one batch is not the default scope")
	}
	if strings.Contains(page, "<script") {
		t.Errorf("the overview holds a script")
	}
}

// TestConsoleTypedIDNeverIgnored: a batch id typed while another scope is
// chosen is an error that names it, and nothing is frozen.
func TestConsoleTypedIDNeverIgnored(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	s.mintBatches(t, 10, 10, "t")
	c := newConsole(t, s.a)
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"everything with a batch typed", url.Values{"action": {"freeze"}, "scope": {"global"}, "batch": {"t-000"}}, `typed "t-000"`},
		{"a member with a batch typed", url.Values{"action": {"freeze"}, "scope": {"member"}, "member": {"m-0001"}, "batch": {"t-000"}}, `typed batch "t-000"`},
		{"a batch with nothing typed", url.Values{"action": {"freeze"}, "scope": {"batch"}}, "type the batch id"},
		{"no scope", url.Values{"action": {"freeze"}, "batch": {"t-000"}}, "choose what to act on"},
		{"a batch that does not exist", url.Values{"action": {"freeze"}, "scope": {"batch"}, "batch": {"t-00"}}, `batch "t-00" has no link`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, page := c.get("confirm?" + tc.form.Encode())
			if code < 400 || !strings.Contains(strings.ToLower(text(page)), strings.ToLower(tc.want)) {
				t.Errorf("confirm: %d, want a refusal saying %q:\n%s", code, tc.want, text(page))
			}
			code, page = c.post("act", tc.form)
			if !strings.Contains(strings.ToLower(text(page)), strings.ToLower(tc.want)) {
				t.Errorf("act: %d, want a refusal saying %q:\n%s", code, tc.want, text(page))
			}
			if holds, _ := st.Holds(ctx); len(holds) != 0 {
				t.Fatalf("holds after a refused form: %+v", holds)
			}
		})
	}
}

// TestConsoleIncident drives an incident through the console on every
// durable store: the confirmation of a freeze states the batch's links,
// the freeze holds, revoking every link asks for its count and refuses a
// wrong one, the sessions line says only what is known, and a console
// built anew on the reopened store lists what the first one did.
func TestConsoleIncident(t *testing.T) {
	for _, b := range teststores.Durable()[:1] {
		t.Run(b.Name, func(t *testing.T) {
			st, surl := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 15, 10, "inc")
			var mu sync.Mutex
			open := map[string]bool{}
			for i := 0; i < 3; i++ {
				if err := s.consume(links[i], email(i), "sess-"+member(i)); err != nil {
					t.Fatal(err)
				}
				open["sess-"+member(i)] = i < 2 // the third member logged out
			}
			counter := admin.WithOpenSessions(func(_ context.Context, refs []string) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				n := 0
				s.mu.Lock()
				defer s.mu.Unlock()
				for _, r := range refs {
					if open[r] && !slices.Contains(s.ended, r) {
						n++
					}
				}
				return n, nil
			})
			c := newConsole(t, s.a, counter)

			freeze := url.Values{"action": {"freeze"}, "scope": {"batch"}, "batch": {" inc-000 "}, "reason": {"wrong mailboxes"}}
			code, page := c.get("confirm?" + freeze.Encode())
			if code != 200 || !strings.Contains(text(page), `Freeze batch "inc-000"? What it covers It covers 10 links: 7 outstanding`) {
				t.Fatalf("freeze confirmation: %d\n%s", code, text(page))
			}
			_, page = c.post("act", freeze)
			if !strings.Contains(text(page), `Froze batch "inc-000": 10 links, 7 of them outstanding`) {
				t.Fatalf("freeze result:\n%s", text(page))
			}
			if holds, _ := st.Holds(ctx); len(holds) != 1 || holds[0].Key != "inc-000" || holds[0].Reason != "wrong mailboxes" {
				t.Fatalf("holds: %+v", holds)
			}

			all := url.Values{"action": {"revoke"}, "scope": {"global"}}
			_, page = c.get("confirm?" + all.Encode())
			if !strings.Contains(text(page), "Type 12 to confirm") || !strings.Contains(text(page), "opened 3 sessions; 2 of them are open now and will be ended") {
				t.Fatalf("revoke everything confirmation:\n%s", text(page))
			}
			_, page = c.post("act", all)
			if !strings.Contains(text(page), "Not done: the number typed was not 12") {
				t.Fatalf("revoke everything without the count:\n%s", text(page))
			}
			all.Set("confirm", "11")
			c.post("act", all)
			if marks, _ := st.Marks(ctx); len(marks) != 0 {
				t.Fatalf("a revocation with a wrong count set %+v", marks)
			}
			all.Set("confirm", "12")
			_, page = c.post("act", all)
			if !strings.Contains(result(page), "Revoked every link: its 15 links (12 of them outstanding)") ||
				!strings.Contains(result(page), "Sessions: 2 of the 3 its links opened were open; 2 were ended; 0 are open now.") {
				t.Fatalf("revoke everything result:\n%s", text(page))
			}

			// Restart: a new console on the store reopened from its URL.
			st2, closeStore, err := storeurl.Open(ctx, surl)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			a2, _ := admin.New(st2)
			c2 := newConsole(t, a2)
			_, page = c2.get("")
			for _, want := range []string{"inc-000", "inc-001", "wrong mailboxes"} {
				if !strings.Contains(page, want) {
					t.Errorf("the overview after a restart lacks %q:\n%s", want, text(page))
				}
			}
			if !strings.Contains(page, `<svg`) || !strings.Contains(text(page), "Recent actions") || !strings.Contains(page, "watermark") {
				t.Errorf("the overview after a restart lacks its plot or actions:\n%s", text(page))
			}
			// Without a session counter, revoking says it does not know.
			_, page = c2.post("act", url.Values{"action": {"revoke"}, "scope": {"batch"}, "batch": {"inc-001"}})
			if !strings.Contains(result(page), "no session to end") {
				t.Fatalf("revoke of a batch without sessions:\n%s", text(page))
			}
		})
	}
}

// TestConsoleSessionsNotKnown: without a way to count open sessions, the
// console never claims sessions ended; without a session revoker it says
// they were not.
func TestConsoleSessionsNotKnown(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	links := s.mintBatches(t, 4, 2, "n")
	for i := 0; i < 4; i++ {
		if err := s.consume(links[i], email(i), "sess-"+member(i)); err != nil {
			t.Fatal(err)
		}
	}
	c := newConsole(t, s.a)
	form := url.Values{"action": {"revoke"}, "scope": {"batch"}, "batch": {"n-000"}}
	_, page := c.get("confirm?" + form.Encode())
	if !strings.Contains(text(page), "opened 2 sessions; how many are still open is not known") {
		t.Fatalf("confirmation without a counter:\n%s", text(page))
	}
	_, page = c.post("act", form)
	if !strings.Contains(result(page), "Handed the 2 sessions its links opened to the site's session revoker; how many of them were still open is not known") ||
		strings.Contains(result(page), "ended") {
		t.Fatalf("result without a counter:\n%s", text(page))
	}
	bare, _ := admin.New(st)
	c = newConsole(t, bare)
	_, page = c.post("act", url.Values{"action": {"revoke"}, "scope": {"member"}, "member": {member(2)}})
	if !strings.Contains(result(page), "No session revoker is configured: the 1 sessions its links opened were not ended") {
		t.Fatalf("result without a revoker:\n%s", text(page))
	}
}

// TestConsoleCrossOrigin: a form posted from another site is refused and
// changes nothing; so is a request the authorizer refuses.
func TestConsoleCrossOrigin(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	s.mintBatches(t, 4, 4, "x")
	c := newConsole(t, s.a)
	form := url.Values{"action": {"freeze"}, "scope": {"batch"}, "batch": {"x-000"}}
	req, _ := http.NewRequest("POST", c.srv.URL+"/ops/act", strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer staff")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", resp.StatusCode)
	}
	resp, err = http.Get(c.srv.URL + "/ops/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET without authorization: %d", resp.StatusCode)
	}
	if holds, _ := st.Holds(ctx); len(holds) != 0 {
		t.Fatalf("holds after refused requests: %+v", holds)
	}
}

// TestConsoleReport: the report page separates mismatches, replays and
// logins, shows the addresses links were sent to, and escapes what
// strangers typed.
func TestConsoleReport(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	links := s.mintBatches(t, 5, 5, "r")
	if err := s.consume(links[0], email(0), "sess-0"); err != nil {
		t.Fatal(err)
	}
	s.consume(links[0], email(0), "again")
	s.consume(links[1], "<script>alert(1)</script>@example.org", "x")
	c := newConsole(t, s.a)
	code, page := c.get("report?batch=r-000")
	if code != 200 {
		t.Fatalf("report: %d %s", code, text(page))
	}
	if strings.Contains(page, "<script>alert") {
		t.Fatalf("the report holds a stranger's script")
	}
	body := text(page)
	for _, want := range []string{"Mismatches (1)", "Replays (1)", "Logins (1)", email(1), email(0), "2 members to contact"} {
		if !strings.Contains(body, want) {
			t.Errorf("report lacks %q:\n%s", want, body)
		}
	}
	sections := regexp.MustCompile(`<table id="(mismatches|replays|logins)">`).FindAllStringSubmatch(page, -1)
	var ids []string
	for _, s := range sections {
		ids = append(ids, s[1])
	}
	if !slices.Equal(ids, []string{"mismatches", "replays", "logins"}) {
		t.Errorf("report tables: %v", ids)
	}
	if code, _ := c.get("report"); code != http.StatusBadRequest {
		t.Errorf("report without a scope: %d", code)
	}
	code, csv, h := c.do("GET", "report.csv?batch=r-000", nil)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(csv, email(1)) {
		t.Errorf("CSV: %d %s", code, h.Get("Content-Type"))
	}
}
