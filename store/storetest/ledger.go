package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

func testLedger(t *testing.T, s store.Store) {
	n := now()
	tk := mk(t, "ann", batch("lb"))
	insert(t, s, tk)
	pres := store.Presentation{Identity: "email:bob@example.org", IP: "198.51.100.4", UserAgent: "ua", Session: "sess"}
	evs := []store.Event{
		{At: n.Add(1 * time.Second), Kind: store.EventRefused, Reason: "mismatch", TokenID: tk.ID, Member: "ann", Batch: "lb", Purpose: "login", Presentation: pres},
		{At: n.Add(2 * time.Second), Kind: store.EventFrozen, Batch: "lb", Actor: "ops", Detail: "breaker"},
		{At: n.Add(3 * time.Second), Kind: store.EventRevoked, Batch: "lb", Count: 10, Actor: "ops", Detail: `{"batches":["lb"]}`},
		{At: n.Add(4 * time.Second), Kind: store.EventRefused, Reason: "expired", Member: "zed", Batch: "other"},
	}
	wantErr(t, "Append", s.Append(ctx, evs...), nil)

	got, next, err := s.Events(ctx, store.EventQuery{Batch: "lb", Kinds: []store.EventKind{store.EventRefused, store.EventFrozen, store.EventRevoked}})
	wantErr(t, "Events", err, nil)
	if len(got) != 3 || next != "" {
		t.Fatalf("Events(batch) = %d entries (next %q), want 3", len(got), next)
	}
	if g := got[0]; g.Kind != store.EventRefused || g.Reason != "mismatch" || g.TokenID != tk.ID || g.Presentation != pres ||
		!g.At.Equal(n.Add(time.Second)) || g.Member != "ann" || g.Purpose != "login" {
		t.Fatalf("first entry = %+v", g)
	}
	if g := got[2]; g.Count != 10 || g.Actor != "ops" || g.Detail != `{"batches":["lb"]}` {
		t.Fatalf("revoke entry = %+v", g)
	}
	for i, e := range got {
		if e.Cursor == "" {
			t.Fatalf("entry %d has no cursor", i)
		}
	}
	got, _, err = s.Events(ctx, store.EventQuery{Member: "zed"})
	wantErr(t, "Events(member)", err, nil)
	if len(got) != 1 || got[0].Reason != "expired" {
		t.Fatalf("Events(member) = %+v", got)
	}
	got, _, err = s.Events(ctx, store.EventQuery{Since: n.Add(2 * time.Second), Until: n.Add(4 * time.Second), Kinds: []store.EventKind{store.EventFrozen, store.EventRevoked, store.EventRefused}})
	wantErr(t, "Events(window)", err, nil)
	if len(got) != 2 || got[0].Kind != store.EventFrozen || got[1].Kind != store.EventRevoked {
		t.Fatalf("Events(window) = %+v", got)
	}

	// Append is all or nothing, and issued or consumed entries cannot be appended.
	bad := []store.Event{
		{At: n, Kind: store.EventRefused, Member: "nope"},
		{At: n, Kind: store.EventIssued, Member: "nope"},
	}
	wantErr(t, "Append issued", s.Append(ctx, bad...), store.ErrInvalid)
	wantErr(t, "Append unknown kind", s.Append(ctx, store.Event{At: n, Kind: "weird", Member: "nope"}), store.ErrInvalid)
	wantErr(t, "Append without time", s.Append(ctx, store.Event{Kind: store.EventRefused, Member: "nope"}), store.ErrInvalid)
	got, _, err = s.Events(ctx, store.EventQuery{Member: "nope"})
	wantErr(t, "Events", err, nil)
	if len(got) != 0 {
		t.Fatalf("a refused Append recorded %d entries", len(got))
	}
	_, _, err = s.Events(ctx, store.EventQuery{Kinds: []store.EventKind{"weird"}})
	wantErr(t, "Events unknown kind", err, store.ErrInvalid)
}

func testLedgerPaging(t *testing.T, s store.Store) {
	n := now()
	const total = 250
	var evs []store.Event
	for i := 0; i < total; i++ {
		// Several entries share each time, to exercise the tie order.
		evs = append(evs, store.Event{At: n.Add(time.Duration(i/3) * time.Millisecond), Kind: store.EventRefused, Reason: fmt.Sprint(i), Batch: "lp"})
	}
	wantErr(t, "Append", s.Append(ctx, evs...), nil)
	seen := map[string]bool{}
	var last time.Time
	after := ""
	for pages := 0; ; pages++ {
		if pages > total {
			t.Fatal("paging does not end")
		}
		page, next, err := s.Events(ctx, store.EventQuery{Batch: "lp", After: after, Limit: 100})
		wantErr(t, "Events", err, nil)
		for _, e := range page {
			if seen[e.Reason] {
				t.Fatalf("entry %s on two pages", e.Reason)
			}
			if e.At.Before(last) {
				t.Fatalf("entries out of time order: %v after %v", e.At, last)
			}
			seen[e.Reason], last = true, e.At
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(seen) != total {
		t.Fatalf("paged %d entries, want %d", len(seen), total)
	}
}

func testLedgerDerived(t *testing.T, s store.Store) {
	n := now()
	tk := mk(t, "ann", batch("ld"), recipient("ann@example.org"), issued(n.Add(-time.Minute)))
	untouched := mk(t, "bob", batch("ld"), recipient("bob@example.org"), issued(n.Add(-time.Minute)))
	insert(t, s, tk, untouched)
	req := tk.Request(n)
	req.Presentation = store.Presentation{Identity: "email:ann@example.org", IP: "203.0.113.9", UserAgent: "ua", Session: "s1"}
	_, err := s.Consume(ctx, req)
	wantErr(t, "Consume", err, nil)

	got, _, err := s.Events(ctx, store.EventQuery{Batch: "ld"})
	wantErr(t, "Events", err, nil)
	var issuedN, consumedN int
	for _, e := range got {
		switch e.Kind {
		case store.EventIssued:
			issuedN++
			want := map[string]string{tk.ID: "ann@example.org", untouched.ID: "bob@example.org"}[e.TokenID]
			if e.Detail != want || e.Batch != "ld" || e.Purpose != "login" || !e.At.Equal(n.Add(-time.Minute)) {
				t.Fatalf("issued entry = %+v", e)
			}
		case store.EventConsumed:
			consumedN++
			if e.TokenID != tk.ID || e.Member != "ann" || e.Presentation != req.Presentation || !e.At.Equal(n) {
				t.Fatalf("consumed entry = %+v", e)
			}
		}
	}
	if issuedN != 2 || consumedN != 1 {
		t.Fatalf("derived entries: %d issued, %d consumed; want 2 and 1", issuedN, consumedN)
	}
	got, _, err = s.Events(ctx, store.EventQuery{Member: "ann", Kinds: []store.EventKind{store.EventConsumed}})
	wantErr(t, "Events(consumed)", err, nil)
	if len(got) != 1 || got[0].TokenID != tk.ID {
		t.Fatalf("Events(member, consumed) = %+v", got)
	}
	got, _, err = s.Events(ctx, store.EventQuery{Batch: "ld", Since: n.Add(-30 * time.Second)})
	wantErr(t, "Events(window)", err, nil)
	if len(got) != 1 || got[0].Kind != store.EventConsumed {
		t.Fatalf("Events(since) = %+v, want the consumption only", got)
	}
}

// testSubMicrosecondWindow checks that the bounds of an event query finer
// than a microsecond are compared exactly with ledger times kept to the
// microsecond, for appended and derived entries alike: Since selects
// entries at or after it, Until entries strictly before it.
func testSubMicrosecondWindow(t *testing.T, s store.Store) {
	at := now().Add(-time.Minute)
	tk := mk(t, "sub", batch("sub"), issued(at))
	insert(t, s, tk)
	wantErr(t, "Append", s.Append(ctx, store.Event{At: at, Kind: store.EventRefused, Reason: "sub", Batch: "sub"}), nil)
	half := 500 * time.Nanosecond
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         int
	}{
		{"since the same microsecond", at, time.Time{}, 2},
		{"since half a microsecond later", at.Add(half), time.Time{}, 0},
		{"since half a microsecond earlier", at.Add(-half), time.Time{}, 2},
		{"until the same microsecond", time.Time{}, at, 0},
		{"until half a microsecond later", time.Time{}, at.Add(half), 2},
		{"until half a microsecond earlier", time.Time{}, at.Add(-half), 0},
		{"within a microsecond around", at.Add(-half), at.Add(half), 2},
	} {
		for _, kinds := range [][]store.EventKind{nil, {store.EventIssued}, {store.EventRefused}} {
			want := tc.want
			if kinds != nil {
				want /= 2
			}
			evs, _, err := s.Events(ctx, store.EventQuery{Batch: "sub", Kinds: kinds, Since: tc.since, Until: tc.until})
			wantErr(t, "Events "+tc.name, err, nil)
			if len(evs) != want {
				t.Fatalf("Events %s, kinds %v: %d entries, want %d", tc.name, kinds, len(evs), want)
			}
		}
	}
}

// testLedgerMixedPaging pages through derived and appended entries that
// share their times, with small pages: every entry once, in time order, the
// same sequence whatever the page size.
func testLedgerMixedPaging(t *testing.T, s store.Store) {
	at := now()
	var tks []Link
	for i := 0; i < 5; i++ {
		tks = append(tks, mk(t, fmt.Sprint("mix", i), batch("mix"), issued(at)))
	}
	insert(t, s, tks...)
	for _, tk := range tks[:3] {
		_, err := s.Consume(ctx, tk.Request(at))
		wantErr(t, "Consume", err, nil)
	}
	var evs []store.Event
	for i := 0; i < 6; i++ {
		evs = append(evs, store.Event{At: at, Kind: store.EventRefused, Reason: fmt.Sprint("r", i), Batch: "mix", Member: fmt.Sprint("mix", i%5)})
	}
	wantErr(t, "Append", s.Append(ctx, evs...), nil)
	const total = 5 + 3 + 6
	var sequences [][]string
	for _, limit := range []int{1, 7, 1000} {
		var seq []string
		seen := map[string]bool{}
		after := ""
		for pages := 0; ; pages++ {
			if pages > total+1 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			page, next, err := s.Events(ctx, store.EventQuery{Batch: "mix", After: after, Limit: limit})
			wantErr(t, "Events", err, nil)
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(page))
			}
			for _, e := range page {
				key := string(e.Kind) + "/" + e.TokenID + "/" + e.Reason
				if seen[key] {
					t.Fatalf("limit %d: entry %s twice", limit, key)
				}
				if !e.At.Equal(at) {
					t.Fatalf("limit %d: entry %s at %v, want %v", limit, key, e.At, at)
				}
				seen[key] = true
				seq = append(seq, key)
			}
			if next == "" {
				break
			}
			after = next
		}
		if len(seq) != total {
			t.Fatalf("limit %d: %d entries, want %d", limit, len(seq), total)
		}
		sequences = append(sequences, seq)
	}
	for i := 1; i < len(sequences); i++ {
		if !slices.Equal(sequences[0], sequences[i]) {
			t.Fatalf("the order depends on the page size:\n%v\n%v", sequences[0], sequences[i])
		}
	}
}
