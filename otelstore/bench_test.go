package otelstore_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// loop runs op b.N times on one locked thread and reports, besides the
// time, the thread's CPU time per call (cpu-ns/op): on a machine shared
// with other work the time includes waiting for a core, the CPU time
// does not.
func loop(b *testing.B, op func(i int) error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	start, ok := threadCPU()
	for i := range b.N {
		if err := op(i); err != nil {
			b.Fatal(err)
		}
	}
	end, _ := threadCPU()
	b.StopTimer()
	if ok {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkConsume measures Consume of distinct links through the
// decorator, recording into the OpenTelemetry SDK, beside the bare store
// (the floor) in the same run:
//
//	go test -run='^$' -bench=. -benchtime=20000x -count=5 ./otelstore
func BenchmarkConsume(b *testing.B) {
	run := func(b *testing.B, st store.Store) {
		recs, reqs := storetest.Tokens(b, b.N, "bench")
		ctx := context.Background()
		for i := 0; i < len(recs); i += 10000 {
			if err := st.Insert(ctx, recs[i:min(i+10000, len(recs))]); err != nil {
				b.Fatal(err)
			}
		}
		reqs = storetest.Shuffled(reqs)
		loop(b, func(i int) error {
			_, err := st.Consume(ctx, reqs[i])
			return err
		})
	}
	for _, e := range engines {
		b.Run(e.name+"/bare", func(b *testing.B) { run(b, e.open(b)) })
		b.Run(e.name+"/otel", func(b *testing.B) {
			st, _ := instrument(b, e.open(b))
			run(b, st)
		})
	}
}

// BenchmarkRefusal measures what a refusal costs the decorator: the
// verifier's ledger entry, counted by reason on its way to the store.
func BenchmarkRefusal(b *testing.B) {
	ev := store.Event{At: store.Micro(time.Now()), Kind: store.EventRefused, Reason: string(store.ReasonMismatch), Member: "m-1"}
	run := func(b *testing.B, st store.Store) {
		ctx := context.Background()
		loop(b, func(int) error { return st.Append(ctx, ev) })
	}
	for _, e := range engines[:1] {
		b.Run(e.name+"/bare", func(b *testing.B) { run(b, e.open(b)) })
		b.Run(e.name+"/otel", func(b *testing.B) {
			st, _ := instrument(b, e.open(b))
			run(b, st)
		})
	}
}

// answering is a store whose Consume answers at once, so that what the
// decorator adds to a call can be measured apart from any engine.
type answering struct{ store.Store }

func (answering) Consume(context.Context, store.ConsumeRequest) (store.Record, error) {
	return store.Record{Status: store.StatusConsumed}, nil
}

// BenchmarkOverhead measures what the decorator adds to one Consume:
// the bare call (the floor), and the call recorded into the SDK.
func BenchmarkOverhead(b *testing.B) {
	req := store.ConsumeRequest{At: time.Now()}
	run := func(b *testing.B, st store.Store) {
		ctx := context.Background()
		loop(b, func(int) error {
			_, err := st.Consume(ctx, req)
			return err
		})
	}
	b.Run("bare", func(b *testing.B) { run(b, answering{}) })
	b.Run("otel", func(b *testing.B) {
		st, _ := instrument(b, answering{})
		run(b, st)
	})
}
