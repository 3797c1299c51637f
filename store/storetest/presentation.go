package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

// testConsumeClaims presents a record with the right secret and other
// claims, as a token re-signed with the site's HS256 key would: a forgery,
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
			req := tk.req(n)
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
	req := single.req(n)
	req.Batch = "cb"
	_, err := s.Consume(ctx, req)
	wantErr(t, "Consume of a single link claiming a batch", err, store.ErrSecret)
	_, err = s.Consume(ctx, tk.req(n))
	wantErr(t, "Consume with the record's claims", err, nil)
}

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
	r, err := s.Peek(ctx, mismatched(tk.req(n), 3))
	wantErr(t, "Peek mismatched", err, store.ErrMismatch)
	if r.ID != tk.ID || r.Failures != 1 || r.Status != store.StatusIssued {
		t.Fatalf("Peek mismatched returned %+v, want the record with 1 failure", r)
	}
	r, err = s.Consume(ctx, mismatched(tk.req(n), 3))
	wantErr(t, "Consume mismatched", err, store.ErrMismatch)
	if r.Failures != 2 || r.Status != store.StatusIssued || !r.ConsumedAt.IsZero() {
		t.Fatalf("Consume mismatched returned %+v, want 2 failures, not consumed", r)
	}
	_, err = s.Peek(ctx, tk.req(n))
	wantErr(t, "Peek below the cap", err, nil)
	r, err = s.Consume(ctx, mismatched(tk.req(n), 3))
	wantErr(t, "Consume at the cap", err, store.ErrMismatch)
	if r.Failures != 3 || r.Status != store.StatusRevoked || !r.RevokedAt.Equal(n) {
		t.Fatalf("at the cap: %+v, want revoked at %v", r, n)
	}
	right := tk.req(n)
	right.Confirmation = store.Confirmed
	_, err = s.Consume(ctx, right)
	wantErr(t, "Consume confirmed after the cap", err, store.ErrRevoked)

	uncapped := mk(t, "m")
	insert(t, s, uncapped)
	for i := 0; i < 7; i++ {
		_, err := s.Consume(ctx, mismatched(uncapped.req(n), 0))
		wantErr(t, "Consume mismatched without a cap", err, store.ErrMismatch)
	}
	if r := wantStatus(t, s, uncapped.ID, store.StatusIssued); r.Failures != 7 {
		t.Fatalf("failures without a cap: %d, want 7", r.Failures)
	}
	_, err = s.Consume(ctx, mismatched(mk(t, "x").req(n), 3))
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
	_, err := s.Consume(ctx, used.req(n))
	wantErr(t, "Consume", err, nil)
	_, err = s.Revoke(ctx, store.Filter{IDs: []string{revoked.ID}}, n)
	wantErr(t, "Revoke", err, nil)
	wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "sb", Since: n}), nil)
	staleReq := stale.req(n)
	staleReq.State = st2[:]
	cases := []struct {
		name   string
		req    store.ConsumeRequest
		want   error
		status store.Status
	}{
		{"used", used.req(n), store.ErrUsed, store.StatusConsumed},
		{"revoked", revoked.req(n), store.ErrRevoked, store.StatusRevoked},
		{"expired", expired.req(late), store.ErrExpired, store.StatusIssued},
		{"frozen", frozen.req(n), store.ErrFrozen, store.StatusIssued},
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
	forged := used.req(n)
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
	req := tk.req(n)
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
	req = fresh.req(n)
	req.Confirmation = store.Confirmed
	_, err = s.Peek(ctx, req)
	wantErr(t, "Peek confirmed of a consumable record", err, nil)
	wantStatus(t, s, fresh.ID, store.StatusIssued)
}

// testConcurrentMismatch races wrong identities against right ones: every
// failure is counted once, at most one consumer wins, and the record ends
// consumed or revoked.
func testConcurrentMismatch(t *testing.T, s store.Store) {
	const racers = 64
	for round := 0; round < 3; round++ {
		tk := mk(t, fmt.Sprint("cm", round))
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
				req.MaxFailures = 5
				req.Confirmation = store.Confirmed
				if i%2 == 1 {
					req.Confirmation = store.Mismatched
				}
				_, errs[i] = s.Consume(ctx, req)
			}(i)
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil && i%2 == 0:
				winners++
			case errors.Is(err, store.ErrMismatch) && i%2 == 1:
			case errors.Is(err, store.ErrUsed), errors.Is(err, store.ErrRevoked):
			default:
				t.Fatalf("round %d: racer %d (mismatched %v): %v", round, i, i%2 == 1, err)
			}
		}
		r := get(t, s, tk.ID)
		if r.Failures != racers/2 {
			t.Fatalf("round %d: %d failures counted of %d", round, r.Failures, racers/2)
		}
		if winners > 1 || (winners == 1) != (r.Status == store.StatusConsumed) || winners == 0 && r.Status != store.StatusRevoked {
			t.Fatalf("round %d: %d winners, record %v", round, winners, r.Status)
		}
	}
}

// testInvalidText: every text a store would write or look up must be
// bounded UTF-8 without NUL; anything else is refused with ErrInvalid,
// whatever the engine would have done with it, and text cleaned with
// store.CleanText is kept as it is.
func testInvalidText(t *testing.T, s store.Store) {
	n := now()
	tk := mk(t, "m", batch("tb"))
	insert(t, s, tk)
	bad := []string{"Mozilla/5.0 \xff", "a\x00b", "\xc3"}
	for _, b := range bad {
		t.Run(fmt.Sprintf("%q", b), func(t *testing.T) {
			wantErr(t, "Append user agent", s.Append(ctx, store.Event{At: n, Kind: store.EventRefused, Presentation: store.Presentation{UserAgent: b}}), store.ErrInvalid)
			wantErr(t, "Append reason", s.Append(ctx, store.Event{At: n, Kind: store.EventRefused, Reason: b}), store.ErrInvalid)
			wantErr(t, "Append detail", s.Append(ctx, store.Event{At: n, Kind: store.EventBlocked, Detail: b}), store.ErrInvalid)
			rec := mk(t, b)
			wantErr(t, "Insert member", s.Insert(ctx, []store.Record{rec.Record}), store.ErrInvalid)
			rec = mk(t, "m", recipient(b))
			wantErr(t, "Insert recipient", s.Insert(ctx, []store.Record{rec.Record}), store.ErrInvalid)
			req := tk.req(n)
			req.Presentation.Identity = b
			_, err := s.Consume(ctx, req)
			wantErr(t, "Consume identity", err, store.ErrInvalid)
			_, err = s.Peek(ctx, req)
			wantErr(t, "Peek identity", err, store.ErrInvalid)
			wantErr(t, "Freeze reason", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "tb", Since: n, Reason: b}), store.ErrInvalid)
			wantErr(t, "Freeze key", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: b, Since: n}), store.ErrInvalid)
			_, err = s.Count(ctx, store.Filter{Members: []string{b}})
			wantErr(t, "Count member", err, store.ErrInvalid)
			_, _, err = s.Events(ctx, store.EventQuery{Batch: b})
			wantErr(t, "Events batch", err, store.ErrInvalid)
			wantErr(t, "Watermark member", s.Watermark(ctx, b, n), store.ErrInvalid)
			_, err = s.WatermarkNow(ctx, b)
			wantErr(t, "WatermarkNow member", err, store.ErrInvalid)
			if lister, ok := s.(store.BatchLister); ok {
				_, err = lister.Batches(ctx, store.BatchQuery{After: b})
				wantErr(t, "Batches cursor", err, store.ErrInvalid)
			}
		})
	}
	if marks, err := s.Marks(ctx); err != nil || len(marks) != 0 {
		t.Fatalf("a refused watermark was placed: %+v, %v", marks, err)
	}
	holds, err := s.Holds(ctx)
	wantErr(t, "Holds", err, nil)
	if len(holds) != 0 {
		t.Fatalf("a refused hold was placed: %+v", holds)
	}
	ua := store.CleanText("Mozilla/5.0 \xff\x00"+strings.Repeat("é", store.MaxUserAgentLen), store.MaxUserAgentLen)
	ev := store.Event{At: n, Kind: store.EventRefused, Batch: "tb", Reason: "mismatch", Presentation: store.Presentation{UserAgent: ua}}
	wantErr(t, "Append of cleaned text", s.Append(ctx, ev), nil)
	evs, _, err := s.Events(ctx, store.EventQuery{Batch: "tb", Kinds: []store.EventKind{store.EventRefused}})
	wantErr(t, "Events", err, nil)
	if len(evs) != 1 || evs[0].Presentation.UserAgent != ua {
		t.Fatalf("cleaned text came back as %+v", evs)
	}
	req := tk.req(n)
	req.Presentation.UserAgent = ua
	r, err := s.Consume(ctx, req)
	wantErr(t, "Consume with cleaned text", err, nil)
	if r.Consumer.UserAgent != ua || get(t, s, tk.ID).Consumer.UserAgent != ua {
		t.Fatalf("cleaned text was not kept as it is")
	}
}
