package otelstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// BenchmarkConsume measures Consume through the decorator, recording into
// the OpenTelemetry SDK, beside the bare store (the floor) in the same
// run: go test -run='^$' -bench=. -benchtime=20000x -count=3 ./otelstore
func BenchmarkConsume(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name+"/bare", func(b *testing.B) { storetest.BenchConsume(b, e.open(b), 1) })
		b.Run(e.name+"/otel", func(b *testing.B) {
			st, _ := instrument(b, e.open(b))
			storetest.BenchConsume(b, st, 1)
		})
	}
}

// BenchmarkRefusal measures what a refusal costs the decorator: the
// verifier's ledger entry, counted by reason on its way to the store.
func BenchmarkRefusal(b *testing.B) {
	ev := store.Event{At: store.Micro(time.Now()), Kind: store.EventRefused, Reason: string(store.ReasonMismatch), Member: "m-1"}
	run := func(b *testing.B, st store.Store) {
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			if err := st.Append(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
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
		for b.Loop() {
			if _, err := st.Consume(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, answering{}) })
	b.Run("otel", func(b *testing.B) {
		st, _ := instrument(b, answering{})
		run(b, st)
	})
}
