package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/oncelink/oncelink/store"
)

// NewStore returns a new, empty store for one test, isolated from every
// other, and cleans it up through t.Cleanup.
type NewStore func(t *testing.T) store.Store

// Run runs the whole conformance suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"InsertGet", testInsertGet},
		{"InsertEmpty", testInsertEmpty},
		{"InsertInvalid", testInsertInvalid},
		{"InsertDuplicate", testInsertDuplicate},
		{"InsertLarge", testInsertLarge},
		{"GetNotFound", testGetNotFound},
		{"ConsumeOnce", testConsumeOnce},
		{"ConsumeNotFound", testConsumeNotFound},
		{"ConsumeSecret", testConsumeSecret},
		{"Expiry", testExpiry},
		{"Peek", testPeek},
		{"Order", testOrder},
		{"RevokeConsumed", testRevokeConsumed},
		{"RevokeInvalid", testRevokeInvalid},
		{"WatermarkGlobal", testWatermarkGlobal},
		{"WatermarkMember", testWatermarkMember},
		{"Freeze", testFreeze},
		{"FreezeScopes", testFreezeScopes},
		{"State", testState},
		{"Fail", testFail},
		{"Records", testRecords},
		{"Count", testCount},
		{"Purge", testPurge},
		{"Ledger", testLedger},
		{"LedgerPaging", testLedgerPaging},
		{"LedgerDerived", testLedgerDerived},
		{"ConcurrentConsume", testConcurrentConsume},
		{"ConcurrentFail", testConcurrentFail},
		{"ConcurrentRevoke", testConcurrentRevoke},
		{"CanceledContext", testCanceledContext},
		{"InvalidRequest", testInvalidRequest},
		{"SubMicrosecondBounds", testSubMicrosecondBounds},
		{"SubMicrosecondPurge", testSubMicrosecondPurge},
		{"SubMicrosecondWindow", testSubMicrosecondWindow},
		{"CountersSubMicrosecondPurge", testCountersSubMicrosecondPurge},
		{"LedgerMixedPaging", testLedgerMixedPaging},
		{"ConsumeClaims", testConsumeClaims},
		{"Mismatch", testMismatch},
		{"MismatchSettled", testMismatchSettled},
		{"ConfirmedRefusal", testConfirmedRefusal},
		{"ConcurrentMismatch", testConcurrentMismatch},
		{"InvalidText", testInvalidText},
		{"Counters", testCounters},
		{"CountersWindow", testCountersWindow},
		{"ConcurrentHits", testConcurrentHits},
		{"Seq", testSeq},
		{"WatermarkNowSkew", testWatermarkNowSkew},
		{"PeekDecides", testPeekDecides},
		{"Batches", testBatches},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
	// Cases that need a store each.
	t.Run("RevokeFilters", func(t *testing.T) { testRevokeFilters(t, newStore) })
}

// now is the base time of a test: real time, to the microsecond.
func now() time.Time { return store.Micro(time.Now()) }

// token is a record with the secret it was made from.
type token struct {
	store.Record
	secret []byte
}

func (tk token) req(at time.Time) store.ConsumeRequest {
	return store.ConsumeRequest{ID: tk.ID, SecretHash: sha256.Sum256(tk.secret), At: at,
		Member: tk.Member, Purpose: tk.Purpose, Batch: tk.Batch}
}

type opt func(*store.Record)

func batch(b string) opt      { return func(r *store.Record) { r.Batch = b } }
func purpose(p string) opt    { return func(r *store.Record) { r.Purpose = p } }
func issued(t time.Time) opt  { return func(r *store.Record) { r.IssuedAt = t } }
func expires(t time.Time) opt { return func(r *store.Record) { r.ExpiresAt = t } }
func recipient(a string) opt  { return func(r *store.Record) { r.Recipient = a } }
func state(s []byte) opt      { return func(r *store.Record) { r.State = s } }
func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// mk makes a record for member, issued a minute ago, expiring in two hours.
func mk(t testing.TB, member string, opts ...opt) token {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	n := now()
	tk := token{Record: store.Record{
		ID:         newID(t),
		Member:     member,
		Purpose:    "login",
		SecretHash: sha256.Sum256(secret),
		IssuedAt:   n.Add(-time.Minute),
		ExpiresAt:  n.Add(2 * time.Hour),
	}, secret: secret}
	for _, o := range opts {
		o(&tk.Record)
	}
	return tk
}

func insert(t testing.TB, s store.Store, tks ...token) {
	t.Helper()
	recs := make([]store.Record, len(tks))
	for i := range tks {
		recs[i] = tks[i].Record
	}
	if err := s.Insert(context.Background(), recs); err != nil {
		t.Fatalf("Insert: %v", err)
	}
}

func get(t testing.TB, s store.Store, id string) store.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return r
}

func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: got error %v, want success", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("%s: got error %v, want %v", what, got, want)
	}
}

func wantStatus(t testing.TB, s store.Store, id string, want store.Status) store.Record {
	t.Helper()
	r := get(t, s, id)
	if r.Status != want {
		t.Fatalf("record %s: status %v, want %v", id, r.Status, want)
	}
	return r
}

var ctx = context.Background()

func testInsertGet(t *testing.T, s store.Store) {
	n := time.Now() // nanoseconds: the store keeps microseconds
	st := sha256.Sum256([]byte("state"))
	tk := mk(t, "member-1", batch("b-1"), purpose("reset"), recipient("ann@example.org"),
		issued(n.Add(-time.Second)), expires(n.Add(3*time.Hour)), state(st[:]))
	plain := mk(t, "member-2")
	insert(t, s, tk, plain)

	got := get(t, s, tk.ID)
	want := tk.Record
	want.IssuedAt, want.ExpiresAt = store.Micro(want.IssuedAt), store.Micro(want.ExpiresAt)
	if got.ID != want.ID || got.Member != want.Member || got.Purpose != want.Purpose || got.Batch != want.Batch ||
		got.Recipient != want.Recipient || got.SecretHash != want.SecretHash || string(got.State) != string(want.State) {
		t.Fatalf("Get: fields differ:\n got %+v\nwant %+v", got, want)
	}
	if !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("Get: times %v..%v, want %v..%v (to the microsecond)", got.IssuedAt, got.ExpiresAt, want.IssuedAt, want.ExpiresAt)
	}
	if got.Status != store.StatusIssued || got.Failures != 0 || !got.ConsumedAt.IsZero() || !got.RevokedAt.IsZero() || !got.Consumer.IsZero() {
		t.Fatalf("Get: a new record must be issued and untouched, got %+v", got)
	}
	if p := get(t, s, plain.ID); p.State != nil || p.Batch != "" || p.Recipient != "" {
		t.Fatalf("Get: empty optional fields came back set: %+v", p)
	}
}

func testInsertEmpty(t *testing.T, s store.Store) {
	wantErr(t, "Insert(nil)", s.Insert(ctx, nil), nil)
	wantErr(t, "Insert(empty)", s.Insert(ctx, []store.Record{}), nil)
	n, err := s.Count(ctx, store.Filter{All: true})
	wantErr(t, "Count", err, nil)
	if n != 0 {
		t.Fatalf("Count after empty inserts = %d, want 0", n)
	}
}

func testInsertInvalid(t *testing.T, s store.Store) {
	good := mk(t, "m")
	cases := []struct {
		name string
		mod  func(*store.Record)
	}{
		{"id not uuid", func(r *store.Record) { r.ID = "not-a-uuid" }},
		{"id upper case", func(r *store.Record) { r.ID = "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B" }},
		{"no member", func(r *store.Record) { r.Member = "" }},
		{"long member", func(r *store.Record) { r.Member = string(make([]byte, store.MaxMemberLen+1)) }},
		{"no purpose", func(r *store.Record) { r.Purpose = "" }},
		{"short state", func(r *store.Record) { r.State = []byte{1, 2, 3} }},
		{"no expiry", func(r *store.Record) { r.ExpiresAt = time.Time{} }},
		{"expires before issue", func(r *store.Record) { r.ExpiresAt = r.IssuedAt.Add(-time.Second) }},
		{"no secret hash", func(r *store.Record) { r.SecretHash = [32]byte{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := mk(t, "m")
			tc.mod(&bad.Record)
			err := s.Insert(ctx, []store.Record{good.Record, bad.Record})
			wantErr(t, "Insert", err, store.ErrInvalid)
			if _, err := s.Get(ctx, good.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a valid record was inserted with an invalid one: Get = %v", err)
			}
		})
	}
}

func testInsertDuplicate(t *testing.T, s store.Store) {
	a, b, c := mk(t, "a"), mk(t, "b"), mk(t, "c")
	insert(t, s, a)
	dup := mk(t, "other")
	dup.ID = a.ID
	wantErr(t, "Insert existing id", s.Insert(ctx, []store.Record{b.Record, dup.Record}), store.ErrDuplicate)
	if _, err := s.Get(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("insert is not all-or-nothing: Get(b) = %v", err)
	}
	if r := get(t, s, a.ID); r.Member != "a" {
		t.Fatalf("a duplicate insert overwrote the record: member %q", r.Member)
	}
	again := c
	wantErr(t, "Insert repeated id", s.Insert(ctx, []store.Record{c.Record, again.Record}), store.ErrDuplicate)
	if _, err := s.Get(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("insert with a repeated id is not all-or-nothing: Get(c) = %v", err)
	}
}

func testInsertLarge(t *testing.T, s store.Store) {
	const n = 10000
	tks := make([]token, n)
	for i := range tks {
		tks[i] = mk(t, fmt.Sprintf("m-%d", i%500), batch("big"))
	}
	insert(t, s, tks...)
	c, err := s.Count(ctx, store.Filter{Batches: []string{"big"}})
	wantErr(t, "Count", err, nil)
	if c != n {
		t.Fatalf("Count = %d, want %d", c, n)
	}
	last := tks[n-1]
	_, err = s.Consume(ctx, last.req(now()))
	wantErr(t, "Consume last of a large insert", err, nil)
}

func testGetNotFound(t *testing.T, s store.Store) {
	_, err := s.Get(ctx, newID(t))
	wantErr(t, "Get unknown", err, store.ErrNotFound)
	_, err = s.Get(ctx, "not-a-uuid")
	wantErr(t, "Get malformed id", err, store.ErrNotFound)
}

func testConsumeOnce(t *testing.T, s store.Store) {
	tk := mk(t, "m", batch("b"), recipient("m@example.org"))
	other := mk(t, "m")
	insert(t, s, tk, other)
	at := time.Now()
	req := tk.req(at)
	req.Presentation = store.Presentation{Identity: "email:m@example.org", IP: "192.0.2.7", UserAgent: "test/1", Session: "sess-1"}
	r, err := s.Consume(ctx, req)
	wantErr(t, "Consume", err, nil)
	if r.ID != tk.ID || r.Status != store.StatusConsumed || !r.ConsumedAt.Equal(store.Micro(at)) || r.Consumer != req.Presentation {
		t.Fatalf("Consume returned %+v", r)
	}
	g := wantStatus(t, s, tk.ID, store.StatusConsumed)
	if !g.ConsumedAt.Equal(store.Micro(at)) || g.Consumer != req.Presentation || g.Member != "m" || g.Batch != "b" {
		t.Fatalf("Get after Consume: %+v", g)
	}
	r, err = s.Consume(ctx, tk.req(time.Now()))
	wantErr(t, "second Consume", err, store.ErrUsed)
	if r.ID != tk.ID {
		t.Fatalf("a refusal must return the record when it exists, got %+v", r)
	}
	if g2 := get(t, s, tk.ID); !g2.ConsumedAt.Equal(g.ConsumedAt) || g2.Consumer != g.Consumer {
		t.Fatalf("a refused replay changed the record: %+v", g2)
	}
	wantStatus(t, s, other.ID, store.StatusIssued)
}

func testConsumeNotFound(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	_, err := s.Consume(ctx, tk.req(now()))
	wantErr(t, "Consume unknown", err, store.ErrNotFound)
	req := tk.req(now())
	req.ID = "xyz"
	_, err = s.Consume(ctx, req)
	wantErr(t, "Consume malformed id", err, store.ErrNotFound)
}

func testConsumeSecret(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	req := tk.req(now())
	req.SecretHash[0] ^= 1
	_, err := s.Consume(ctx, req)
	wantErr(t, "Consume wrong secret", err, store.ErrSecret)
	wantStatus(t, s, tk.ID, store.StatusIssued)
	_, err = s.Consume(ctx, tk.req(now()))
	wantErr(t, "Consume right secret", err, nil)
}

func testExpiry(t *testing.T, s store.Store) {
	exp := now().Add(time.Hour)
	before, at, after := mk(t, "m", expires(exp)), mk(t, "m", expires(exp)), mk(t, "m", expires(exp))
	insert(t, s, before, at, after)
	cases := []struct {
		name    string
		tk      token
		when    time.Time
		wantErr error
	}{
		{"one microsecond before expiry", before, exp.Add(-time.Microsecond), nil},
		{"at expiry", at, exp, store.ErrExpired},
		{"after expiry", after, exp.Add(time.Second), store.ErrExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Peek(ctx, tc.tk.req(tc.when))
			wantErr(t, "Peek", err, tc.wantErr)
			_, err = s.Consume(ctx, tc.tk.req(tc.when))
			wantErr(t, "Consume", err, tc.wantErr)
			want := store.StatusConsumed
			if tc.wantErr != nil {
				want = store.StatusIssued
			}
			wantStatus(t, s, tc.tk.ID, want)
		})
	}
}

func testPeek(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	for i := 0; i < 3; i++ {
		r, err := s.Peek(ctx, tk.req(now()))
		wantErr(t, "Peek", err, nil)
		if r.ID != tk.ID || r.Status != store.StatusIssued {
			t.Fatalf("Peek returned %+v", r)
		}
	}
	wantStatus(t, s, tk.ID, store.StatusIssued)
	_, err := s.Peek(ctx, mk(t, "x").req(now()))
	wantErr(t, "Peek unknown", err, store.ErrNotFound)
	req := tk.req(now())
	req.SecretHash[31] ^= 0x80
	_, err = s.Peek(ctx, req)
	wantErr(t, "Peek wrong secret", err, store.ErrSecret)
	_, err = s.Consume(ctx, tk.req(now()))
	wantErr(t, "Consume after Peek", err, nil)
	_, err = s.Peek(ctx, tk.req(now()))
	wantErr(t, "Peek consumed", err, store.ErrUsed)
}

// testOrder checks that, when several checks fail, the first in contract
// order decides the error.
func testOrder(t *testing.T, s store.Store) {
	n := now()
	late := n.Add(3 * time.Hour) // after every record's expiry
	st1, st2 := sha256.Sum256([]byte("s1")), sha256.Sum256([]byte("s2"))

	revokedExpired := mk(t, "m1")
	usedExpired := mk(t, "m2")
	usedFrozen := mk(t, "m3", batch("ob"))
	expiredFrozen := mk(t, "m4", batch("ob"))
	frozenStale := mk(t, "m5", batch("ob"), state(st1[:]))
	secretRevoked := mk(t, "m6")
	insert(t, s, revokedExpired, usedExpired, usedFrozen, expiredFrozen, frozenStale, secretRevoked)

	_, err := s.Revoke(ctx, store.Filter{IDs: []string{revokedExpired.ID, secretRevoked.ID}}, n)
	wantErr(t, "Revoke", err, nil)
	for _, tk := range []token{usedExpired, usedFrozen} {
		_, err := s.Consume(ctx, tk.req(n))
		wantErr(t, "Consume", err, nil)
	}
	wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "ob", Since: n}), nil)

	stale := frozenStale.req(n)
	stale.State = st2[:]
	badSecret := secretRevoked.req(n)
	badSecret.SecretHash[5] ^= 1
	cases := []struct {
		name    string
		req     store.ConsumeRequest
		wantErr error
	}{
		{"revoked beats expired", revokedExpired.req(late), store.ErrRevoked},
		{"used beats expired", usedExpired.req(late), store.ErrUsed},
		{"used beats frozen", usedFrozen.req(n), store.ErrUsed},
		{"expired beats frozen", expiredFrozen.req(late), store.ErrExpired},
		{"frozen beats stale", stale, store.ErrFrozen},
		{"secret beats revoked", badSecret, store.ErrSecret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Peek(ctx, tc.req)
			wantErr(t, "Peek", err, tc.wantErr)
			_, err = s.Consume(ctx, tc.req)
			wantErr(t, "Consume", err, tc.wantErr)
		})
	}
}

func testRevokeFilters(t *testing.T, newStore NewStore) {
	n := now()
	// Six records spread over members, batches, purposes and issue times.
	a := mk(t, "alice", batch("b1"), issued(n.Add(-50*time.Minute)))
	b := mk(t, "bob", batch("b1"), issued(n.Add(-40*time.Minute)), purpose("reset"))
	c := mk(t, "carol", batch("b2"), issued(n.Add(-30*time.Minute)))
	d := mk(t, "alice", issued(n.Add(-20*time.Minute)), purpose("reset"))
	e := mk(t, "dave", batch("b2"), issued(n.Add(-10*time.Minute)))
	f := mk(t, "erin", issued(n.Add(-5*time.Minute)))
	all := []token{a, b, c, d, e, f}
	cases := []struct {
		name    string
		filter  store.Filter
		consume []token // consumed before the revoke
		want    []token
	}{
		{"ids", store.Filter{IDs: []string{a.ID, e.ID}}, nil, []token{a, e}},
		{"members", store.Filter{Members: []string{"alice", "dave"}}, nil, []token{a, d, e}},
		{"batches", store.Filter{Batches: []string{"b1"}}, nil, []token{a, b}},
		{"purpose", store.Filter{Purpose: "reset"}, nil, []token{b, d}},
		{"issued from", store.Filter{IssuedFrom: n.Add(-20 * time.Minute)}, nil, []token{d, e, f}},
		{"issued before", store.Filter{IssuedBefore: n.Add(-30 * time.Minute)}, nil, []token{a, b}},
		{"window", store.Filter{IssuedFrom: n.Add(-40 * time.Minute), IssuedBefore: n.Add(-10 * time.Minute)}, nil, []token{b, c, d}},
		{"member and batch", store.Filter{Members: []string{"alice"}, Batches: []string{"b1", "b2"}}, nil, []token{a}},
		{"batch and purpose", store.Filter{Batches: []string{"b1"}, Purpose: "login"}, nil, []token{a}},
		{"consumed only", store.Filter{Consumed: true}, []token{c, f}, []token{c, f}},
		{"consumed in batch", store.Filter{Consumed: true, Batches: []string{"b2"}}, []token{c, f}, []token{c}},
		{"everything", store.Filter{All: true}, []token{b}, all},
		{"no match", store.Filter{Members: []string{"nobody"}}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			insert(t, s, all...)
			for _, tk := range tc.consume {
				_, err := s.Consume(ctx, tk.req(n))
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
					if _, err := s.Consume(ctx, tk.req(n)); !errors.Is(err, store.ErrRevoked) {
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
	req := tk.req(now())
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
		tk      token
		wantErr error
	}{{old1, store.ErrRevoked}, {old2, store.ErrRevoked}, {edge, nil}} {
		_, err := s.Peek(ctx, tc.tk.req(n))
		wantErr(t, "Peek "+tc.tk.Member, err, tc.wantErr)
	}
	// A watermark never moves back.
	wantErr(t, "earlier Watermark", s.Watermark(ctx, "", n.Add(-10*time.Minute)), nil)
	_, err := s.Consume(ctx, old2.req(n))
	wantErr(t, "Consume under watermark", err, store.ErrRevoked)
	wantStatus(t, s, old2.ID, store.StatusIssued)

	wantErr(t, "later Watermark", s.Watermark(ctx, "", n.Add(-45*time.Second)), nil)
	_, err = s.Consume(ctx, edge.req(n))
	wantErr(t, "Consume under moved watermark", err, store.ErrRevoked)
	_, err = s.Consume(ctx, fresh.req(n))
	wantErr(t, "Consume after watermark", err, nil)

	marks, err := s.Marks(ctx)
	wantErr(t, "Marks", err, nil)
	if len(marks) != 1 || marks[0].Member != "" || !marks[0].Before.Equal(n.Add(-45*time.Second)) {
		t.Fatalf("Marks = %+v", marks)
	}
	// Records issued after the watermark are unaffected.
	late := mk(t, "e", issued(n))
	insert(t, s, late)
	_, err = s.Consume(ctx, late.req(n))
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
		tk      token
		wantErr error
	}{{a1, store.ErrRevoked}, {a2, store.ErrRevoked}, {b1, nil}} {
		_, err := s.Consume(ctx, tc.tk.req(n))
		wantErr(t, "Consume "+tc.tk.Member, err, tc.wantErr)
	}
	a3 := mk(t, "alice", issued(n.Add(time.Second)))
	insert(t, s, a3)
	_, err := s.Consume(ctx, a3.req(n.Add(time.Second)))
	wantErr(t, "Consume of a new link after a member watermark", err, nil)
	marks, err := s.Marks(ctx)
	wantErr(t, "Marks", err, nil)
	if len(marks) != 1 || marks[0].Member != "alice" || !marks[0].Before.Equal(n) {
		t.Fatalf("Marks = %+v", marks)
	}
}

func testFreeze(t *testing.T, s store.Store) {
	n := now()
	tk := mk(t, "m", batch("fb"))
	insert(t, s, tk)
	h := store.Hold{Scope: store.ScopeBatch, Key: "fb", Since: n, Reason: "first"}
	wantErr(t, "Freeze", s.Freeze(ctx, h), nil)
	again := h
	again.Since, again.Reason = n.Add(time.Minute), "second"
	wantErr(t, "Freeze again", s.Freeze(ctx, again), nil)
	holds, err := s.Holds(ctx)
	wantErr(t, "Holds", err, nil)
	if len(holds) != 1 || holds[0].Scope != store.ScopeBatch || holds[0].Key != "fb" || holds[0].Reason != "first" || !holds[0].Since.Equal(n) {
		t.Fatalf("Holds = %+v, want the first hold kept", holds)
	}
	_, err = s.Consume(ctx, tk.req(n))
	wantErr(t, "Consume frozen", err, store.ErrFrozen)
	_, err = s.Peek(ctx, tk.req(n))
	wantErr(t, "Peek frozen", err, store.ErrFrozen)
	wantStatus(t, s, tk.ID, store.StatusIssued)

	ok, err := s.Thaw(ctx, store.ScopeBatch, "fb")
	wantErr(t, "Thaw", err, nil)
	if !ok {
		t.Fatal("Thaw of a frozen batch reported no hold")
	}
	ok, err = s.Thaw(ctx, store.ScopeBatch, "fb")
	wantErr(t, "Thaw again", err, nil)
	if ok {
		t.Fatal("a second Thaw reported a hold")
	}
	_, err = s.Consume(ctx, tk.req(n))
	wantErr(t, "Consume thawed", err, nil)

	for _, bad := range []store.Hold{
		{Scope: store.ScopeBatch}, {Scope: store.ScopeMember}, {Scope: store.ScopeGlobal, Key: "x"}, {Scope: 99, Key: "x"},
	} {
		wantErr(t, fmt.Sprintf("Freeze(%+v)", bad), s.Freeze(ctx, bad), store.ErrInvalid)
	}
	if holds, _ := s.Holds(ctx); len(holds) != 0 {
		t.Fatalf("invalid holds were placed: %+v", holds)
	}
}

func testFreezeScopes(t *testing.T, s store.Store) {
	n := now()
	inBatch := mk(t, "m1", batch("sb"))
	member := mk(t, "m2")
	plain := mk(t, "m3")
	insert(t, s, inBatch, member, plain)
	cases := []struct {
		name   string
		hold   store.Hold
		frozen map[string]bool
	}{
		{"batch", store.Hold{Scope: store.ScopeBatch, Key: "sb"}, map[string]bool{inBatch.ID: true}},
		{"member", store.Hold{Scope: store.ScopeMember, Key: "m2"}, map[string]bool{member.ID: true}},
		{"global", store.Hold{Scope: store.ScopeGlobal}, map[string]bool{inBatch.ID: true, member.ID: true, plain.ID: true}},
		{"other batch", store.Hold{Scope: store.ScopeBatch, Key: "nope"}, map[string]bool{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.hold.Since = n
			wantErr(t, "Freeze", s.Freeze(ctx, tc.hold), nil)
			for _, tk := range []token{inBatch, member, plain} {
				var want error
				if tc.frozen[tk.ID] {
					want = store.ErrFrozen
				}
				_, err := s.Peek(ctx, tk.req(n))
				wantErr(t, "Peek "+tk.Member, err, want)
			}
			ok, err := s.Thaw(ctx, tc.hold.Scope, tc.hold.Key)
			wantErr(t, "Thaw", err, nil)
			if !ok {
				t.Fatal("Thaw reported no hold")
			}
		})
	}
	wantErr(t, "Freeze member", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "zed", Since: n}), nil)
	wantErr(t, "Freeze global", s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Since: n}), nil)
	wantErr(t, "Freeze batch", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "b", Since: n}), nil)
	wantErr(t, "Freeze member", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "amy", Since: n}), nil)
	holds, err := s.Holds(ctx)
	wantErr(t, "Holds", err, nil)
	var got []string
	for _, h := range holds {
		got = append(got, h.Scope.String()+":"+h.Key)
	}
	if want := []string{"global:", "batch:b", "member:amy", "member:zed"}; !slices.Equal(got, want) {
		t.Fatalf("Holds = %v, want %v", got, want)
	}
}

func testState(t *testing.T, s store.Store) {
	n := now()
	s1, s2 := sha256.Sum256([]byte("v1")), sha256.Sum256([]byte("v2"))
	bound := mk(t, "m", state(s1[:]))
	bound2 := mk(t, "m", state(s1[:]))
	bound3 := mk(t, "m", state(s1[:]))
	unbound := mk(t, "m")
	insert(t, s, bound, bound2, bound3, unbound)

	changed := bound.req(n)
	changed.State = s2[:]
	_, err := s.Consume(ctx, changed)
	wantErr(t, "Consume with changed state", err, store.ErrStale)
	_, err = s.Consume(ctx, bound2.req(n)) // no state presented
	wantErr(t, "Consume without state", err, store.ErrStale)
	wantStatus(t, s, bound.ID, store.StatusIssued)

	same := bound3.req(n)
	same.State = s1[:]
	_, err = s.Consume(ctx, same)
	wantErr(t, "Consume with the same state", err, nil)

	any := unbound.req(n)
	any.State = s2[:]
	_, err = s.Consume(ctx, any)
	wantErr(t, "Consume of an unbound record", err, nil)
}

func testFail(t *testing.T, s store.Store) {
	n := now()
	tk, keep, used := mk(t, "m"), mk(t, "m"), mk(t, "m")
	insert(t, s, tk, keep, used)
	for i := 1; i <= 4; i++ {
		r, err := s.Fail(ctx, tk.ID, n, 5)
		wantErr(t, "Fail", err, nil)
		if r.Failures != i || r.Status != store.StatusIssued {
			t.Fatalf("after %d failures: %+v", i, r)
		}
	}
	_, err := s.Peek(ctx, tk.req(n))
	wantErr(t, "Peek below the limit", err, nil)
	r, err := s.Fail(ctx, tk.ID, n, 5)
	wantErr(t, "Fail", err, nil)
	if r.Failures != 5 || r.Status != store.StatusRevoked || !r.RevokedAt.Equal(n) {
		t.Fatalf("at the limit: %+v, want revoked", r)
	}
	_, err = s.Consume(ctx, tk.req(n))
	wantErr(t, "Consume after too many failures", err, store.ErrRevoked)

	for i := 0; i < 10; i++ {
		if _, err := s.Fail(ctx, keep.ID, n, 0); err != nil {
			t.Fatal(err)
		}
	}
	wantStatus(t, s, keep.ID, store.StatusIssued)

	_, err = s.Consume(ctx, used.req(n))
	wantErr(t, "Consume", err, nil)
	r, err = s.Fail(ctx, used.ID, n, 1)
	wantErr(t, "Fail on consumed", err, nil)
	if r.Status != store.StatusConsumed || r.Failures != 1 {
		t.Fatalf("Fail must not revoke a consumed record: %+v", r)
	}
	_, err = s.Fail(ctx, newID(t), n, 5)
	wantErr(t, "Fail unknown", err, store.ErrNotFound)
}

func testRecords(t *testing.T, s store.Store) {
	const n = 2500
	var tks []token
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
	_, err := s.Consume(ctx, cons.req(n))
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
	_, err := s.Consume(ctx, soon2.req(n))
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
	req := tk.req(n)
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

func testConcurrentConsume(t *testing.T, s store.Store) {
	const racers = 64
	for round := 0; round < 5; round++ {
		tk := mk(t, fmt.Sprintf("racer-%d", round))
		insert(t, s, tk)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, racers)
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				req := tk.req(time.Now())
				req.Presentation.Session = fmt.Sprintf("session-%d", i)
				_, errs[i] = s.Consume(ctx, req)
			}(i)
		}
		close(start)
		wg.Wait()
		winners, winner := 0, -1
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				winner = i
			case errors.Is(err, store.ErrUsed):
			default:
				t.Fatalf("round %d: racer %d: unexpected error %v", round, i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d of %d concurrent consumers won, want exactly 1", round, winners, racers)
		}
		r := wantStatus(t, s, tk.ID, store.StatusConsumed)
		if r.Consumer.Session != fmt.Sprintf("session-%d", winner) {
			t.Fatalf("round %d: recorded session %q, winner was %d", round, r.Consumer.Session, winner)
		}
	}
}

func testConcurrentFail(t *testing.T, s store.Store) {
	const racers = 64
	tk := mk(t, "guessed")
	insert(t, s, tk)
	n := now()
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = s.Fail(ctx, tk.ID, n, 5)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		wantErr(t, "Fail", err, nil)
	}
	r := wantStatus(t, s, tk.ID, store.StatusRevoked)
	if r.Failures != racers {
		t.Fatalf("Failures = %d after %d concurrent failures", r.Failures, racers)
	}
}

// testConcurrentRevoke races consumers against a revocation: every record
// ends either consumed before the revocation (and then revoked) or refused.
func testConcurrentRevoke(t *testing.T, s store.Store) {
	const n = 200
	tks := make([]token, n)
	for i := range tks {
		tks[i] = mk(t, fmt.Sprint("cr", i), batch("race"))
	}
	insert(t, s, tks...)
	var wg sync.WaitGroup
	consumed := make([]bool, n)
	for i := range tks {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := s.Consume(ctx, tks[i].req(time.Now()))
			switch {
			case err == nil:
				consumed[i] = true
			case errors.Is(err, store.ErrRevoked):
			default:
				t.Errorf("Consume: %v", err)
			}
		}(i)
	}
	revoked, err := s.Revoke(ctx, store.Filter{Batches: []string{"race"}}, now())
	wg.Wait()
	wantErr(t, "Revoke", err, nil)
	if revoked != n {
		t.Fatalf("Revoke = %d, want %d (consumed records are revoked too)", revoked, n)
	}
	for i, tk := range tks {
		r := wantStatus(t, s, tk.ID, store.StatusRevoked)
		if consumed[i] == r.ConsumedAt.IsZero() {
			t.Fatalf("record %d: consumer saw success=%v, record ConsumedAt=%v", i, consumed[i], r.ConsumedAt)
		}
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Consume(cctx, tk.req(now()))
	wantErr(t, "Consume with a canceled context", err, store.ErrUnavailable)
	_, err = s.Peek(cctx, tk.req(now()))
	wantErr(t, "Peek with a canceled context", err, store.ErrUnavailable)
	err = s.Insert(cctx, []store.Record{mk(t, "n").Record})
	wantErr(t, "Insert with a canceled context", err, store.ErrUnavailable)
	wantStatus(t, s, tk.ID, store.StatusIssued)
	_, err = s.Consume(ctx, tk.req(now()))
	wantErr(t, "Consume after the canceled one", err, nil)
}

func testInvalidRequest(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	noTime := tk.req(time.Time{})
	badState := tk.req(now())
	badState.State = []byte{1, 2, 3}
	longUA := tk.req(now())
	longUA.Presentation.UserAgent = string(make([]byte, store.MaxUserAgentLen+1))
	noMember := tk.req(now())
	noMember.Member = ""
	noPurpose := tk.req(now())
	noPurpose.Purpose = ""
	badConfirmation := tk.req(now())
	badConfirmation.Confirmation = 7
	badCap := tk.req(now())
	badCap.MaxFailures = -1
	for name, req := range map[string]store.ConsumeRequest{"no time": noTime, "short state": badState, "long user agent": longUA,
		"no member": noMember, "no purpose": noPurpose, "unknown confirmation": badConfirmation, "negative cap": badCap} {
		_, err := s.Peek(ctx, req)
		wantErr(t, "Peek "+name, err, store.ErrInvalid)
		_, err = s.Consume(ctx, req)
		wantErr(t, "Consume "+name, err, store.ErrInvalid)
	}
	wantStatus(t, s, tk.ID, store.StatusIssued)
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
	_, err := s.Peek(ctx, tk.req(now()))
	wantErr(t, "Peek before the watermark", err, nil)
	wantErr(t, "Watermark", s.Watermark(ctx, "sub", at), nil)
	_, err = s.Peek(ctx, tk.req(now()))
	wantErr(t, "Peek under a watermark at its own microsecond", err, nil)
	wantErr(t, "Watermark", s.Watermark(ctx, "sub", half), nil)
	_, err = s.Peek(ctx, tk.req(now()))
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
	var tks []token
	for i := 0; i < 5; i++ {
		tks = append(tks, mk(t, fmt.Sprint("mix", i), batch("mix"), issued(at)))
	}
	insert(t, s, tks...)
	for _, tk := range tks[:3] {
		_, err := s.Consume(ctx, tk.req(at))
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
