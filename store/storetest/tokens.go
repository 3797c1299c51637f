package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

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
	tks := make([]Link, n)
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
	_, err = s.Consume(ctx, last.Request(now()))
	wantErr(t, "Consume last of a large insert", err, nil)
}

func testGetNotFound(t *testing.T, s store.Store) {
	_, err := s.Get(ctx, newID())
	wantErr(t, "Get unknown", err, store.ErrNotFound)
	_, err = s.Get(ctx, "not-a-uuid")
	wantErr(t, "Get malformed id", err, store.ErrNotFound)
}

func testConsumeOnce(t *testing.T, s store.Store) {
	tk := mk(t, "m", batch("b"), recipient("m@example.org"))
	other := mk(t, "m")
	insert(t, s, tk, other)
	at := time.Now()
	req := tk.Request(at)
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
	r, err = s.Consume(ctx, tk.Request(time.Now()))
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
	_, err := s.Consume(ctx, tk.Request(now()))
	wantErr(t, "Consume unknown", err, store.ErrNotFound)
	req := tk.Request(now())
	req.ID = "xyz"
	_, err = s.Consume(ctx, req)
	wantErr(t, "Consume malformed id", err, store.ErrNotFound)
}

func testConsumeSecret(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	req := tk.Request(now())
	req.SecretHash[0] ^= 1
	_, err := s.Consume(ctx, req)
	wantErr(t, "Consume wrong secret", err, store.ErrSecret)
	wantStatus(t, s, tk.ID, store.StatusIssued)
	_, err = s.Consume(ctx, tk.Request(now()))
	wantErr(t, "Consume right secret", err, nil)
}

func testExpiry(t *testing.T, s store.Store) {
	exp := now().Add(time.Hour)
	before, at, after := mk(t, "m", expires(exp)), mk(t, "m", expires(exp)), mk(t, "m", expires(exp))
	insert(t, s, before, at, after)
	cases := []struct {
		name    string
		tk      Link
		when    time.Time
		wantErr error
	}{
		{"one microsecond before expiry", before, exp.Add(-time.Microsecond), nil},
		{"at expiry", at, exp, store.ErrExpired},
		{"after expiry", after, exp.Add(time.Second), store.ErrExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Peek(ctx, tc.tk.Request(tc.when))
			wantErr(t, "Peek", err, tc.wantErr)
			_, err = s.Consume(ctx, tc.tk.Request(tc.when))
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
		r, err := s.Peek(ctx, tk.Request(now()))
		wantErr(t, "Peek", err, nil)
		if r.ID != tk.ID || r.Status != store.StatusIssued {
			t.Fatalf("Peek returned %+v", r)
		}
	}
	wantStatus(t, s, tk.ID, store.StatusIssued)
	_, err := s.Peek(ctx, mk(t, "x").Request(now()))
	wantErr(t, "Peek unknown", err, store.ErrNotFound)
	req := tk.Request(now())
	req.SecretHash[31] ^= 0x80
	_, err = s.Peek(ctx, req)
	wantErr(t, "Peek wrong secret", err, store.ErrSecret)
	_, err = s.Consume(ctx, tk.Request(now()))
	wantErr(t, "Consume after Peek", err, nil)
	_, err = s.Peek(ctx, tk.Request(now()))
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
	for _, tk := range []Link{usedExpired, usedFrozen} {
		_, err := s.Consume(ctx, tk.Request(n))
		wantErr(t, "Consume", err, nil)
	}
	wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "ob", Since: n}), nil)

	stale := frozenStale.Request(n)
	stale.State = st2[:]
	badSecret := secretRevoked.Request(n)
	badSecret.SecretHash[5] ^= 1
	cases := []struct {
		name    string
		req     store.ConsumeRequest
		wantErr error
	}{
		{"revoked beats expired", revokedExpired.Request(late), store.ErrRevoked},
		{"used beats expired", usedExpired.Request(late), store.ErrUsed},
		{"used beats frozen", usedFrozen.Request(n), store.ErrUsed},
		{"expired beats frozen", expiredFrozen.Request(late), store.ErrExpired},
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

func testState(t *testing.T, s store.Store) {
	n := now()
	s1, s2 := sha256.Sum256([]byte("v1")), sha256.Sum256([]byte("v2"))
	bound := mk(t, "m", state(s1[:]))
	bound2 := mk(t, "m", state(s1[:]))
	bound3 := mk(t, "m", state(s1[:]))
	unbound := mk(t, "m")
	insert(t, s, bound, bound2, bound3, unbound)

	changed := bound.Request(n)
	changed.State = s2[:]
	_, err := s.Consume(ctx, changed)
	wantErr(t, "Consume with changed state", err, store.ErrStale)
	_, err = s.Consume(ctx, bound2.Request(n)) // no state presented
	wantErr(t, "Consume without state", err, store.ErrStale)
	wantStatus(t, s, bound.ID, store.StatusIssued)

	same := bound3.Request(n)
	same.State = s1[:]
	_, err = s.Consume(ctx, same)
	wantErr(t, "Consume with the same state", err, nil)

	any := unbound.Request(n)
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
	_, err := s.Peek(ctx, tk.Request(n))
	wantErr(t, "Peek below the limit", err, nil)
	r, err := s.Fail(ctx, tk.ID, n, 5)
	wantErr(t, "Fail", err, nil)
	if r.Failures != 5 || r.Status != store.StatusRevoked || !r.RevokedAt.Equal(n) {
		t.Fatalf("at the limit: %+v, want revoked", r)
	}
	_, err = s.Consume(ctx, tk.Request(n))
	wantErr(t, "Consume after too many failures", err, store.ErrRevoked)

	for i := 0; i < 10; i++ {
		if _, err := s.Fail(ctx, keep.ID, n, 0); err != nil {
			t.Fatal(err)
		}
	}
	wantStatus(t, s, keep.ID, store.StatusIssued)

	_, err = s.Consume(ctx, used.Request(n))
	wantErr(t, "Consume", err, nil)
	r, err = s.Fail(ctx, used.ID, n, 1)
	wantErr(t, "Fail on consumed", err, nil)
	if r.Status != store.StatusConsumed || r.Failures != 1 {
		t.Fatalf("Fail must not revoke a consumed record: %+v", r)
	}
	_, err = s.Fail(ctx, newID(), n, 5)
	wantErr(t, "Fail unknown", err, store.ErrNotFound)
}

// testConsumeClaims presents a record with the right secret and other
// claims, as a Link re-signed with the site's HS256 key would: a forgery,
// refused as a secret mismatch, counted nowhere, changing nothing.
func testConsumeClaims(t *testing.T, s store.Store) {
	tk := mk(t, "alice", batch("cb"))
	insert(t, s, tk)
	n := now()
	cases := []struct {
		name string
		edit func(*store.ConsumeRequest)
	}{
		{"another member", func(r *store.ConsumeRequest) { r.Member = "mallory" }},
		{"member differing in case", func(r *store.ConsumeRequest) { r.Member = "Alice" }},
		{"another purpose", func(r *store.ConsumeRequest) { r.Purpose = "reset" }},
		{"another batch", func(r *store.ConsumeRequest) { r.Batch = "cb2" }},
		{"no batch", func(r *store.ConsumeRequest) { r.Batch = "" }},
		{"another member, mismatched", func(r *store.ConsumeRequest) { r.Member = "mallory"; r.Confirmation = store.Mismatched }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tk.Request(n)
			tc.edit(&req)
			_, err := s.Peek(ctx, req)
			wantErr(t, "Peek", err, store.ErrSecret)
			_, err = s.Consume(ctx, req)
			wantErr(t, "Consume", err, store.ErrSecret)
			if r := wantStatus(t, s, tk.ID, store.StatusIssued); r.Failures != 0 {
				t.Fatalf("a forged presentation counted a failure: %+v", r)
			}
		})
	}
	single := mk(t, "bob")
	insert(t, s, single)
	req := single.Request(n)
	req.Batch = "cb"
	_, err := s.Consume(ctx, req)
	wantErr(t, "Consume of a single link claiming a batch", err, store.ErrSecret)
	_, err = s.Consume(ctx, tk.Request(n))
	wantErr(t, "Consume with the record's claims", err, nil)
}
