package sqlitestore_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
)

// TestMatchesMemory applies the same random history to this store and to
// the reference memory store, then checks that every Peek and Consume, and
// every page of the ledger, come out the same.
func TestMatchesMemory(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := mrand.New(mrand.NewPCG(seed, 1))
	sq := open(t, filepath.Join(t.TempDir(), "diff.db"))
	mem := memstore.New()
	stores := []store.Store{sq, mem}
	each := func(what string, f func(store.Store) error) {
		t.Helper()
		for _, s := range stores {
			if err := f(s); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
	}

	n := store.Micro(time.Now())
	members := []string{"ann", "bob", "cid", "dee"}
	batches := []string{"", "b1", "b2"}
	states := [][]byte{nil, hash("s1"), hash("s2")}
	const count = 300
	var recs []store.Record
	for i := 0; i < count; i++ {
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		issued := n.Add(-time.Duration(rng.IntN(120)) * time.Minute)
		recs = append(recs, store.Record{
			ID: id.String(), Member: members[rng.IntN(len(members))], Purpose: "login",
			Batch: batches[rng.IntN(len(batches))], Recipient: fmt.Sprint("r", i),
			SecretHash: [32]byte(hash(fmt.Sprint(i))), State: states[rng.IntN(len(states))],
			// Few distinct times, so that ledger entries tie.
			IssuedAt: issued, ExpiresAt: issued.Add(time.Duration(1+rng.IntN(3)) * time.Hour),
		})
	}
	each("Insert", func(s store.Store) error { return s.Insert(ctx, recs) })
	req := func(i int) store.ConsumeRequest {
		r := store.ConsumeRequest{ID: recs[i].ID, SecretHash: recs[i].SecretHash, State: states[rng.IntN(len(states))],
			Member: recs[i].Member, Purpose: recs[i].Purpose, Batch: recs[i].Batch,
			At:           n.Add(time.Duration(rng.IntN(90)) * time.Minute),
			Presentation: store.Presentation{Session: fmt.Sprint("s", i)}}
		r.Confirmation, r.MaxFailures = store.Confirmation(rng.IntN(3)), rng.IntN(4)
		if rng.IntN(10) == 0 {
			r.SecretHash[0] ^= 1
		}
		if rng.IntN(20) == 0 {
			r.Member += "x"
		}
		if rng.IntN(20) == 0 {
			id, _ := uuid.NewV7()
			r.ID = id.String()
		}
		return r
	}
	outcomes := map[string]int{}
	compare := func(what string, op func(store.Store, store.ConsumeRequest) (store.Record, error), r store.ConsumeRequest) {
		t.Helper()
		a, errA := op(sq, r)
		b, errB := op(mem, r)
		if outcome(errA) != outcome(errB) {
			t.Fatalf("%s %s: sqlite %v, memory %v", what, r.ID, errA, errB)
		}
		outcomes[what+" "+outcome(errA)]++
		if a.ID != b.ID || a.Status != b.Status || !a.ConsumedAt.Equal(b.ConsumedAt) || a.Consumer != b.Consumer {
			t.Fatalf("%s %s: records differ:\nsqlite %+v\nmemory %+v", what, r.ID, a, b)
		}
	}
	peek := func(s store.Store, r store.ConsumeRequest) (store.Record, error) { return s.Peek(ctx, r) }
	consume := func(s store.Store, r store.ConsumeRequest) (store.Record, error) { return s.Consume(ctx, r) }

	for step := 0; step < 600; step++ {
		switch k := rng.IntN(20); {
		case k == 0:
			m := members[rng.IntN(len(members))]
			if rng.IntN(4) == 0 {
				m = ""
			}
			// Mostly behind most records, so that other outcomes remain.
			at := n.Add(-time.Duration(100+rng.IntN(30)) * time.Minute)
			each("Watermark", func(s store.Store) error { return s.Watermark(ctx, m, at) })
		case k == 1:
			h := randomHold(rng, members)
			each("Freeze", func(s store.Store) error { return s.Freeze(ctx, h) })
		case k <= 3:
			h := randomHold(rng, members)
			var got []bool
			each("Thaw", func(s store.Store) error {
				ok, err := s.Thaw(ctx, h.Scope, h.Key)
				got = append(got, ok)
				return err
			})
			if got[0] != got[1] {
				t.Fatalf("Thaw(%v %q): sqlite %v, memory %v", h.Scope, h.Key, got[0], got[1])
			}
		case k == 4:
			f := store.Filter{IDs: []string{recs[rng.IntN(count)].ID}}
			if rng.IntN(2) == 0 {
				f = store.Filter{Batches: []string{"b1"}, Members: []string{members[rng.IntN(len(members))]}}
			}
			var got []int64
			each("Revoke", func(s store.Store) error {
				c, err := s.Revoke(ctx, f, n)
				got = append(got, c)
				return err
			})
			if got[0] != got[1] {
				t.Fatalf("Revoke: sqlite %d, memory %d", got[0], got[1])
			}
		case k == 5:
			id := recs[rng.IntN(count)].ID
			each("Fail", func(s store.Store) error { _, err := s.Fail(ctx, id, n, 2); return err })
		case k == 6:
			e := store.Event{At: n.Add(-time.Duration(rng.IntN(120)) * time.Minute), Kind: store.EventRefused,
				Reason: fmt.Sprint("r", step), Member: members[rng.IntN(len(members))], Batch: batches[rng.IntN(len(batches))]}
			each("Append", func(s store.Store) error { return s.Append(ctx, e) })
		case k < 12:
			compare("Peek", peek, req(rng.IntN(count)))
		default:
			compare("Consume", consume, req(rng.IntN(count)))
		}
	}

	t.Logf("outcomes: %v", outcomes)
	for _, q := range []store.EventQuery{
		{}, {Batch: "b1"}, {Member: "ann"}, {Kinds: []store.EventKind{store.EventConsumed}},
		{Kinds: []store.EventKind{store.EventIssued, store.EventRefused}, Member: "bob"},
		{Since: n.Add(-time.Hour), Until: n.Add(30 * time.Minute)},
	} {
		for _, limit := range []int{1, 7, 1000} {
			q.Limit = limit
			a, b := ledger(t, sq, q), ledger(t, mem, q)
			if len(a) != len(b) {
				t.Fatalf("Events(%+v): sqlite %d entries, memory %d", q, len(a), len(b))
			}
			for i := range a {
				x, y := a[i], b[i]
				x.Cursor, y.Cursor = "", ""
				if x != y {
					t.Fatalf("Events(%+v) entry %d:\nsqlite %+v\nmemory %+v", q, i, x, y)
				}
			}
		}
	}
	for _, f := range []store.Filter{{All: true}, {Consumed: true}, {Members: []string{"ann", "dee"}, Batches: []string{"b1", "b2"}}} {
		a, errA := sq.Records(ctx, store.RecordQuery{Filter: f})
		b, errB := mem.Records(ctx, store.RecordQuery{Filter: f})
		if errA != nil || errB != nil || len(a) != len(b) {
			t.Fatalf("Records(%+v): sqlite %d %v, memory %d %v", f, len(a), errA, len(b), errB)
		}
		for i := range a {
			if a[i].ID != b[i].ID || a[i].Status != b[i].Status || a[i].Failures != b[i].Failures ||
				!a[i].RevokedAt.Equal(b[i].RevokedAt) || !a[i].ConsumedAt.Equal(b[i].ConsumedAt) {
				t.Fatalf("Records(%+v)[%d]:\nsqlite %+v\nmemory %+v", f, i, a[i], b[i])
			}
		}
	}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func randomHold(rng *mrand.Rand, members []string) store.Hold {
	switch rng.IntN(3) {
	case 0:
		return store.Hold{Scope: store.ScopeGlobal}
	case 1:
		return store.Hold{Scope: store.ScopeBatch, Key: []string{"b1", "b2"}[rng.IntN(2)]}
	}
	return store.Hold{Scope: store.ScopeMember, Key: members[rng.IntN(len(members))]}
}

// outcome names the sentinel an error matches.
func outcome(err error) string {
	for _, o := range []error{store.ErrNotFound, store.ErrSecret, store.ErrRevoked, store.ErrUsed,
		store.ErrExpired, store.ErrFrozen, store.ErrStale, store.ErrInvalid, store.ErrUnavailable} {
		if errors.Is(err, o) {
			return o.Error()
		}
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

// ledger reads every page of a query.
func ledger(t *testing.T, s store.Store, q store.EventQuery) []store.Event {
	t.Helper()
	var all []store.Event
	for pages := 0; ; pages++ {
		page, next, err := s.Events(ctx, q)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
		q.After = next
	}
}
