package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

// decideCase is one record of testPeekDecides and what is done to it.
type decideCase struct {
	name string
	tk   Link
	prep func(t *testing.T, s store.Store, tk Link)
}

// decideCases returns records in every state testPeekDecides needs, with
// what makes them so.
func decideCases(t *testing.T, n time.Time, st1 []byte) []decideCase {
	consume := func(t *testing.T, s store.Store, tk Link) {
		_, err := s.Consume(ctx, tk.Request(n))
		wantErr(t, "Consume", err, nil)
	}
	revoke := func(t *testing.T, s store.Store, tk Link) {
		_, err := s.Revoke(ctx, store.Filter{IDs: []string{tk.ID}}, n)
		wantErr(t, "Revoke", err, nil)
	}
	return []decideCase{
		{"outstanding", mk(t, "d1", batch("dx")), nil},
		{"consumed", mk(t, "d2", batch("dx")), consume},
		{"revoked", mk(t, "d3", batch("dx")), revoke},
		{"consumed then revoked", mk(t, "d4", batch("dx")), func(t *testing.T, s store.Store, tk Link) {
			consume(t, s, tk)
			revoke(t, s, tk)
		}},
		{"expires soon", mk(t, "d5", batch("dx"), expires(n.Add(time.Hour))), nil},
		{"frozen batch", mk(t, "d6", batch("dfrozen")), nil},
		{"frozen member", mk(t, "dheld", batch("dx")), nil},
		{"member time watermark", mk(t, "dtime", issued(n.Add(-time.Minute))), nil},
		{"member sequence watermark", mk(t, "dseq", batch("dx"), issued(n.Add(5*time.Minute))), nil},
		{"state bound", mk(t, "d7", state(st1)), nil},
		{"frozen and consumed", mk(t, "d8", batch("dfrozen")), consume},
	}
}

// testPeekDecides checks that the store's Peek answers exactly what
// [store.Check] says from the record, the watermarks and the holds, for
// records in every state and requests of every kind and confirmation (a
// mismatched request on a consumable record is [store.ErrMismatch]), and
// that a refused Consume agrees too, and that counting by
// [store.TallyOf] (the store's own Tallier, if it has one) agrees with
// [store.Decide].
func testPeekDecides(t *testing.T, s store.Store) {
	n := now()
	st1 := sha256.Sum256([]byte("s1"))
	cases := decideCases(t, n, st1[:])
	var tks []Link
	for _, c := range cases {
		tks = append(tks, c.tk)
	}
	insert(t, s, tks...)
	for _, c := range cases {
		if c.prep != nil {
			c.prep(t, s, c.tk)
		}
	}
	_, err := s.WatermarkNow(ctx, "dseq")
	wantErr(t, "WatermarkNow", err, nil)
	wantErr(t, "Watermark", s.Watermark(ctx, "dtime", n), nil)
	wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "dfrozen", Since: n}), nil)
	wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "dheld", Since: n}), nil)
	late := mk(t, "dlate", batch("dx"))
	insert(t, s, late)
	cases = append(cases, decideCase{"recorded after the watermarks", late, nil})

	for _, global := range []bool{false, true} {
		if global {
			wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Since: n}), nil)
		}
		g, err := store.LoadGuards(ctx, s)
		wantErr(t, "LoadGuards", err, nil)
		where := fmt.Sprintf("global hold %v", global)
		for _, c := range cases {
			checkDecides(t, s, g, c, n, where)
		}
		for _, at := range []time.Time{n, n.Add(90 * time.Minute)} {
			checkTally(t, s, g, store.Filter{All: true}, at)
			checkTally(t, s, g, store.Filter{Batches: []string{"dx", "dfrozen"}}, at)
			checkTally(t, s, g, store.Filter{Members: []string{"dseq", "dtime", "d1"}}, at)
		}
	}
}

// checkDecides presents c's link with requests of every kind and
// confirmation, at n, and checks that Peek and a refused Consume answer
// what store.Check says of the record as it was before each request, and
// that mismatches, and nothing else, counted.
func checkDecides(t *testing.T, s store.Store, g *store.Guards, c decideCase, n time.Time, where string) {
	t.Helper()
	st1, st2 := sha256.Sum256([]byte("s1")), sha256.Sum256([]byte("s2"))
	wrongSecret, wrongState, wrongClaim := c.tk.Request(n), c.tk.Request(n), c.tk.Request(n)
	wrongSecret.SecretHash[0] ^= 1
	wrongState.State = st2[:]
	wrongClaim.Purpose = "other"
	rightState := c.tk.Request(n)
	rightState.State = st1[:]
	failures := get(t, s, c.tk.ID).Failures
	for name, base := range map[string]store.ConsumeRequest{
		"now": c.tk.Request(n), "late": c.tk.Request(n.Add(90 * time.Minute)), "wrong secret": wrongSecret,
		"wrong claim": wrongClaim, "wrong state": wrongState, "right state": rightState,
	} {
		for _, conf := range []store.Confirmation{store.Unconfirmed, store.Confirmed, store.Mismatched} {
			req := base
			req.Confirmation = conf
			// A mismatched request counts a failure: Check judges the
			// record as it was before the request.
			rec := get(t, s, c.tk.ID)
			_, got := s.Peek(ctx, req)
			want := store.Check(&rec, g, &req)
			if !errors.Is(got, want) || (want == nil) != (got == nil) {
				t.Fatalf("%s, %s, %s, confirmation %d: Peek = %v, store.Check = %v", where, c.name, name, conf, got, want)
			}
			counted := conf == store.Mismatched && !errors.Is(want, store.ErrSecret)
			if counted {
				failures++
			}
			if want != nil {
				rec = get(t, s, c.tk.ID)
				want = store.Check(&rec, g, &req)
				if _, got := s.Consume(ctx, req); !errors.Is(got, want) {
					t.Fatalf("%s, %s, %s, confirmation %d: Consume = %v, store.Check = %v", where, c.name, name, conf, got, want)
				}
				if counted {
					failures++
				}
			}
		}
	}
	// Mismatches count whatever the state, a sequence watermark's and a
	// hold's included; nothing else counts.
	if f := get(t, s, c.tk.ID).Failures; f != failures {
		t.Fatalf("%s, %s: %d failures counted, want %d", where, c.name, f, failures)
	}
}

// checkTally compares the store's count by state with Decide applied to
// every record the filter selects.
func checkTally(t *testing.T, s store.Store, g *store.Guards, f store.Filter, at time.Time) {
	t.Helper()
	var want store.Tally
	recs, err := s.Records(ctx, store.RecordQuery{Filter: f, Limit: store.MaxPage})
	wantErr(t, "Records", err, nil)
	for i := range recs {
		want.Add(&recs[i], g, at)
	}
	got, err := store.TallyOf(ctx, s, f, at)
	wantErr(t, "TallyOf", err, nil)
	if got != want {
		t.Fatalf("TallyOf(%+v) at %v = %+v, Decide says %+v", f, at, got, want)
	}
	if want.Total() != int64(len(recs)) {
		t.Fatalf("Decide counted %d of %d records", want.Total(), len(recs))
	}
}
