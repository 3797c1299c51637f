package otelstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/otelstore"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// engines are the stores the decorator is tested on: the memory store and
// a real engine.
var engines = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"memory", func(testing.TB) store.Store { return memstore.New() }},
	{"sqlite", func(t testing.TB) store.Store { st, _ := teststores.SQLite(t); return st }},
}

func instrument(t testing.TB, inner store.Store) (store.Store, *reader) {
	t.Helper()
	mp, r := newReader(t)
	st, err := otelstore.New(inner, otelstore.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	return st, r
}

// TestSuite runs the store conformance suite through the decorator: it
// changes no outcome of any store call.
func TestSuite(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				st, _ := instrument(t, e.open(t))
				return st
			})
		})
	}
}

func kv(k attribute.Key, v string) attribute.KeyValue { return k.String(v) }

func TestCounters(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { testCounters(t, e.open(t)) })
	}
}

func testCounters(t *testing.T, inner store.Store) {
	st, r := instrument(t, inner)
	ctx := context.Background()
	want := func(name string, n int64, kvs ...attribute.KeyValue) {
		t.Helper()
		if got := r.sum(t, name, kvs...); got != n {
			t.Errorf("%s %v = %d, want %d", name, kvs, got, n)
		}
	}
	at := store.Micro(time.Now())

	// Mint: one link on its own, three in a batch.
	single := storetest.NewLink(t, "m-1")
	batch := make([]storetest.Link, 3)
	recs := make([]store.Record, 3)
	for i := range batch {
		batch[i] = storetest.NewLink(t, "m-2")
		batch[i].Batch = "b-1"
		recs[i] = batch[i].Record
	}
	must(t, st.Insert(ctx, []store.Record{single.Record}))
	must(t, st.Insert(ctx, recs))
	want(otelstore.MetricMinted, 1, kv(otelstore.KeyKind, "single"))
	want(otelstore.MetricMinted, 3, kv(otelstore.KeyKind, "batch"))
	if n := r.observations(t, otelstore.MetricDuration, kv(otelstore.KeyOperation, "insert"), kv(otelstore.KeyKind, "batch")); n != 1 {
		t.Errorf("batch insert durations: %d", n)
	}

	// Consume: accepted once; the second presentation is an outcome, not
	// an error.
	if _, err := st.Consume(ctx, single.Request(at)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Consume(ctx, single.Request(at)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second consume: %v", err)
	}
	want(otelstore.MetricConsumed, 1)
	if n := r.observations(t, otelstore.MetricDuration, kv(otelstore.KeyOperation, "consume")); n != 2 {
		t.Errorf("consume durations: %d", n)
	}

	// The failure cap: two mismatches revoke a link (Consume), one more
	// does nothing; Fail at its cap revokes another.
	mis := batch[0].Request(at)
	mis.Confirmation, mis.MaxFailures = store.Mismatched, 2
	for range 3 {
		if _, err := st.Consume(ctx, mis); err == nil {
			t.Fatal("a mismatch consumed")
		}
	}
	if _, err := st.Fail(ctx, batch[1].ID, at, 1); err != nil {
		t.Fatal(err)
	}
	want(otelstore.MetricRevoked, 2, kv(otelstore.KeyCause, "failures"))

	// An operator's revocation, and watermarks.
	n, err := st.Revoke(ctx, store.Filter{Batches: []string{"b-1"}}, at)
	if err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	want(otelstore.MetricRevoked, 1, kv(otelstore.KeyCause, "filter"))
	must(t, st.Watermark(ctx, "m-9", at))
	if _, err := st.WatermarkNow(ctx, ""); err != nil {
		t.Fatal(err)
	}
	want(otelstore.MetricMarks, 1, kv(otelstore.KeyScope, "member"), kv(otelstore.KeyMarkKind, "time"))
	want(otelstore.MetricMarks, 1, kv(otelstore.KeyScope, "global"), kv(otelstore.KeyMarkKind, "sequence"))

	// Holds: a thaw counts only when there was a hold.
	must(t, st.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "b-1", Since: at, Reason: "test"}))
	for range 2 {
		if _, err := st.Thaw(ctx, store.ScopeBatch, "b-1"); err != nil {
			t.Fatal(err)
		}
	}
	want(otelstore.MetricLifted, 1, kv(otelstore.KeyScope, "batch"))

	testLedgerCounters(t, st, r, at)

	testErrorCounters(t, st, r, single.Record)
	checkBounded(t, r)
}

// testErrorCounters checks that failures are counted by operation and
// type, and outcomes are not.
func testErrorCounters(t *testing.T, st store.Store, r *reader, inserted store.Record) {
	ctx := context.Background()
	want := func(name string, n int64, kvs ...attribute.KeyValue) {
		t.Helper()
		if got := r.sum(t, name, kvs...); got != n {
			t.Errorf("%s %v = %d, want %d", name, kvs, got, n)
		}
	}
	// Errors: an invalid record, a duplicate, a store that cannot answer.
	bad := storetest.NewLink(t, "")
	if err := st.Insert(ctx, []store.Record{bad.Record}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("invalid insert: %v", err)
	}
	if err := st.Insert(ctx, []store.Record{inserted}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("duplicate insert: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.Get(canceled, inserted.ID); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("get with a canceled context: %v", err)
	}
	if _, err := st.Get(ctx, storetest.NewLink(t, "m-1").ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of an unknown id: %v", err)
	}
	want(otelstore.MetricErrors, 1, kv(otelstore.KeyOperation, "insert"), kv(otelstore.KeyErrorType, "invalid"))
	want(otelstore.MetricErrors, 1, kv(otelstore.KeyOperation, "insert"), kv(otelstore.KeyErrorType, "duplicate"))
	want(otelstore.MetricErrors, 1, kv(otelstore.KeyOperation, "get"), kv(otelstore.KeyErrorType, "unavailable"))
	want(otelstore.MetricErrors, 3) // the outcomes (used, mismatch, not found) are not errors
}

// testLedgerCounters appends what the verifier, the breaker, the send guard
// and the admin record, and checks what each counts.
func testLedgerCounters(t *testing.T, st store.Store, r *reader, at time.Time) {
	ctx := context.Background()
	var evs []store.Event
	for _, reason := range allReasons(t) {
		evs = append(evs, store.Event{At: at, Kind: store.EventRefused, Reason: string(reason), Member: "m-1"})
	}
	evs = append(evs,
		store.Event{At: at, Kind: store.EventRefused, Reason: "m-1 typed something new", Member: "m-1"},
		store.Event{At: at, Kind: store.EventRefused, Reason: string(store.ReasonMismatch), Detail: "used"},
		store.Event{At: at, Kind: store.EventBlocked, Reason: "foreign link", Batch: "b-1", Actor: "send guard"},
		store.Event{At: at, Kind: store.EventBlocked, Reason: "ann@example.org", Actor: "send guard"},
		store.Event{At: at, Kind: store.EventBreaker, Batch: "b-1", Count: 3, Actor: "breaker"},
		store.Event{At: at, Kind: store.EventFrozen, Actor: "ops", Detail: "global : incident"},
		store.Event{At: at, Kind: store.EventFrozen, Actor: "ops", Batch: "b-2"},
		store.Event{At: at, Kind: store.EventFrozen, Actor: "ops", Member: "m-3"},
		store.Event{At: at, Kind: store.EventThawed, Actor: "ops", Batch: "b-2"},
		store.Event{At: at, Kind: store.EventRevoked, Count: 5, Actor: "ops"},
	)
	must(t, st.Append(ctx, evs...))
	want := func(name string, n int64, kvs ...attribute.KeyValue) {
		t.Helper()
		if got := r.sum(t, name, kvs...); got != n {
			t.Errorf("%s %v = %d, want %d", name, kvs, got, n)
		}
	}
	for _, reason := range allReasons(t) {
		n := int64(1)
		if reason == store.ReasonMismatch {
			n = 2
		}
		want(otelstore.MetricRefusals, n, kv(otelstore.KeyReason, string(reason)))
	}
	want(otelstore.MetricRefusals, 1, kv(otelstore.KeyReason, "other"))
	want(otelstore.MetricBlocked, 1, kv(otelstore.KeyReason, "foreign link"))
	want(otelstore.MetricBlocked, 1, kv(otelstore.KeyReason, "other"))
	want(otelstore.MetricTrips, 1)
	want(otelstore.MetricPlaced, 1, kv(otelstore.KeyBy, "breaker"), kv(otelstore.KeyScope, "batch"))
	want(otelstore.MetricPlaced, 1, kv(otelstore.KeyBy, "guard"), kv(otelstore.KeyScope, "batch"))
	for _, scope := range []string{"global", "batch", "member"} {
		want(otelstore.MetricPlaced, 1, kv(otelstore.KeyBy, "operator"), kv(otelstore.KeyScope, scope))
	}
	want(otelstore.MetricPlaced, 5)
	// The admin's revocation entry is not counted again: Revoke counted it.
	want(otelstore.MetricRevoked, 1, kv(otelstore.KeyCause, "filter"))
}

// vocabulary is every value each attribute may take: fixed words, so that
// no member, batch, token or typed text can reach a metric.
func vocabulary(t *testing.T) map[attribute.Key]map[string]bool {
	words := func(ws ...string) map[string]bool {
		m := map[string]bool{}
		for _, w := range ws {
			m[w] = true
		}
		return m
	}
	reasons := words("other", "bad recipient", "other recipient", "unreadable header", "unreadable part", "too large",
		"too many parts", "too deep", "too many links", "too many decodings", "foreign link", "other member",
		"unbound link", "other batch", "duplicate link", "no link", "broken link", "expired link")
	for _, r := range allReasons(t) {
		reasons[string(r)] = true
	}
	return map[attribute.Key]map[string]bool{
		otelstore.KeyKind:     words("single", "batch"),
		otelstore.KeyReason:   reasons,
		otelstore.KeyCause:    words("filter", "failures"),
		otelstore.KeyScope:    words("global", "batch", "member", "other"),
		otelstore.KeyMarkKind: words("time", "sequence"),
		otelstore.KeyBy:       words("operator", "breaker", "guard"),
		otelstore.KeyOperation: words("insert", "get", "peek", "consume", "fail", "revoke", "watermark", "watermark_now",
			"marks", "records", "count", "purge", "freeze", "thaw", "holds", "append", "events", "ping", "tally",
			"batches", "hit"),
		otelstore.KeyErrorType: words("unavailable", "invalid", "duplicate", "unsupported", "no_store", "other"),
	}
}

// checkBounded fails if any recorded attribute is outside the vocabulary.
func checkBounded(t *testing.T, r *reader) {
	t.Helper()
	vocab := vocabulary(t)
	for k, vs := range r.values(t) {
		for v := range vs {
			if !vocab[k][v] {
				t.Errorf("attribute %s=%q is not one of its fixed values", k, v)
			}
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
