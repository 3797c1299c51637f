package admin_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// csvHeader is the header row every report's CSV starts with.
var csvHeader = []string{"event", "at", "member", "affected", "token_id", "batch", "purpose", "recipient", "status",
	"reason", "identity", "ip", "user_agent", "session"}

var ctx = context.Background()

// site is a member site on one store: issuer, verifier with a breaker, and
// an admin whose session revoker records what it is handed.
type site struct {
	st    store.Store
	iss   *token.Issuer
	v     *verify.Verifier
	a     *admin.Admin
	mu    sync.Mutex
	ended []string
	trips []verify.Trip
}

func newSite(t *testing.T, st store.Store) *site {
	t.Helper()
	s := &site{st: st}
	key, err := token.GenerateHMACKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := token.NewKeyring(key)
	if s.iss, err = token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login")); err != nil {
		t.Fatal(err)
	}
	p, _ := s.iss.Parser()
	s.v, err = verify.New(p, st, verify.WithBreaker(verify.Breaker{OnTrip: func(_ context.Context, tr verify.Trip) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.trips = append(s.trips, tr)
	}}))
	if err != nil {
		t.Fatal(err)
	}
	s.a, err = admin.New(st, admin.WithSessionRevoker(admin.SessionRevokerFunc(func(_ context.Context, sessions []string) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ended = append(s.ended, sessions...)
		return nil
	})))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func email(i int) string  { return fmt.Sprintf("m%04d@example.org", i) }
func member(i int) string { return fmt.Sprintf("m-%04d", i) }

func (s *site) consume(link *token.Link, mail, session string) error {
	_, err := s.v.Consume(ctx, verify.Request{Link: link.URL, Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: mail}, IP: "203.0.113.5", UserAgent: "Mail client of " + mail, Session: session})
	return err
}

// mintBatches mints n members' links in batches of size, in member order.
func (s *site) mintBatches(t *testing.T, n, size int, prefix string) []*token.Link {
	t.Helper()
	var links []*token.Link
	for b := 0; b*size < n; b++ {
		var reqs []token.Request
		for i := b * size; i < min((b+1)*size, n); i++ {
			reqs = append(reqs, token.Request{Member: member(i), Purpose: token.PurposeLogin, Recipient: email(i)})
		}
		ls, err := s.iss.MintBatch(ctx, fmt.Sprintf("%s-%03d", prefix, b), reqs)
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, ls...)
	}
	return links
}

// TestIncidentReplay replays the incident on every store: 1,000 links in
// batches of ten; from batch 20 on, a reused mail object sends every
// recipient of a batch the message rendered for the batch's first member.
// Thirty recipients type the address the message shows and get in; in batch
// 50 two type their own and trip the breaker, and a third finds the batch
// frozen; one revoke call kills
// everything; the report names exactly the affected members and sessions,
// and the session revoker received exactly those sessions.
func TestIncidentReplay(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			start := time.Now().Add(-time.Second)
			links := s.mintBatches(t, 1000, 10, "invite")

			var wantAffected, wantLogins, wantSessions []string
			for batch := 20; batch < 50; batch++ {
				owner, impostor := batch*10, batch*10+1
				session := fmt.Sprintf("sess-%s-as-%s", member(impostor), member(owner))
				if err := s.consume(links[owner], email(owner), session); err != nil {
					t.Fatalf("batch %d: the impostor typing the shown address: %v", batch, err)
				}
				wantLogins = append(wantLogins, member(owner))
				wantSessions = append(wantSessions, session)
			}
			for i := 1; i <= 3; i++ {
				want := verify.ErrMismatch
				if i == 3 {
					want = verify.ErrFrozen
				}
				if err := s.consume(links[500], email(500+i), fmt.Sprint("sess-honest-", i)); !errors.Is(err, want) {
					t.Fatalf("member %d with member 500's link: %v, want %v", 500+i, err, want)
				}
			}
			wantAffected = append(wantAffected, member(500))
			if len(s.trips) != 1 || s.trips[0].Batch != "invite-050" || s.trips[0].Mismatches != 2 || s.trips[0].Shared != 1 {
				t.Fatalf("breaker trips: %+v", s.trips)
			}
			if err := s.consume(links[505], email(505), "x"); !errors.Is(err, verify.ErrFrozen) {
				t.Fatalf("a link of the frozen batch: %v", err)
			}

			// One call revokes every link of the send: as wide as everything,
			// it is confirmed with the count its preview shows.
			send := store.Filter{IssuedFrom: start, IssuedBefore: time.Now().Add(time.Second)}
			p, err := s.a.Preview(ctx, send)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Wide || p.Confirm != 970 || p.Matching != 1000 {
				t.Fatalf("Preview = %+v, want a wide revocation of 970 outstanding links", p)
			}
			if _, err := s.a.Revoke(ctx, send, "ops@site"); !errors.Is(err, admin.ErrConfirm) {
				t.Fatalf("an unconfirmed revocation of everything: %v", err)
			}
			res, err := s.a.Revoke(ctx, send, "ops@site", admin.Confirm(p.Confirm))
			if err != nil {
				t.Fatal(err)
			}
			if res.Revoked != 1000 || res.Covered != 970 || !res.SessionsEnded {
				t.Fatalf("Revoke = %+v", res)
			}
			slices.Sort(wantSessions)
			slices.Sort(res.Sessions)
			s.mu.Lock()
			ended := slices.Clone(s.ended)
			s.mu.Unlock()
			slices.Sort(ended)
			if !slices.Equal(res.Sessions, wantSessions) || !slices.Equal(ended, wantSessions) {
				t.Fatalf("sessions: result %v, revoker got %v; want %v", res.Sessions, ended, wantSessions)
			}
			recs, err := st.Records(ctx, store.RecordQuery{Filter: store.Filter{IssuedFrom: start}, Limit: store.MaxPage})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.Status != store.StatusRevoked {
					t.Fatalf("link of %s survived the revocation: %v", r.Member, r.Status)
				}
			}
			for i := 0; i < 1000; i += 37 {
				if err := s.consume(links[i], email(i), "late"); !errors.Is(err, verify.ErrRevoked) {
					t.Fatalf("link %d after the revocation: %v", i, err)
				}
			}

			rep, err := s.a.Report(ctx, admin.ReportQuery{Since: start, Until: time.Now().Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			// The impostors typed the address the message showed: their
			// logins look like the members' own, and are listed as logins,
			// with the sessions to end; the mismatches name member 500.
			if got := affectedMembers(rep); !slices.Equal(got, wantAffected) {
				t.Fatalf("report affected = %v\nwant %v", got, wantAffected)
			}
			var logins []string
			for _, u := range rep.Logins {
				logins = append(logins, u.Member)
			}
			slices.Sort(logins)
			if !slices.Equal(logins, wantLogins) {
				t.Fatalf("report logins = %v\nwant %v", logins, wantLogins)
			}
			if !slices.Equal(rep.Sessions, wantSessions) {
				t.Fatalf("report sessions = %v, want %v", rep.Sessions, wantSessions)
			}
			if c := rep.Counts; c.Issued != 1000 || c.Logins != 30 || c.Mismatches != 3 || len(rep.Mismatches) != 3 || len(rep.Members) != 1000 {
				t.Fatalf("report counts: %+v, members %d", c, len(rep.Members))
			}
			if a := rep.Affected[0]; !slices.Equal(a.Addresses, []string{email(500)}) || !slices.Equal(a.PresentedBy, []string{"email:" + email(501), "email:" + email(502), "email:" + email(503)}) {
				t.Fatalf("affected member 500: %+v", a)
			}
			for _, m := range rep.Members {
				if m.Member != member(200) {
					continue
				}
				l := m.Links[0]
				if l.Status != "consumed, revoked" || l.ConsumedBy == nil || l.ConsumedBy.Session != "sess-m-0201-as-m-0200" ||
					l.ConsumedBy.Identity != "email:"+email(200) || l.ConsumedBy.IP != "203.0.113.5" || l.Recipient != email(200) {
					t.Fatalf("report of member 200: %+v %+v", l, l.ConsumedBy)
				}
			}
			kinds := map[store.EventKind]int{}
			for _, e := range rep.Actions {
				kinds[e.Kind]++
			}
			if kinds[store.EventBreaker] != 1 || kinds[store.EventRevoked] != 1 || kinds[store.EventSessions] != 1 {
				t.Fatalf("report actions: %v", kinds)
			}
		})
	}
}

func TestRevokeWatermark(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 40, 20, "w")
			for i := 0; i < 4; i++ {
				if err := s.consume(links[i], email(i), fmt.Sprint("sess-", i)); err != nil {
					t.Fatal(err)
				}
			}
			res, err := s.a.Revoke(ctx, store.Filter{Members: []string{member(1), member(30)}}, "ops")
			if err != nil {
				t.Fatal(err)
			}
			if res.Sequence == 0 || res.Revoked != 0 || res.Covered != 1 || !slices.Equal(res.Sessions, []string{"sess-1"}) {
				t.Fatalf("member revoke = %+v", res)
			}
			if err := s.consume(links[30], email(30), "x"); !errors.Is(err, verify.ErrRevoked) {
				t.Fatalf("member 30 after a member watermark: %v", err)
			}
			if err := s.consume(links[31], email(31), "s31"); err != nil {
				t.Fatalf("member 31 after another member's watermark: %v", err)
			}
			p, err := s.a.Preview(ctx, store.Filter{All: true})
			if err != nil {
				t.Fatal(err)
			}
			res, err = s.a.Revoke(ctx, store.Filter{All: true}, "ops", admin.Confirm(p.Confirm))
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(res.Sessions)
			if res.Sequence == 0 || !slices.Equal(res.Sessions, []string{"s31", "sess-0", "sess-1", "sess-2", "sess-3"}) {
				t.Fatalf("revoke everything = %+v", res)
			}
			for i := 4; i < 40; i++ {
				if i == 31 {
					continue
				}
				if err := s.consume(links[i], email(i), "x"); !errors.Is(err, verify.ErrRevoked) {
					t.Fatalf("link %d after revoking everything: %v", i, err)
				}
			}
			fresh, err := s.iss.Mint(ctx, token.Request{Member: member(7), Purpose: token.PurposeLogin, Recipient: email(7)})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.consume(fresh, email(7), "new"); err != nil {
				t.Fatalf("a link minted after the watermark: %v", err)
			}
			state, err := s.a.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(state.Marks) != 3 || state.Marks[0].Member != "" {
				t.Fatalf("watermarks = %+v", state.Marks)
			}
		})
	}
}

func TestFreezeThaw(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 4, 2, "f")
			if res, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Reason: "investigating"}, "ops"); err != nil || res.Outstanding != 4 {
				t.Fatalf("Freeze = %+v, %v", res, err)
			}
			if err := s.consume(links[0], email(0), "x"); !errors.Is(err, verify.ErrFrozen) {
				t.Fatalf("globally frozen: %v", err)
			}
			if res, err := s.a.Thaw(ctx, store.Hold{Scope: store.ScopeGlobal}, "ops"); err != nil || !res.Changed || res.Usable != 4 {
				t.Fatalf("Thaw = %+v, %v", res, err)
			}
			if res, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "f-001", Reason: "bad batch"}, "ops"); err != nil || res.Outstanding != 2 {
				t.Fatalf("Freeze = %+v, %v", res, err)
			}
			if err := s.consume(links[2], email(2), "x"); !errors.Is(err, verify.ErrFrozen) {
				t.Fatalf("batch frozen: %v", err)
			}
			if err := s.consume(links[0], email(0), "s0"); err != nil {
				t.Fatalf("the other batch: %v", err)
			}
			if _, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "", Reason: "x"}, "ops"); !errors.Is(err, admin.ErrRequest) {
				t.Fatalf("a batch freeze without a batch: %v", err)
			}
			evs, _, err := st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventFrozen, store.EventThawed}})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 3 || evs[0].Actor != "ops" || evs[2].Batch != "f-001" {
				t.Fatalf("ledger: %+v", evs)
			}
		})
	}
}

func TestReportFormats(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	links := s.mintBatches(t, 3, 3, "r")
	s.consume(links[0], email(0), "s0")
	// A stranger's user agent is a spreadsheet formula.
	s.v.Consume(ctx, verify.Request{Link: links[1].URL, Purpose: token.PurposeLogin,
		Identity: verify.Identity{Email: "x@evil.example"}, UserAgent: "=HYPERLINK(\"http://evil\")", Session: "s1"})
	rep, err := s.a.Report(ctx, admin.ReportQuery{Batch: "r-000"})
	if err != nil {
		t.Fatal(err)
	}
	if got := affectedMembers(rep); !slices.Equal(got, []string{member(1)}) {
		t.Fatalf("affected = %v", got)
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], csvHeader) || len(rows) != 1+3+1+1 {
		t.Fatalf("csv rows: %v", rows)
	}
	formulas := 0
	for _, r := range rows[1:] {
		for _, cell := range r {
			if strings.HasPrefix(cell, "=") {
				t.Fatalf("a formula reached the CSV unquoted: %v", r)
			}
		}
		if r[12] == `'=HYPERLINK("http://evil")` {
			formulas++
		}
	}
	if formulas != 1 {
		t.Fatalf("the user agent was not kept, defused: %v", rows)
	}
	js, _ := json.Marshal(rep)
	var back admin.Report
	if err := json.Unmarshal(js, &back); err != nil || back.Counts.Issued != 3 || back.Counts.Logins != 1 || back.Counts.Mismatches != 1 {
		t.Fatalf("json round trip: %v %+v", err, back)
	}
	if _, err := s.a.Report(ctx, admin.ReportQuery{}); !errors.Is(err, admin.ErrRequest) {
		t.Fatalf("a report without scope: %v", err)
	}
}

func TestHTTP(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 6, 3, "h")
			s.consume(links[0], email(0), "sess-0")
			h, err := admin.NewHandler(s.a, func(r *http.Request) (string, bool) {
				if r.Header.Get("Authorization") == "Bearer staff" {
					return "staff", true
				}
				if r.Header.Get("Authorization") == "Bearer panic" {
					panic("authorizer bug")
				}
				return "", false
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			do := func(method, path, auth, ctype, body string) (int, map[string]any, string) {
				req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				if auth != "" {
					req.Header.Set("Authorization", "Bearer "+auth)
				}
				if ctype != "" {
					req.Header.Set("Content-Type", ctype)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var raw bytes.Buffer
				raw.ReadFrom(resp.Body)
				var m map[string]any
				json.Unmarshal(raw.Bytes(), &m)
				return resp.StatusCode, m, raw.String()
			}
			const js = "application/json"
			cases := []struct {
				name, method, path, auth, ctype, body string
				want                                  int
			}{
				{"no auth", "POST", "/revoke", "", js, `{"filter":{"all":true}}`, 403},
				{"wrong auth", "POST", "/revoke", "guest", js, `{"filter":{"all":true}}`, 403},
				{"panicking authorizer", "POST", "/revoke", "panic", js, `{"filter":{"all":true}}`, 403},
				{"no auth report", "GET", "/report?batch=h-000", "", "", "", 403},
				{"form body", "POST", "/revoke", "staff", "application/x-www-form-urlencoded", `filter=all`, 415},
				{"bad json", "POST", "/revoke", "staff", js, `{"filter":`, 400},
				{"unknown field", "POST", "/revoke", "staff", js, `{"filter":{"everything":true}}`, 400},
				{"two values", "POST", "/revoke", "staff", js, `{"filter":{"all":true}} {}`, 400},
				{"empty filter", "POST", "/revoke", "staff", js, `{"filter":{}}`, 400},
				{"all and more", "POST", "/revoke", "staff", js, `{"filter":{"all":true,"batches":["h-000"]}}`, 400},
				{"bad id", "POST", "/revoke", "staff", js, `{"filter":{"ids":["1"]}}`, 400},
				{"bad scope", "POST", "/freeze", "staff", js, `{"scope":"planet","key":"x"}`, 400},
				{"bad time", "GET", "/report?since=yesterday", "staff", "", "", 400},
				{"no scope", "GET", "/report", "staff", "", "", 400},
				{"wrong method", "GET", "/revoke", "staff", "", "", 405},
			}
			for _, tc := range cases {
				code, _, body := do(tc.method, tc.path, tc.auth, tc.ctype, tc.body)
				if code != tc.want {
					t.Fatalf("%s: status %d, want %d: %s", tc.name, code, tc.want, body)
				}
			}
			// Nothing above changed anything.
			if n, _ := st.Count(ctx, store.Filter{Consumed: true}); n != 1 {
				t.Fatalf("consumed count %d", n)
			}
			if err := s.consume(links[1], email(1), "sess-1"); err != nil {
				t.Fatalf("after refused admin requests: %v", err)
			}

			code, m, body := do("POST", "/revoke", "staff", js, `{"filter":{"batches":["h-000"]},"dry_run":true}`)
			if code != 200 || m["matching"] != 3.0 || m["consumed"] != 2.0 {
				t.Fatalf("dry run: %d %s", code, body)
			}
			if err := s.consume(links[2], email(2), "sess-2"); err != nil {
				t.Fatalf("a dry run revoked: %v", err)
			}
			code, m, body = do("POST", "/revoke", "staff", js, `{"filter":{"batches":["h-000"]}}`)
			if code != 200 || m["revoked"] != 3.0 || m["sessions_ended"] != true || len(m["sessions"].([]any)) != 3 {
				t.Fatalf("revoke: %d %s", code, body)
			}
			code, _, body = do("POST", "/freeze", "staff", js, `{"scope":"batch","key":"h-001","reason":"check"}`)
			if code != 200 {
				t.Fatalf("freeze: %d %s", code, body)
			}
			if err := s.consume(links[3], email(3), "x"); !errors.Is(err, verify.ErrFrozen) {
				t.Fatalf("after freeze over HTTP: %v", err)
			}
			code, m, _ = do("GET", "/state", "staff", "", "")
			if code != 200 || len(m["holds"].([]any)) != 1 {
				t.Fatalf("state: %d %v", code, m)
			}
			code, m, body = do("POST", "/thaw", "staff", js, `{"scope":"batch","key":"h-001"}`)
			if code != 200 || m["changed"] != true {
				t.Fatalf("thaw: %d %s", code, body)
			}
			code, m, body = do("GET", "/report?batch=h-000", "staff", "", "")
			if code != 200 || len(m["affected"].([]any)) != 3 || len(m["sessions"].([]any)) != 3 {
				t.Fatalf("report: %d %s", code, body)
			}
			code, _, body = do("GET", "/report?batch=h-000&format=csv", "staff", "", "")
			if code != 200 || !strings.HasPrefix(body, strings.Join(csvHeader, ",")) {
				t.Fatalf("csv report: %d %s", code, body)
			}
			evs, _, _ := st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventRevoked}})
			if len(evs) != 1 || evs[0].Actor != "staff" || evs[0].Count != 3 {
				t.Fatalf("the ledger does not name the actor: %+v", evs)
			}
		})
	}
	if _, err := admin.NewHandler(nil, nil); !errors.Is(err, admin.ErrConfig) {
		t.Fatal("a handler without an authorizer")
	}
}

func affectedMembers(rep *admin.Report) []string {
	var out []string
	for _, a := range rep.Affected {
		out = append(out, a.Member)
	}
	return out
}
