package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

func mismatched(r store.ConsumeRequest, max int) store.ConsumeRequest {
	r.Confirmation, r.MaxFailures = store.Mismatched, max
	return r
}

// testMismatch counts failed confirmations on a consumable record, through
// Peek and Consume alike, and revokes it at the cap.
func testMismatch(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	n := now()
	r, err := s.Peek(ctx, mismatched(tk.Request(n), 3))
	wantErr(t, "Peek mismatched", err, store.ErrMismatch)
	if r.ID != tk.ID || r.Failures != 1 || r.Status != store.StatusIssued {
		t.Fatalf("Peek mismatched returned %+v, want the record with 1 failure", r)
	}
	r, err = s.Consume(ctx, mismatched(tk.Request(n), 3))
	wantErr(t, "Consume mismatched", err, store.ErrMismatch)
	if r.Failures != 2 || r.Status != store.StatusIssued || !r.ConsumedAt.IsZero() {
		t.Fatalf("Consume mismatched returned %+v, want 2 failures, not consumed", r)
	}
	_, err = s.Peek(ctx, tk.Request(n))
	wantErr(t, "Peek below the cap", err, nil)
	r, err = s.Consume(ctx, mismatched(tk.Request(n), 3))
	wantErr(t, "Consume at the cap", err, store.ErrMismatch)
	if r.Failures != 3 || r.Status != store.StatusRevoked || !r.RevokedAt.Equal(n) {
		t.Fatalf("at the cap: %+v, want revoked at %v", r, n)
	}
	right := tk.Request(n)
	right.Confirmation = store.Confirmed
	_, err = s.Consume(ctx, right)
	wantErr(t, "Consume confirmed after the cap", err, store.ErrRevoked)

	uncapped := mk(t, "m")
	insert(t, s, uncapped)
	for i := 0; i < 7; i++ {
		_, err := s.Consume(ctx, mismatched(uncapped.Request(n), 0))
		wantErr(t, "Consume mismatched without a cap", err, store.ErrMismatch)
	}
	if r := wantStatus(t, s, uncapped.ID, store.StatusIssued); r.Failures != 7 {
		t.Fatalf("failures without a cap: %d, want 7", r.Failures)
	}
	_, err = s.Consume(ctx, mismatched(mk(t, "x").Request(n), 3))
	wantErr(t, "Consume mismatched of an unknown record", err, store.ErrNotFound)
}

// testMismatchSettled presents wrong identities on records that are not
// consumable: each gets the outcome a right identity gets, and each
// counts; a settled record is never revoked by the count.
func testMismatchSettled(t *testing.T, s store.Store) {
	n := now()
	late := n.Add(3 * time.Hour)
	st1, st2 := sha256.Sum256([]byte("s1")), sha256.Sum256([]byte("s2"))
	used, revoked, expired := mk(t, "u"), mk(t, "r"), mk(t, "e")
	frozen, stale := mk(t, "f", batch("sb")), mk(t, "s", state(st1[:]))
	insert(t, s, used, revoked, expired, frozen, stale)
	_, err := s.Consume(ctx, used.Request(n))
	wantErr(t, "Consume", err, nil)
	_, err = s.Revoke(ctx, store.Filter{IDs: []string{revoked.ID}}, n)
	wantErr(t, "Revoke", err, nil)
	wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "sb", Since: n}), nil)
	staleReq := stale.Request(n)
	staleReq.State = st2[:]
	cases := []struct {
		name   string
		req    store.ConsumeRequest
		want   error
		status store.Status
	}{
		{"used", used.Request(n), store.ErrUsed, store.StatusConsumed},
		{"revoked", revoked.Request(n), store.ErrRevoked, store.StatusRevoked},
		{"expired", expired.Request(late), store.ErrExpired, store.StatusIssued},
		{"frozen", frozen.Request(n), store.ErrFrozen, store.StatusIssued},
		{"stale", staleReq, store.ErrStale, store.StatusIssued},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := 1; i <= 3; i++ {
				_, err := s.Peek(ctx, mismatched(tc.req, 0))
				wantErr(t, "Peek mismatched", err, tc.want)
				r, err := s.Consume(ctx, mismatched(tc.req, 0))
				wantErr(t, "Consume mismatched", err, tc.want)
				if r.Failures != 2*i || r.Status != tc.status {
					t.Fatalf("after %d rounds: %+v, want %d failures and status %v", i, r, 2*i, tc.status)
				}
			}
			// The cap applies whatever the state: a record still issued is
			// revoked, and the request gets the outcome of the state it found.
			r, err := s.Consume(ctx, mismatched(tc.req, 7))
			wantErr(t, "Consume mismatched at the cap", err, tc.want)
			want := tc.status
			if want == store.StatusIssued {
				want = store.StatusRevoked
			}
			if r.Failures != 7 || r.Status != want {
				t.Fatalf("at the cap: %+v, want 7 failures and status %v", r, want)
			}
		})
	}
	forged := used.Request(n)
	forged.SecretHash[0] ^= 1
	_, err = s.Consume(ctx, mismatched(forged, 1))
	wantErr(t, "Consume mismatched with a wrong secret", err, store.ErrSecret)
	if r := get(t, s, used.ID); r.Failures != 7 {
		t.Fatalf("a presentation with a wrong secret counted: %d failures", r.Failures)
	}
}

// testConfirmedRefusal: a confirmed presentation of a record that is not
// consumable is refused as any other, and counts nothing.
func testConfirmedRefusal(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	n := now()
	req := tk.Request(n)
	req.Confirmation = store.Confirmed
	req.MaxFailures = 1
	_, err := s.Consume(ctx, req)
	wantErr(t, "Consume confirmed", err, nil)
	for i := 0; i < 3; i++ {
		_, err = s.Consume(ctx, req)
		wantErr(t, "Consume confirmed again", err, store.ErrUsed)
		_, err = s.Peek(ctx, req)
		wantErr(t, "Peek confirmed", err, store.ErrUsed)
	}
	if r := wantStatus(t, s, tk.ID, store.StatusConsumed); r.Failures != 0 {
		t.Fatalf("confirmed refusals counted %d failures", r.Failures)
	}
	fresh := mk(t, "m")
	insert(t, s, fresh)
	req = fresh.Request(n)
	req.Confirmation = store.Confirmed
	_, err = s.Peek(ctx, req)
	wantErr(t, "Peek confirmed of a consumable record", err, nil)
	wantStatus(t, s, fresh.ID, store.StatusIssued)
}
