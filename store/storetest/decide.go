package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

// testSeq checks that the store numbers records as it records them: every
// record gets a number, a later Insert a greater one, and the number stays
// with the record.
func testSeq(t *testing.T, s store.Store) {
	a, b := mk(t, "a", batch("sq")), mk(t, "b", batch("sq"))
	insert(t, s, a, b)
	c := mk(t, "c", issued(now().Add(-time.Hour))) // minted earlier, recorded later
	insert(t, s, c)
	ra, rb, rc := get(t, s, a.ID), get(t, s, b.ID), get(t, s, c.ID)
	if ra.Seq <= 0 || rb.Seq <= 0 {
		t.Fatalf("records without a sequence number: %d %d", ra.Seq, rb.Seq)
	}
	if rc.Seq <= ra.Seq || rc.Seq <= rb.Seq {
		t.Fatalf("a later Insert got sequence %d, not after %d and %d", rc.Seq, ra.Seq, rb.Seq)
	}
	r, err := s.Consume(ctx, a.req(now()))
	wantErr(t, "Consume", err, nil)
	if r.Seq != ra.Seq || get(t, s, a.ID).Seq != ra.Seq {
		t.Fatalf("Consume changed the sequence number: %d, want %d", r.Seq, ra.Seq)
	}
	recs, err := s.Records(ctx, store.RecordQuery{Filter: store.Filter{IDs: []string{c.ID}}})
	wantErr(t, "Records", err, nil)
	if len(recs) != 1 || recs[0].Seq != rc.Seq {
		t.Fatalf("Records = %+v, want sequence %d", recs, rc.Seq)
	}
}

// testWatermarkNowSkew checks that a watermark taken now covers every
// record the store had recorded, and no record recorded after, whatever
// their issue times say: minting clocks five minutes ahead or behind.
func testWatermarkNowSkew(t *testing.T, s store.Store) {
	n := now()
	ahead := mk(t, "all-1", issued(n.Add(5*time.Minute)), expires(n.Add(2*time.Hour)))
	behind := mk(t, "all-2", issued(n.Add(-5*time.Minute)))
	aliceAhead := mk(t, "alice", issued(n.Add(5*time.Minute)), expires(n.Add(2*time.Hour)))
	bob := mk(t, "bob", issued(n.Add(5*time.Minute)), expires(n.Add(2*time.Hour)))
	insert(t, s, ahead, behind, aliceAhead, bob)

	m, err := s.WatermarkNow(ctx, "alice")
	wantErr(t, "WatermarkNow(alice)", err, nil)
	if m.Member != "alice" || m.Seq <= get(t, s, aliceAhead.ID).Seq {
		t.Fatalf("WatermarkNow(alice) = %+v, not above the record's sequence", m)
	}
	_, err = s.Peek(ctx, aliceAhead.req(n))
	wantErr(t, "Peek of alice's link minted 5 minutes ahead", err, store.ErrRevoked)
	_, err = s.Peek(ctx, bob.req(n))
	wantErr(t, "Peek of bob's link", err, nil)

	g, err := s.WatermarkNow(ctx, "")
	wantErr(t, "WatermarkNow", err, nil)
	if g.Member != "" || g.Seq <= m.Seq {
		t.Fatalf("WatermarkNow() = %+v after %+v", g, m)
	}
	later := mk(t, "all-3", issued(n.Add(-5*time.Minute)))
	aliceLater := mk(t, "alice", issued(n.Add(-5*time.Minute)))
	insert(t, s, later, aliceLater)
	for _, tc := range []struct {
		name    string
		tk      token
		wantErr error
	}{
		{"minted 5 minutes ahead, before", ahead, store.ErrRevoked},
		{"minted 5 minutes behind, before", behind, store.ErrRevoked},
		{"bob, before", bob, store.ErrRevoked},
		{"minted 5 minutes behind, after", later, nil},
		{"alice, minted 5 minutes behind, after", aliceLater, nil},
	} {
		_, err := s.Consume(ctx, tc.tk.req(n))
		wantErr(t, "Consume of a link "+tc.name, err, tc.wantErr)
	}
	marks, err := s.Marks(ctx)
	wantErr(t, "Marks", err, nil)
	if len(marks) != 2 || marks[0] != g || marks[1].Member != "alice" || marks[1].Seq != m.Seq || !marks[1].Before.IsZero() {
		t.Fatalf("Marks = %+v, want %+v and %+v", marks, g, m)
	}
	// A time watermark of the same member joins its sequence mark.
	wantErr(t, "Watermark(alice)", s.Watermark(ctx, "alice", n), nil)
	marks, _ = s.Marks(ctx)
	if len(marks) != 2 || marks[1].Seq != m.Seq || !marks[1].Before.Equal(n) {
		t.Fatalf("Marks after a time watermark = %+v", marks)
	}
	_, err = s.WatermarkNow(ctx, string(make([]byte, store.MaxMemberLen+1)))
	wantErr(t, "WatermarkNow with a long member", err, store.ErrInvalid)
}

// decideCase is one record of testPeekDecides and what is done to it.
type decideCase struct {
	name string
	tk   token
	prep func(t *testing.T, s store.Store, tk token)
}

// decideCases returns records in every state testPeekDecides needs, with
// what makes them so.
func decideCases(t *testing.T, n time.Time, st1 []byte) []decideCase {
	consume := func(t *testing.T, s store.Store, tk token) {
		_, err := s.Consume(ctx, tk.req(n))
		wantErr(t, "Consume", err, nil)
	}
	revoke := func(t *testing.T, s store.Store, tk token) {
		_, err := s.Revoke(ctx, store.Filter{IDs: []string{tk.ID}}, n)
		wantErr(t, "Revoke", err, nil)
	}
	return []decideCase{
		{"outstanding", mk(t, "d1", batch("dx")), nil},
		{"consumed", mk(t, "d2", batch("dx")), consume},
		{"revoked", mk(t, "d3", batch("dx")), revoke},
		{"consumed then revoked", mk(t, "d4", batch("dx")), func(t *testing.T, s store.Store, tk token) {
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
	st1, st2 := sha256.Sum256([]byte("s1")), sha256.Sum256([]byte("s2"))
	cases := decideCases(t, n, st1[:])
	var tks []token
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
		for _, c := range cases {
			wrongSecret, wrongState, wrongClaim := c.tk.req(n), c.tk.req(n), c.tk.req(n)
			wrongSecret.SecretHash[0] ^= 1
			wrongState.State = st2[:]
			wrongClaim.Purpose = "other"
			rightState := c.tk.req(n)
			rightState.State = st1[:]
			failures := get(t, s, c.tk.ID).Failures
			for name, base := range map[string]store.ConsumeRequest{
				"now": c.tk.req(n), "late": c.tk.req(n.Add(90 * time.Minute)), "wrong secret": wrongSecret,
				"wrong claim": wrongClaim, "wrong state": wrongState, "right state": rightState,
			} {
				for _, conf := range []store.Confirmation{store.Unconfirmed, store.Confirmed, store.Mismatched} {
					req := base
					req.Confirmation = conf
					// A mismatched request counts a failure: Check judges
					// the record as it was before the request.
					rec := get(t, s, c.tk.ID)
					_, got := s.Peek(ctx, req)
					want := store.Check(&rec, g, &req)
					if !errors.Is(got, want) || (want == nil) != (got == nil) {
						t.Fatalf("global hold %v, %s, %s, confirmation %d: Peek = %v, store.Check = %v", global, c.name, name, conf, got, want)
					}
					counted := conf == store.Mismatched && !errors.Is(want, store.ErrSecret)
					if counted {
						failures++
					}
					if want != nil {
						rec = get(t, s, c.tk.ID)
						want = store.Check(&rec, g, &req)
						if _, got := s.Consume(ctx, req); !errors.Is(got, want) {
							t.Fatalf("global hold %v, %s, %s, confirmation %d: Consume = %v, store.Check = %v", global, c.name, name, conf, got, want)
						}
						if counted {
							failures++
						}
					}
				}
			}
			// Mismatches count whatever the state, a sequence watermark's
			// and a hold's included; nothing else counts.
			if f := get(t, s, c.tk.ID).Failures; f != failures {
				t.Fatalf("global hold %v, %s: %d failures counted, want %d", global, c.name, f, failures)
			}
		}
		for _, at := range []time.Time{n, n.Add(90 * time.Minute)} {
			checkTally(t, s, g, store.Filter{All: true}, at)
			checkTally(t, s, g, store.Filter{Batches: []string{"dx", "dfrozen"}}, at)
			checkTally(t, s, g, store.Filter{Members: []string{"dseq", "dtime", "d1"}}, at)
		}
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

// testBatches checks the batch summaries of a store that lists them.
func testBatches(t *testing.T, s store.Store) {
	lister, ok := s.(store.BatchLister)
	if !ok {
		t.Skip("the store does not list batches (store.BatchLister)")
	}
	n := now()
	var tks []token
	for i := 0; i < 3; i++ {
		tks = append(tks, mk(t, fmt.Sprint("b1-", i), batch("b1"), issued(n.Add(time.Duration(-10+i)*time.Minute))))
	}
	tks = append(tks, mk(t, "b2-0", batch("b2"), issued(n.Add(-time.Minute))), mk(t, "single", issued(n)))
	insert(t, s, tks...)
	got, err := lister.Batches(ctx, store.BatchQuery{})
	wantErr(t, "Batches", err, nil)
	want := []store.BatchSummary{
		{Batch: "b1", Links: 3, FirstIssued: n.Add(-10 * time.Minute), LastIssued: n.Add(-8 * time.Minute)},
		{Batch: "b2", Links: 1, FirstIssued: n.Add(-time.Minute), LastIssued: n.Add(-time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("Batches = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Batch != want[i].Batch || got[i].Links != want[i].Links ||
			!got[i].FirstIssued.Equal(want[i].FirstIssued) || !got[i].LastIssued.Equal(want[i].LastIssued) {
			t.Fatalf("Batches[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	page, err := lister.Batches(ctx, store.BatchQuery{After: "b1", Limit: 1})
	wantErr(t, "Batches after b1", err, nil)
	if len(page) != 1 || page[0].Batch != "b2" {
		t.Fatalf("Batches after b1 = %+v", page)
	}
	page, err = lister.Batches(ctx, store.BatchQuery{Limit: 1})
	wantErr(t, "Batches limit 1", err, nil)
	if len(page) != 1 || page[0].Batch != "b1" {
		t.Fatalf("Batches limit 1 = %+v", page)
	}
	_, err = lister.Batches(ctx, store.BatchQuery{Limit: -1})
	wantErr(t, "Batches with a negative limit", err, store.ErrInvalid)
}
