package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

func testRevokeFilters(t *testing.T, newStore NewStore) {
	n := now()
	// Six records spread over members, batches, purposes and issue times.
	a := mk(t, "alice", batch("b1"), issued(n.Add(-50*time.Minute)))
	b := mk(t, "bob", batch("b1"), issued(n.Add(-40*time.Minute)), purpose("reset"))
	c := mk(t, "carol", batch("b2"), issued(n.Add(-30*time.Minute)))
	d := mk(t, "alice", issued(n.Add(-20*time.Minute)), purpose("reset"))
	e := mk(t, "dave", batch("b2"), issued(n.Add(-10*time.Minute)))
	f := mk(t, "erin", issued(n.Add(-5*time.Minute)))
	all := []Link{a, b, c, d, e, f}
	cases := []struct {
		name    string
		filter  store.Filter
		consume []Link // consumed before the revoke
		want    []Link
	}{
		{"ids", store.Filter{IDs: []string{a.ID, e.ID}}, nil, []Link{a, e}},
		{"members", store.Filter{Members: []string{"alice", "dave"}}, nil, []Link{a, d, e}},
		{"batches", store.Filter{Batches: []string{"b1"}}, nil, []Link{a, b}},
		{"purpose", store.Filter{Purpose: "reset"}, nil, []Link{b, d}},
		{"issued from", store.Filter{IssuedFrom: n.Add(-20 * time.Minute)}, nil, []Link{d, e, f}},
		{"issued before", store.Filter{IssuedBefore: n.Add(-30 * time.Minute)}, nil, []Link{a, b}},
		{"window", store.Filter{IssuedFrom: n.Add(-40 * time.Minute), IssuedBefore: n.Add(-10 * time.Minute)}, nil, []Link{b, c, d}},
		{"member and batch", store.Filter{Members: []string{"alice"}, Batches: []string{"b1", "b2"}}, nil, []Link{a}},
		{"batch and purpose", store.Filter{Batches: []string{"b1"}, Purpose: "login"}, nil, []Link{a}},
		{"consumed only", store.Filter{Consumed: true}, []Link{c, f}, []Link{c, f}},
		{"consumed in batch", store.Filter{Consumed: true, Batches: []string{"b2"}}, []Link{c, f}, []Link{c}},
		{"everything", store.Filter{All: true}, []Link{b}, all},
		{"no match", store.Filter{Members: []string{"nobody"}}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			insert(t, s, all...)
			for _, tk := range tc.consume {
				_, err := s.Consume(ctx, tk.Request(n))
				wantErr(t, "Consume", err, nil)
			}
			got, err := s.Revoke(ctx, tc.filter, n)
			wantErr(t, "Revoke", err, nil)
			if got != int64(len(tc.want)) {
				t.Fatalf("Revoke = %d, want %d", got, len(tc.want))
			}
			want := map[string]bool{}
			for _, tk := range tc.want {
				want[tk.ID] = true
			}
			consumed := map[string]bool{}
			for _, tk := range tc.consume {
				consumed[tk.ID] = true
			}
			for _, tk := range all {
				r := get(t, s, tk.ID)
				if want[tk.ID] != (r.Status == store.StatusRevoked) {
					t.Fatalf("record of %s issued %v: status %v, selected %v", tk.Member, tk.IssuedAt, r.Status, want[tk.ID])
				}
				if consumed[tk.ID] == r.ConsumedAt.IsZero() {
					t.Fatalf("record of %s: ConsumedAt %v, consumed %v", tk.Member, r.ConsumedAt, consumed[tk.ID])
				}
				if want[tk.ID] {
					if !r.RevokedAt.Equal(n) {
						t.Fatalf("RevokedAt = %v, want %v", r.RevokedAt, n)
					}
					if _, err := s.Consume(ctx, tk.Request(n)); !errors.Is(err, store.ErrRevoked) {
						t.Fatalf("Consume of a revoked record: %v, want ErrRevoked", err)
					}
				}
			}
			again, err := s.Revoke(ctx, tc.filter, n.Add(time.Second))
			wantErr(t, "Revoke again", err, nil)
			if again != 0 {
				t.Fatalf("Revoke is not idempotent: second call revoked %d", again)
			}
		})
	}
}

func testRevokeConsumed(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	req := tk.Request(now())
	req.Presentation = store.Presentation{Identity: "number:1", Session: "s-9"}
	_, err := s.Consume(ctx, req)
	wantErr(t, "Consume", err, nil)
	at := now().Add(time.Second)
	got, err := s.Revoke(ctx, store.Filter{IDs: []string{tk.ID}}, at)
	wantErr(t, "Revoke", err, nil)
	if got != 1 {
		t.Fatalf("Revoke of a consumed record = %d, want 1", got)
	}
	r := wantStatus(t, s, tk.ID, store.StatusRevoked)
	if r.ConsumedAt.IsZero() || r.Consumer != req.Presentation || !r.RevokedAt.Equal(at) {
		t.Fatalf("a revoked consumed record must keep its consumption: %+v", r)
	}
	recs, err := s.Records(ctx, store.RecordQuery{Filter: store.Filter{Consumed: true, Members: []string{"m"}}})
	wantErr(t, "Records", err, nil)
	if len(recs) != 1 || recs[0].Consumer.Session != "s-9" {
		t.Fatalf("Records(consumed) = %+v", recs)
	}
}

func testRevokeInvalid(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	n := now()
	cases := []struct {
		name string
		f    store.Filter
	}{
		{"empty", store.Filter{}},
		{"all with member", store.Filter{All: true, Members: []string{"m"}}},
		{"bad id", store.Filter{IDs: []string{"nope"}}},
		{"empty member", store.Filter{Members: []string{""}}},
		{"empty window", store.Filter{IssuedFrom: n, IssuedBefore: n}},
		{"too many", store.Filter{Members: make([]string, store.MaxFilterValues+1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Revoke(ctx, tc.f, n)
			wantErr(t, "Revoke", err, store.ErrInvalid)
			if got != 0 {
				t.Fatalf("an invalid revoke reported %d", got)
			}
			_, err = s.Count(ctx, tc.f)
			wantErr(t, "Count", err, store.ErrInvalid)
			_, err = s.Records(ctx, store.RecordQuery{Filter: tc.f})
			wantErr(t, "Records", err, store.ErrInvalid)
		})
	}
	wantStatus(t, s, tk.ID, store.StatusIssued)
}

func testWatermarkGlobal(t *testing.T, s store.Store) {
	n := now()
	old1 := mk(t, "a", issued(n.Add(-3*time.Minute)))
	old2 := mk(t, "b", issued(n.Add(-2*time.Minute)))
	edge := mk(t, "c", issued(n.Add(-time.Minute)))
	fresh := mk(t, "d", issued(n.Add(-30*time.Second)))
	insert(t, s, old1, old2, edge, fresh)

	wantErr(t, "Watermark", s.Watermark(ctx, "", n.Add(-time.Minute)), nil)
	for _, tc := range []struct {
		tk      Link
		wantErr error
	}{{old1, store.ErrRevoked}, {old2, store.ErrRevoked}, {edge, nil}} {
		_, err := s.Peek(ctx, tc.tk.Request(n))
		wantErr(t, "Peek "+tc.tk.Member, err, tc.wantErr)
	}
	// A watermark never moves back.
	wantErr(t, "earlier Watermark", s.Watermark(ctx, "", n.Add(-10*time.Minute)), nil)
	_, err := s.Consume(ctx, old2.Request(n))
	wantErr(t, "Consume under watermark", err, store.ErrRevoked)
	wantStatus(t, s, old2.ID, store.StatusIssued)

	wantErr(t, "later Watermark", s.Watermark(ctx, "", n.Add(-45*time.Second)), nil)
	_, err = s.Consume(ctx, edge.Request(n))
	wantErr(t, "Consume under moved watermark", err, store.ErrRevoked)
	_, err = s.Consume(ctx, fresh.Request(n))
	wantErr(t, "Consume after watermark", err, nil)

	marks, err := s.Marks(ctx)
	wantErr(t, "Marks", err, nil)
	if len(marks) != 1 || marks[0].Member != "" || !marks[0].Before.Equal(n.Add(-45*time.Second)) {
		t.Fatalf("Marks = %+v", marks)
	}
	// Records issued after the watermark are unaffected.
	late := mk(t, "e", issued(n))
	insert(t, s, late)
	_, err = s.Consume(ctx, late.Request(n))
	wantErr(t, "Consume of a record issued after the watermark", err, nil)
	wantErr(t, "Watermark without time", s.Watermark(ctx, "", time.Time{}), store.ErrInvalid)
}

func testWatermarkMember(t *testing.T, s store.Store) {
	n := now()
	a1 := mk(t, "alice", issued(n.Add(-2*time.Minute)))
	a2 := mk(t, "alice", issued(n.Add(-time.Minute)))
	b1 := mk(t, "bob", issued(n.Add(-2*time.Minute)))
	insert(t, s, a1, a2, b1)
	wantErr(t, "Watermark", s.Watermark(ctx, "alice", n), nil)
	wantErr(t, "Watermark earlier", s.Watermark(ctx, "alice", n.Add(-time.Hour)), nil)
	for _, tc := range []struct {
		tk      Link
		wantErr error
	}{{a1, store.ErrRevoked}, {a2, store.ErrRevoked}, {b1, nil}} {
		_, err := s.Consume(ctx, tc.tk.Request(n))
		wantErr(t, "Consume "+tc.tk.Member, err, tc.wantErr)
	}
	a3 := mk(t, "alice", issued(n.Add(time.Second)))
	insert(t, s, a3)
	_, err := s.Consume(ctx, a3.Request(n.Add(time.Second)))
	wantErr(t, "Consume of a new link after a member watermark", err, nil)
	marks, err := s.Marks(ctx)
	wantErr(t, "Marks", err, nil)
	if len(marks) != 1 || marks[0].Member != "alice" || !marks[0].Before.Equal(n) {
		t.Fatalf("Marks = %+v", marks)
	}
}

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
	r, err := s.Consume(ctx, a.Request(now()))
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
	_, err = s.Peek(ctx, aliceAhead.Request(n))
	wantErr(t, "Peek of alice's link minted 5 minutes ahead", err, store.ErrRevoked)
	_, err = s.Peek(ctx, bob.Request(n))
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
		tk      Link
		wantErr error
	}{
		{"minted 5 minutes ahead, before", ahead, store.ErrRevoked},
		{"minted 5 minutes behind, before", behind, store.ErrRevoked},
		{"bob, before", bob, store.ErrRevoked},
		{"minted 5 minutes behind, after", later, nil},
		{"alice, minted 5 minutes behind, after", aliceLater, nil},
	} {
		_, err := s.Consume(ctx, tc.tk.Request(n))
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
