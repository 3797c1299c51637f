package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

func testRecords(t *testing.T, s store.Store) {
	const n = 2500
	var tks []Link
	for i := 0; i < n; i++ {
		tks = append(tks, mk(t, fmt.Sprintf("m%d", i%7), batch("pg")))
	}
	other := mk(t, "m0", batch("elsewhere"))
	insert(t, s, append(tks, other)...)
	seen := map[string]bool{}
	after := ""
	pages := 0
	for {
		page, err := s.Records(ctx, store.RecordQuery{Filter: store.Filter{Batches: []string{"pg"}}, After: after, Limit: 1000})
		wantErr(t, "Records", err, nil)
		if len(page) == 0 {
			break
		}
		pages++
		for i, r := range page {
			if seen[r.ID] {
				t.Fatalf("record %s on two pages", r.ID)
			}
			if r.Batch != "pg" {
				t.Fatalf("record of batch %q selected", r.Batch)
			}
			if i > 0 && r.ID <= page[i-1].ID {
				t.Fatalf("page not in ascending id order")
			}
			if r.ID <= after {
				t.Fatalf("record %s not after cursor %s", r.ID, after)
			}
			seen[r.ID] = true
		}
		after = page[len(page)-1].ID
	}
	if len(seen) != n || pages != 3 {
		t.Fatalf("paged %d records in %d pages, want %d in 3", len(seen), pages, n)
	}
	recs, err := s.Records(ctx, store.RecordQuery{Filter: store.Filter{Members: []string{"m0"}, Batches: []string{"elsewhere"}}})
	wantErr(t, "Records", err, nil)
	if len(recs) != 1 || recs[0].ID != other.ID || recs[0].SecretHash != other.SecretHash {
		t.Fatalf("Records(member, batch) = %+v", recs)
	}
	_, err = s.Records(ctx, store.RecordQuery{Filter: store.Filter{All: true}, Limit: store.MaxPage + 1})
	wantErr(t, "Records over the limit", err, store.ErrInvalid)
	_, err = s.Records(ctx, store.RecordQuery{Filter: store.Filter{All: true}, After: "zzz"})
	wantErr(t, "Records bad cursor", err, store.ErrInvalid)
}

func testCount(t *testing.T, s store.Store) {
	n := now()
	insert(t, s, mk(t, "a", batch("c1")), mk(t, "a", batch("c1")), mk(t, "b", batch("c1")), mk(t, "b"))
	cons := mk(t, "c", batch("c1"))
	insert(t, s, cons)
	_, err := s.Consume(ctx, cons.Request(n))
	wantErr(t, "Consume", err, nil)
	for _, tc := range []struct {
		name string
		f    store.Filter
		want int64
	}{
		{"all", store.Filter{All: true}, 5},
		{"batch", store.Filter{Batches: []string{"c1"}}, 4},
		{"member", store.Filter{Members: []string{"b"}}, 2},
		{"consumed", store.Filter{Consumed: true}, 1},
		{"none", store.Filter{Members: []string{"z"}}, 0},
	} {
		got, err := s.Count(ctx, tc.f)
		wantErr(t, "Count "+tc.name, err, nil)
		if got != tc.want {
			t.Fatalf("Count %s = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func testPurge(t *testing.T, s store.Store) {
	n := now()
	soon := mk(t, "a", expires(n.Add(time.Hour)))
	soon2 := mk(t, "b", expires(n.Add(time.Hour)), batch("pb"))
	later := mk(t, "c", expires(n.Add(3*time.Hour)))
	insert(t, s, soon, soon2, later)
	_, err := s.Consume(ctx, soon2.Request(n))
	wantErr(t, "Consume", err, nil)
	wantErr(t, "Watermark", s.Watermark(ctx, "zz", n), nil)
	wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "zz", Since: n}), nil)
	wantErr(t, "Append", s.Append(ctx,
		store.Event{At: n.Add(-time.Hour), Kind: store.EventRefused, Reason: "old", Member: "a"},
		store.Event{At: n.Add(2 * time.Hour), Kind: store.EventRefused, Reason: "new", Member: "a"},
	), nil)

	got, err := s.Purge(ctx, n.Add(2*time.Hour))
	wantErr(t, "Purge", err, nil)
	if got != 2 {
		t.Fatalf("Purge = %d, want 2", got)
	}
	for _, id := range []string{soon.ID, soon2.ID} {
		if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("purged record still there: %v", err)
		}
	}
	wantStatus(t, s, later.ID, store.StatusIssued)
	evs, _, err := s.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventRefused}})
	wantErr(t, "Events", err, nil)
	if len(evs) != 1 || evs[0].Reason != "new" {
		t.Fatalf("Events after purge = %+v, want only the newer event", evs)
	}
	marks, err := s.Marks(ctx)
	wantErr(t, "Marks", err, nil)
	holds, err2 := s.Holds(ctx)
	wantErr(t, "Holds", err2, nil)
	if len(marks) != 1 || len(holds) != 1 {
		t.Fatalf("Purge removed watermarks or holds: %v %v", marks, holds)
	}
	wantErr(t, "Purge without a time", func() error { _, err := s.Purge(ctx, time.Time{}); return err }(), store.ErrInvalid)
}

// testSubMicrosecondBounds checks that filter bounds and watermarks finer
// than a microsecond are compared exactly with records kept to the
// microsecond.
func testSubMicrosecondBounds(t *testing.T, s store.Store) {
	at := now().Add(-time.Minute)
	tk := mk(t, "sub", issued(at), batch("sub"))
	insert(t, s, tk)
	half := at.Add(500 * time.Nanosecond)
	for _, tc := range []struct {
		name string
		f    store.Filter
		want int64
	}{
		{"from half a microsecond later", store.Filter{Batches: []string{"sub"}, IssuedFrom: half}, 0},
		{"from the same microsecond", store.Filter{Batches: []string{"sub"}, IssuedFrom: at}, 1},
		{"before half a microsecond later", store.Filter{Batches: []string{"sub"}, IssuedBefore: half}, 1},
		{"before the same microsecond", store.Filter{Batches: []string{"sub"}, IssuedBefore: at}, 0},
	} {
		n, err := s.Count(ctx, tc.f)
		wantErr(t, "Count "+tc.name, err, nil)
		recs, err := s.Records(ctx, store.RecordQuery{Filter: tc.f})
		wantErr(t, "Records "+tc.name, err, nil)
		if n != tc.want || int64(len(recs)) != tc.want {
			t.Fatalf("%s: Count %d, Records %d, want %d", tc.name, n, len(recs), tc.want)
		}
	}
	_, err := s.Peek(ctx, tk.Request(now()))
	wantErr(t, "Peek before the watermark", err, nil)
	wantErr(t, "Watermark", s.Watermark(ctx, "sub", at), nil)
	_, err = s.Peek(ctx, tk.Request(now()))
	wantErr(t, "Peek under a watermark at its own microsecond", err, nil)
	wantErr(t, "Watermark", s.Watermark(ctx, "sub", half), nil)
	_, err = s.Peek(ctx, tk.Request(now()))
	wantErr(t, "Peek under a watermark half a microsecond later", err, store.ErrRevoked)
}

// testSubMicrosecondPurge checks that a cut-off of Purge finer than a
// microsecond is compared exactly with expiries and ledger times, which
// stores keep to the microsecond: what ended at E is kept by a cut-off at
// E and purged by one half a microsecond later.
func testSubMicrosecondPurge(t *testing.T, s store.Store) {
	exp := now().Add(time.Hour)
	tk := mk(t, "sub", expires(exp))
	insert(t, s, tk)
	wantErr(t, "Append", s.Append(ctx, store.Event{At: exp, Kind: store.EventRefused, Reason: "sub", Member: "sub"}), nil)
	refused := store.EventQuery{Member: "sub", Kinds: []store.EventKind{store.EventRefused}}
	for _, tc := range []struct {
		name string
		cut  time.Time
		want int64
	}{
		{"half a microsecond before", exp.Add(-500 * time.Nanosecond), 0},
		{"at the same microsecond", exp, 0},
		{"half a microsecond after", exp.Add(500 * time.Nanosecond), 1},
	} {
		n, err := s.Purge(ctx, tc.cut)
		wantErr(t, "Purge "+tc.name, err, nil)
		if n != tc.want {
			t.Fatalf("Purge %s the expiry deleted %d records, want %d", tc.name, n, tc.want)
		}
		_, err = s.Get(ctx, tk.ID)
		evs, _, err2 := s.Events(ctx, refused)
		wantErr(t, "Events", err2, nil)
		if tc.want == 0 && (err != nil || len(evs) != 1) {
			t.Fatalf("Purge %s the expiry: Get = %v, %d ledger entries; want the record and its entry kept", tc.name, err, len(evs))
		}
		if tc.want == 1 && (!errors.Is(err, store.ErrNotFound) || len(evs) != 0) {
			t.Fatalf("Purge %s the expiry: Get = %v, %d ledger entries; want both purged", tc.name, err, len(evs))
		}
	}
}

// testBatches checks the batch summaries of a store that lists them.
func testBatches(t *testing.T, s store.Store) {
	lister, ok := s.(store.BatchLister)
	if !ok {
		t.Skip("the store does not list batches (store.BatchLister)")
	}
	n := now()
	var tks []Link
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
