package admin_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// skewed is a minting instance whose clock is off by skew: its issuer stamps
// links with its own time, and its verifier checks them with it.
type skewed struct {
	iss *token.Issuer
	v   *verify.Verifier
}

func newSkewed(t *testing.T, st store.Store, skew time.Duration) *skewed {
	t.Helper()
	key, err := token.GenerateHMACKey("skew")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := token.NewKeyring(key)
	clock := func() time.Time { return time.Now().Add(skew) }
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"), token.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := iss.Parser()
	v, err := verify.New(p, st)
	if err != nil {
		t.Fatal(err)
	}
	return &skewed{iss: iss, v: v}
}

func (k *skewed) mint(t *testing.T, n int, tag string) []*token.Link {
	t.Helper()
	var out []*token.Link
	for i := 0; i < n; i++ {
		l, err := k.iss.Mint(ctx, token.Request{Member: fmt.Sprintf("%s-%d", tag, i), Purpose: token.PurposeLogin,
			Recipient: fmt.Sprintf("%s-%d@example.org", tag, i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func (k *skewed) consume(l *token.Link) error {
	_, err := k.v.Consume(ctx, verify.Request{Link: l.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: l.Recipient}})
	return err
}

// TestRevokeClockSkew: "revoke everything" and "revoke these members" cover
// every link the store had recorded when they ran, and no link recorded
// after, whatever the minting machine's clock says, on every store.
func TestRevokeClockSkew(t *testing.T) {
	for _, b := range teststores.All() {
		for _, skew := range []time.Duration{5 * time.Minute, -5 * time.Minute} {
			t.Run(fmt.Sprintf("%s/minting clock %v", b.Name, skew), func(t *testing.T) {
				st, _ := b.New(t)
				a, err := admin.New(st)
				if err != nil {
					t.Fatal(err)
				}
				m := newSkewed(t, st, skew)
				before := m.mint(t, 10, "all")
				members := m.mint(t, 2, "one")
				if _, err := a.Revoke(ctx, store.Filter{Members: []string{"one-0", "one-1"}}, "ops", admin.Confirm(2)); err != nil {
					t.Fatal(err)
				}
				if _, err := a.Revoke(ctx, store.Filter{All: true}, "ops", admin.Confirm(10)); err != nil {
					t.Fatal(err)
				}
				after := m.mint(t, 10, "later")
				usable := 0
				for _, l := range append(before, members...) {
					if err := m.consume(l); err == nil {
						usable++
					} else if !errors.Is(err, verify.ErrRevoked) {
						t.Fatalf("a link minted before the revocation: %v", err)
					}
				}
				if usable != 0 {
					t.Fatalf("%d of %d links minted before the revocation stayed usable", usable, len(before)+len(members))
				}
				for i, l := range after {
					if err := m.consume(l); err != nil {
						t.Fatalf("link %d minted after the revocation: %v", i, err)
					}
				}
			})
		}
	}
}

// TestRevokeFutureWatermark: a watermark later than now would refuse every
// link minted until then, permanently.
func TestRevokeFutureWatermark(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	a, _ := admin.New(st)
	future := time.Date(2062, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, f := range []store.Filter{
		{IssuedBefore: future},
		{Members: []string{"m"}, IssuedBefore: future},
	} {
		if _, err := a.Revoke(ctx, f, "ops", admin.Force()); !errors.Is(err, admin.ErrRequest) {
			t.Fatalf("Revoke(%+v): %v, want ErrRequest", f, err)
		}
	}
	if m, _ := st.Marks(ctx); len(m) != 0 {
		t.Fatalf("watermarks set: %+v", m)
	}
}

// TestReportStatusIsConsumeStatus: the report says of each link what
// Consume would say of it: a watermark revokes, a hold freezes.
func TestReportStatusIsConsumeStatus(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 6, 3, "rs")
			if err := s.consume(links[0], email(0), "s0"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.a.Revoke(ctx, store.Filter{Members: []string{member(0), member(1)}}, "ops", admin.Confirm(1)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "rs-001", Reason: "check"}, "ops"); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{member(0): "consumed, revoked", member(1): "revoked", member(2): "issued",
				member(3): "frozen", member(4): "frozen", member(5): "frozen"}
			for _, batch := range []string{"rs-000", "rs-001"} {
				rep, err := s.a.Report(ctx, admin.ReportQuery{Batch: batch})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range rep.Members {
					if got := m.Links[0].Status; got != want[m.Member] {
						t.Errorf("%s: report status %q, want %q", m.Member, got, want[m.Member])
					}
				}
			}
		})
	}
}

// TestReportCSVEveryCell: no cell of the CSV report runs as a formula, the
// member id and batch included.
func TestReportCSVEveryCell(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	formula := `=HYPERLINK("http://evil.example","x")`
	if _, err := s.iss.MintBatch(ctx, "+batch", []token.Request{{Member: formula, Purpose: "login", Recipient: "a@example.org"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.a.Report(ctx, admin.ReportQuery{Batch: "+batch"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v %q", err, buf.String())
	}
	for _, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Fatalf("cell %q would run as a formula: %v", cell, rows[1])
		}
	}
}

// TestHTTPWideRevokeNeedsConfirm: the admin API asks for the count before a
// revocation as wide as everything, whatever filter selects it.
func TestHTTPWideRevokeNeedsConfirm(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	links := s.mintBatches(t, 10, 10, "w")
	h, _ := admin.NewHandler(s.a, func(*http.Request) (string, bool) { return "staff", true })
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "http://localhost/revoke", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, body := range []string{
		`{"filter":{"all":true}}`,
		`{"filter":{"purpose":"login"}}`,
		`{"filter":{"issued_from":"2000-01-01T00:00:00Z"}}`,
		`{"filter":{"batches":["w-000"]}}`,
		`{"filter":{"purpose":"login"},"confirm":9}`,
	} {
		rec := post(body)
		if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), `"confirm": 10`) {
			t.Fatalf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
	if err := s.consume(links[0], email(0), "s0"); err != nil {
		t.Fatalf("an unconfirmed revoke revoked: %v", err)
	}
	if rec := post(`{"filter":{"purpose":"login"},"confirm":9}`); rec.Code != http.StatusOK {
		t.Fatalf("confirmed: %d %s", rec.Code, rec.Body)
	}
	if err := s.consume(links[1], email(1), "s1"); !errors.Is(err, verify.ErrRevoked) {
		t.Fatalf("after the confirmed revoke: %v", err)
	}
}

// TestScopeMatchesNothing: an action on a batch or member that has no link
// changes nothing and says so, unless forced.
func TestScopeMatchesNothing(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	s.mintBatches(t, 3, 3, "real")
	if _, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "typo", Reason: "x"}, "ops"); !errors.Is(err, admin.ErrNoMatch) {
		t.Fatalf("Freeze of a batch without links: %v", err)
	}
	if _, err := s.a.Thaw(ctx, store.Hold{Scope: store.ScopeMember, Key: "nobody"}, "ops"); !errors.Is(err, admin.ErrNoMatch) {
		t.Fatalf("Thaw of a member without links: %v", err)
	}
	for _, f := range []store.Filter{{Batches: []string{"typo"}}, {Members: []string{"nobody"}}, {Purpose: "reset"}} {
		if _, err := s.a.Revoke(ctx, f, "ops"); !errors.Is(err, admin.ErrNoMatch) {
			t.Fatalf("Revoke(%+v): %v", f, err)
		}
	}
	if h, _ := st.Holds(ctx); len(h) != 0 {
		t.Fatalf("holds placed: %+v", h)
	}
	if m, _ := st.Marks(ctx); len(m) != 0 {
		t.Fatalf("watermarks placed: %+v", m)
	}
	res, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "typo", Reason: "x"}, "ops", admin.Force())
	if err != nil || res.Links != 0 || !res.Changed {
		t.Fatalf("a forced freeze: %+v, %v", res, err)
	}
	// A scope with a hold but no link can be thawed.
	if res, err := s.a.Thaw(ctx, store.Hold{Scope: store.ScopeBatch, Key: "typo"}, "ops"); err != nil || !res.Changed {
		t.Fatalf("thaw of the forced freeze: %+v, %v", res, err)
	}
}

// TestBatches: the batches a site sent, with what Consume would decide for
// their links and the refusals they met, on every store.
func TestBatches(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 8, 4, "send")
			if err := s.consume(links[0], email(0), "s0"); err != nil {
				t.Fatal(err)
			}
			if err := s.consume(links[1], email(2), "x"); !errors.Is(err, verify.ErrMismatch) {
				t.Fatal(err)
			}
			if _, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "send-001", Reason: "check"}, "ops"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.a.Revoke(ctx, store.Filter{IDs: []string{links[2].Claims.ID}}, "ops"); err != nil {
				t.Fatal(err)
			}
			bs, err := s.a.Batches(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(bs) != 2 || bs[0].Batch != "send-000" || bs[1].Batch != "send-001" {
				t.Fatalf("Batches = %+v", bs)
			}
			want := []admin.BatchReport{
				{Tally: store.Tally{Issued: 2, Consumed: 1, Revoked: 1}, Refused: 1},
				{Tally: store.Tally{Frozen: 4}, Held: true},
			}
			for i, w := range want {
				got := bs[i]
				if got.Links != 4 || got.Tally != w.Tally || got.Refused != w.Refused || got.Held != w.Held || got.FirstIssued.IsZero() {
					t.Fatalf("batch %s = %+v, want %+v", got.Batch, got, w)
				}
			}
		})
	}
}
