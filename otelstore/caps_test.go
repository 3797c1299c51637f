package otelstore_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"iter"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/oncelink/oncelink/otelstore"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// storeDecls parses package store (without its tests).
func storeDecls(t *testing.T) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob("../store/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, p := range paths {
		if filepath.Ext(p) != ".go" || len(p) > 8 && p[len(p)-8:] == "_test.go" {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// allReasons returns every store.Reason constant package store declares.
func allReasons(t *testing.T) []store.Reason {
	t.Helper()
	var out []store.Reason
	for _, f := range storeDecls(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
				return true
			}
			for _, v := range vs.Values {
				s, err := strconv.Unquote(v.(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, store.Reason(s))
			}
			return true
		})
	}
	if len(out) < 10 {
		t.Fatalf("found %d reasons in package store", len(out))
	}
	return out
}

// TestReasonsCounted fails when package store declares a reason the
// decorator would count as "other".
func TestReasonsCounted(t *testing.T) {
	st, r := instrument(t, memstore.New())
	at := store.Micro(time.Now())
	for _, reason := range allReasons(t) {
		must(t, st.Append(context.Background(), store.Event{At: at, Kind: store.EventRefused, Reason: string(reason)}))
		if n := r.sum(t, otelstore.MetricRefusals, otelstore.KeyReason.String(string(reason))); n != 1 {
			t.Errorf("reason %q counted %d times under its name", reason, n)
		}
	}
	if n := r.sum(t, otelstore.MetricRefusals, otelstore.KeyReason.String("other")); n != 0 {
		t.Errorf("%d reasons of package store counted as other", n)
	}
}

// capabilities are the optional interfaces of package store, and a call of
// each.
var capabilities = []struct {
	name string
	has  func(store.Store) bool
	call func(context.Context, store.Store) error
}{
	{"Pinger", func(s store.Store) bool { _, ok := s.(store.Pinger); return ok },
		func(ctx context.Context, s store.Store) error { return s.(store.Pinger).Ping(ctx) }},
	{"Tallier", func(s store.Store) bool { _, ok := s.(store.Tallier); return ok },
		func(ctx context.Context, s store.Store) error {
			_, err := s.(store.Tallier).Tally(ctx, store.Filter{All: true}, time.Now())
			return err
		}},
	{"BatchLister", func(s store.Store) bool { _, ok := s.(store.BatchLister); return ok },
		func(ctx context.Context, s store.Store) error {
			_, err := s.(store.BatchLister).Batches(ctx, store.BatchQuery{})
			return err
		}},
	{"Counters", func(s store.Store) bool { _, ok := s.(store.Counters); return ok },
		func(ctx context.Context, s store.Store) error {
			_, err := s.(store.Counters).Hit(ctx, "test", time.Minute, time.Now())
			return err
		}},
}

var capOps = map[string]string{"Pinger": "ping", "Tallier": "tally", "BatchLister": "batches", "Counters": "hit"}

// TestCapabilities checks that the decorator has exactly the optional
// capabilities of the store it wraps, for every combination, that each
// reaches the store and is timed, and that the list above names every
// optional interface package store declares.
func TestCapabilities(t *testing.T) {
	var declared []string
	for _, f := range storeDecls(t) {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok {
				for _, s := range g.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok {
						if _, ok := ts.Type.(*ast.InterfaceType); ok {
							declared = append(declared, ts.Name.Name)
						}
					}
				}
			}
		}
	}
	var optional []string
	for _, c := range capabilities {
		optional = append(optional, c.name)
	}
	// StreamInserter is offered whatever the store: without it the
	// decorator does what store.InsertSeq does (TestInsertSeq).
	want := append([]string{"Store", "Tokens", "Holds", "Ledger", "StreamInserter"}, optional...)
	slices.Sort(declared)
	slices.Sort(want)
	if !slices.Equal(declared, want) {
		t.Fatalf("package store declares the interfaces %v; the decorator is tested for %v: forward the new capability (caps.go) and list it here", declared, want)
	}

	m := memstore.New()
	for mask := range 16 {
		inner := subset(m, mask)
		st, r := instrument(t, inner)
		for i, c := range capabilities {
			if c.has(inner) != (mask&(1<<i) != 0) {
				t.Fatalf("mask %04b: the test's store has %s: %v", mask, c.name, c.has(inner))
			}
			if c.has(st) != c.has(inner) {
				t.Errorf("mask %04b: the wrapped store has %s: %v, the store it wraps: %v", mask, c.name, c.has(st), c.has(inner))
				continue
			}
			if !c.has(st) {
				continue
			}
			if err := c.call(context.Background(), st); err != nil {
				t.Errorf("mask %04b: %s through the decorator: %v", mask, c.name, err)
			}
			if n := r.observations(t, otelstore.MetricDuration, attribute.String(string(otelstore.KeyOperation), capOps[c.name])); n != 1 {
				t.Errorf("mask %04b: %s timed %d times", mask, c.name, n)
			}
		}
	}
}

// subset returns m with only the optional capabilities of mask (bits in
// the order of capabilities).
func subset(m *memstore.Store, mask int) store.Store {
	type (
		S = store.Store
		P = store.Pinger
		T = store.Tallier
		B = store.BatchLister
		C = store.Counters
	)
	if mask&8 != 0 {
		return withCounters(m, mask)
	}
	switch mask {
	case 0:
		return struct{ S }{m}
	case 1:
		return struct {
			S
			P
		}{m, m}
	case 2:
		return struct {
			S
			T
		}{m, m}
	case 3:
		return struct {
			S
			P
			T
		}{m, m, m}
	case 4:
		return struct {
			S
			B
		}{m, m}
	case 5:
		return struct {
			S
			P
			B
		}{m, m, m}
	case 6:
		return struct {
			S
			T
			B
		}{m, m, m}
	case 7:
		return struct {
			S
			P
			T
			B
		}{m, m, m, m}
	}
	return nil
}

// withCounters is subset for a mask with Counters.
func withCounters(m *memstore.Store, mask int) store.Store {
	type (
		S = store.Store
		P = store.Pinger
		T = store.Tallier
		B = store.BatchLister
		C = store.Counters
	)
	switch mask {
	case 8:
		return struct {
			S
			C
		}{m, m}
	case 9:
		return struct {
			S
			P
			C
		}{m, m, m}
	case 10:
		return struct {
			S
			T
			C
		}{m, m, m}
	case 11:
		return struct {
			S
			P
			T
			C
		}{m, m, m, m}
	case 12:
		return struct {
			S
			B
			C
		}{m, m, m}
	case 13:
		return struct {
			S
			P
			B
			C
		}{m, m, m, m}
	case 14:
		return struct {
			S
			T
			B
			C
		}{m, m, m, m}
	}
	return struct {
		S
		P
		T
		B
		C
	}{m, m, m, m, m}
}

// TestInsertSeq: a streamed insert through the decorator is counted as
// minted once it is in, and not at all when it fails, on a store with
// [store.StreamInserter] (SQLite) and one without (memory).
func TestInsertSeq(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			st, r := instrument(t, e.open(t))
			var recs []store.Record
			for range 3 {
				l := storetest.NewLink(t, "m-1")
				l.Batch = "b-1"
				recs = append(recs, l.Record)
			}
			seq := func(stop error) iter.Seq2[store.Record, error] {
				return func(yield func(store.Record, error) bool) {
					for _, rec := range recs {
						if !yield(rec, nil) {
							return
						}
					}
					if stop != nil {
						yield(store.Record{}, stop)
					}
				}
			}
			stop := errors.New("signing failed")
			if err := st.(store.StreamInserter).InsertSeq(context.Background(), seq(stop)); !errors.Is(err, stop) {
				t.Fatalf("InsertSeq with a failing source: %v", err)
			}
			if n := r.sum(t, otelstore.MetricMinted, kv(otelstore.KeyKind, "batch")); n != 0 {
				t.Fatalf("a failed streamed insert counted %d links minted", n)
			}
			must(t, st.(store.StreamInserter).InsertSeq(context.Background(), seq(nil)))
			if n := r.sum(t, otelstore.MetricMinted, kv(otelstore.KeyKind, "batch")); n != 3 {
				t.Fatalf("a streamed insert of 3 counted %d links minted", n)
			}
			if _, err := st.Get(context.Background(), recs[2].ID); err != nil {
				t.Fatalf("the streamed records are not in the store: %v", err)
			}
		})
	}
}
