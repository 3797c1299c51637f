package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

// ctxCall is one call of a store's method with a context.
type ctxCall struct {
	name string
	call func(ctx context.Context) error
}

// ctxCalls returns a call of every method of the contract, of the counters
// and of the optional capabilities s has, each of which would change
// something or read something if its context let it: tk is an issued
// record, fresh one that is not inserted, and a member hold on "held" is
// in place.
func ctxCalls(t *testing.T, s store.Store, tk, fresh Link) []ctxCall {
	n := now()
	mismatched := tk.Request(n)
	mismatched.Confirmation, mismatched.MaxFailures = store.Mismatched, 1
	calls := []ctxCall{
		{"Insert", func(ctx context.Context) error { return s.Insert(ctx, []store.Record{fresh.Record}) }},
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, tk.ID); return err }},
		{"Peek", func(ctx context.Context) error { _, err := s.Peek(ctx, tk.Request(n)); return err }},
		{"Peek mismatched", func(ctx context.Context) error { _, err := s.Peek(ctx, mismatched); return err }},
		{"Consume", func(ctx context.Context) error { _, err := s.Consume(ctx, tk.Request(n)); return err }},
		{"Consume mismatched", func(ctx context.Context) error { _, err := s.Consume(ctx, mismatched); return err }},
		{"Fail", func(ctx context.Context) error { _, err := s.Fail(ctx, tk.ID, n, 1); return err }},
		{"Revoke", func(ctx context.Context) error {
			_, err := s.Revoke(ctx, store.Filter{IDs: []string{tk.ID}}, n)
			return err
		}},
		{"Watermark", func(ctx context.Context) error { return s.Watermark(ctx, tk.Member, n.Add(time.Hour)) }},
		{"WatermarkNow", func(ctx context.Context) error { _, err := s.WatermarkNow(ctx, ""); return err }},
		{"Marks", func(ctx context.Context) error { _, err := s.Marks(ctx); return err }},
		{"Records", func(ctx context.Context) error {
			_, err := s.Records(ctx, store.RecordQuery{Filter: store.Filter{All: true}})
			return err
		}},
		{"Count", func(ctx context.Context) error { _, err := s.Count(ctx, store.Filter{All: true}); return err }},
		{"Purge", func(ctx context.Context) error { _, err := s.Purge(ctx, n.Add(3*time.Hour)); return err }},
		{"Freeze", func(ctx context.Context) error { return s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Since: n}) }},
		{"Thaw", func(ctx context.Context) error { _, err := s.Thaw(ctx, store.ScopeMember, "held"); return err }},
		{"Holds", func(ctx context.Context) error { _, err := s.Holds(ctx); return err }},
		{"Append", func(ctx context.Context) error {
			return s.Append(ctx, store.Event{At: n, Kind: store.EventRefused, Reason: "canceled", Member: tk.Member})
		}},
		{"Events", func(ctx context.Context) error { _, _, err := s.Events(ctx, store.EventQuery{}); return err }},
		{"Hit", func(ctx context.Context) error {
			_, err := counters(t, s).Hit(ctx, "canceled", time.Hour, n)
			return err
		}},
	}
	if p, ok := s.(store.Pinger); ok {
		calls = append(calls, ctxCall{"Ping", p.Ping})
	}
	if ta, ok := s.(store.Tallier); ok {
		calls = append(calls, ctxCall{"Tally", func(ctx context.Context) error {
			_, err := ta.Tally(ctx, store.Filter{All: true}, n)
			return err
		}})
	}
	if b, ok := s.(store.BatchLister); ok {
		calls = append(calls, ctxCall{"Batches", func(ctx context.Context) error {
			_, err := b.Batches(ctx, store.BatchQuery{})
			return err
		}})
	}
	return calls
}

// testCanceledContext calls every method with a context canceled before
// the call: each fails with store.ErrUnavailable and changes nothing.
func testCanceledContext(t *testing.T, s store.Store) {
	tk := mk(t, "m", batch("cb"))
	insert(t, s, tk)
	wantErr(t, "Freeze", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "held", Since: now()}), nil)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	fresh := mk(t, "fresh")
	for _, c := range ctxCalls(t, s, tk, fresh) {
		if err := c.call(canceled); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with a canceled context: %v, want ErrUnavailable", c.name, err)
		}
	}
	if t.Failed() {
		return
	}
	if r := wantStatus(t, s, tk.ID, store.StatusIssued); r.Failures != 0 || !r.ConsumedAt.IsZero() {
		t.Fatalf("calls with a canceled context changed the record: %+v", r)
	}
	if _, err := s.Get(ctx, fresh.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an Insert with a canceled context inserted: Get = %v", err)
	}
	marks, err := s.Marks(ctx)
	wantErr(t, "Marks", err, nil)
	holds, err := s.Holds(ctx)
	wantErr(t, "Holds", err, nil)
	if len(marks) != 0 || len(holds) != 1 || holds[0].Key != "held" {
		t.Fatalf("calls with a canceled context changed the guards: marks %+v, holds %+v", marks, holds)
	}
	evs, _, err := s.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventRefused}})
	wantErr(t, "Events", err, nil)
	if len(evs) != 0 {
		t.Fatalf("an Append with a canceled context appended %+v", evs)
	}
	if got := hit(t, counters(t, s), "canceled", time.Hour, now()); got != 1 {
		t.Fatalf("a Hit with a canceled context counted: the next hit counted %d", got)
	}
	_, err = s.Consume(ctx, tk.Request(now()))
	wantErr(t, "Consume after the canceled calls", err, nil)
}
