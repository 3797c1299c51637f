package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

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
				req := tk.Request(time.Now())
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
	tks := make([]Link, n)
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
			_, err := s.Consume(ctx, tks[i].Request(time.Now()))
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
				req := tk.Request(time.Now())
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
