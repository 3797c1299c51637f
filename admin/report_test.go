package admin_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// TestReportSortsUses: a member's own login is a login, not an incident;
// another member presenting the link is a mismatch; a used link presented
// again is a replay. The affected members come with their addresses and
// who else presented their links.
func TestReportSortsUses(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 4, 4, "u")
			if err := s.consume(links[0], email(0), "own"); err != nil { // member 0 logs in
				t.Fatal(err)
			}
			s.consume(links[1], email(2), "wrong") // member 2 holds member 1's link
			if err := s.consume(links[3], email(3), "s3"); err != nil {
				t.Fatal(err)
			}
			s.consume(links[3], email(3), "again") // member 3 clicks twice
			rep, err := s.a.Report(ctx, admin.ReportQuery{Batch: "u-000"})
			if err != nil {
				t.Fatal(err)
			}
			if got := affectedMembers(rep); !slices.Equal(got, []string{member(1), member(3)}) {
				t.Fatalf("affected %v, want members 1 (mismatch) and 3 (replay), not 0 (own login)", got)
			}
			a := rep.Affected[0]
			if !slices.Equal(a.Addresses, []string{email(1)}) || a.Mismatches != 1 || !slices.Equal(a.PresentedBy, []string{"email:" + email(2)}) {
				t.Fatalf("member 1: %+v", a)
			}
			if a := rep.Affected[1]; a.Replays != 1 || !slices.Equal(a.Addresses, []string{email(3)}) {
				t.Fatalf("member 3: %+v", a)
			}
			c := rep.Counts
			if c.Issued != 4 || c.Logins != 2 || c.Mismatches != 1 || c.Replays != 1 || c.Affected != 2 || c.UnconfirmedLogins != 0 {
				t.Fatalf("counts %+v", c)
			}
			if len(rep.Logins) != 2 || rep.Logins[0].Member != member(0) || rep.Logins[0].Address != email(0) || !rep.Logins[0].Confirmed ||
				rep.Logins[0].Presented.Session != "own" {
				t.Fatalf("logins %+v", rep.Logins)
			}
			if len(rep.Mismatches) != 1 || rep.Mismatches[0].Presented.Identity != "email:"+email(2) || rep.Mismatches[0].Address != email(1) {
				t.Fatalf("mismatches %+v", rep.Mismatches)
			}
			if len(rep.Replays) != 1 || rep.Replays[0].Member != member(3) || rep.Replays[0].Reason != "used" {
				t.Fatalf("replays %+v", rep.Replays)
			}
		})
	}
}

// TestReportUnconfirmedLogin: a link consumed with no identity compared
// could have been anyone's: its member is affected.
func TestReportUnconfirmedLogin(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	p, _ := s.iss.Parser()
	v, err := verify.New(p, st, verify.WithPolicy(token.PurposeLogin, verify.Policy{UnsafeNoConfirmation: true}))
	if err != nil {
		t.Fatal(err)
	}
	links := s.mintBatches(t, 2, 2, "n")
	if _, err := v.Consume(ctx, verify.Request{Link: links[0].URL, Purpose: token.PurposeLogin, Session: "anyone"}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.a.Report(ctx, admin.ReportQuery{Batch: "n-000"})
	if err != nil {
		t.Fatal(err)
	}
	if got := affectedMembers(rep); !slices.Equal(got, []string{member(0)}) || rep.Counts.UnconfirmedLogins != 1 || rep.Logins[0].Confirmed {
		t.Fatalf("affected %v, counts %+v, logins %+v", got, rep.Counts, rep.Logins)
	}
}

var snakeKey = regexp.MustCompile(`"([^"]+)":`)

// TestJSONVocabulary: what the admin package writes for machines is
// snake_case, scopes as words, and [] for empty lists.
func TestJSONVocabulary(t *testing.T) {
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	empty, err := s.a.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(empty); string(b) != `{"holds":[],"watermarks":[]}` {
		t.Fatalf("empty state: %s", b)
	}
	links := s.mintBatches(t, 3, 3, "j")
	s.consume(links[0], email(0), "s0")
	s.consume(links[1], email(2), "s1")
	if _, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "j-000", Reason: "check"}, "ann@ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.a.Revoke(ctx, store.Filter{Members: []string{member(2)}}, "ann@ops"); err != nil {
		t.Fatal(err)
	}
	state, _ := s.a.State(ctx)
	rep, err := s.a.Report(ctx, admin.ReportQuery{Batch: "j-000"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{state, rep} {
		b, _ := json.Marshal(v)
		for _, m := range snakeKey.FindAllStringSubmatch(string(b), -1) {
			if m[1] != strings.ToLower(m[1]) || strings.ContainsAny(m[1], " -") {
				t.Fatalf("key %q in %s", m[1], b)
			}
		}
		if strings.Contains(string(b), "null") {
			t.Fatalf("null in %s", b)
		}
	}
	b, _ := json.Marshal(state)
	if !strings.Contains(string(b), `"scope":"batch"`) || !strings.Contains(string(b), `"member":"m-0002"`) {
		t.Fatalf("state: %s", b)
	}
	b, _ = json.Marshal(rep)
	if !strings.Contains(string(b), `"kind":"frozen"`) || !strings.Contains(string(b), `"actor":"ann@ops"`) || !strings.Contains(string(b), `"consumed_by":{"identity":"email:m0000@example.org"`) {
		t.Fatalf("report: %s", b)
	}
	var back store.Hold
	if err := json.Unmarshal([]byte(`{"scope":"member","key":"m"}`), &back); err != nil || back.Scope != store.ScopeMember {
		t.Fatalf("scope from JSON: %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"scope":2}`), &back); err == nil {
		t.Fatal("a scope as a number was accepted")
	}
}
