package otelstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/oncelink/oncelink/otelstore"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/storetest"
	"github.com/oncelink/oncelink/token"
)

// A meter provider whose every measurement panics.
type panicProvider struct{ noop.MeterProvider }

func (panicProvider) Meter(string, ...metric.MeterOption) metric.Meter { return panicMeter{} }

type panicMeter struct{ noop.Meter }

func (panicMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return panicCounter{}, nil
}

func (panicMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return panicHistogram{}, nil
}

type panicCounter struct{ noop.Int64Counter }

func (panicCounter) Add(context.Context, int64, ...metric.AddOption) { panic("counter broke") }

type panicHistogram struct{ noop.Float64Histogram }

func (panicHistogram) Record(context.Context, float64, ...metric.RecordOption) {
	panic("histogram broke")
}

// A meter provider that cannot make instruments.
type failingProvider struct{ noop.MeterProvider }

func (failingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return failingMeter{} }

type failingMeter struct{ noop.Meter }

func (failingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return noop.Int64Counter{}, errors.New("no counters today")
}

// handled collects what reaches OpenTelemetry's error handler.
type handled struct {
	mu   sync.Mutex
	errs []error
}

func (h *handled) Handle(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err)
}

// TestRecordingPanics: a meter provider that panics on every measurement
// changes no answer of the store: a consumption is still accepted once, a
// refusal is still that refusal, and the panic goes to OpenTelemetry's
// error handler.
func TestRecordingPanics(t *testing.T) {
	h := &handled{}
	otel.SetErrorHandler(h)
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })
	st, err := otelstore.New(memstore.New(), otelstore.WithMeterProvider(panicProvider{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := store.Micro(time.Now())
	l := storetest.NewLink(t, "m-1")
	must(t, st.Insert(ctx, []store.Record{l.Record}))
	mis := l.Request(at)
	mis.Confirmation = store.Mismatched
	if _, err := st.Consume(ctx, mis); !errors.Is(err, store.ErrMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	rec, err := st.Consume(ctx, l.Request(at))
	if err != nil || rec.Status != store.StatusConsumed {
		t.Fatalf("consume: %v %v", rec.Status, err)
	}
	if _, err := st.Consume(ctx, l.Request(at)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second consume: %v", err)
	}
	forged := l.Request(at)
	forged.SecretHash[0] ^= 1
	if _, err := st.Consume(ctx, forged); !errors.Is(err, store.ErrSecret) {
		t.Fatalf("wrong secret: %v", err)
	}
	must(t, st.Append(ctx, store.Event{At: at, Kind: store.EventRefused, Reason: string(store.ReasonUsed)}))
	if _, err := st.(store.Counters).Hit(ctx, "k", time.Minute, at); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) < 6 {
		t.Fatalf("%d panics reported: %v", len(h.errs), h.errs)
	}
	for _, err := range h.errs {
		if !strings.Contains(err.Error(), "otelstore: recording panicked: ") {
			t.Errorf("reported: %v", err)
		}
	}
}

// A store whose Consume panics.
type panicStore struct{ *memstore.Store }

func (panicStore) Consume(context.Context, store.ConsumeRequest) (store.Record, error) {
	panic("store broke")
}

// TestStorePanics: a panic of the store is not recovered by the decorator
// (where it could become a nil error, an acceptance): it reaches the
// caller, as it would without the decorator.
func TestStorePanics(t *testing.T) {
	mp, _ := newReader(t)
	st, err := otelstore.New(panicStore{memstore.New()}, otelstore.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != "store broke" {
			t.Fatalf("recovered %v", r)
		}
	}()
	st.Consume(context.Background(), storetest.NewLink(t, "m-1").Request(time.Now()))
	t.Fatal("Consume returned")
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		st      store.Store
		opts    []otelstore.Option
		wantErr error
	}{
		{"nil store", nil, nil, token.ErrConfig},
		{"nil option", memstore.New(), []otelstore.Option{nil}, token.ErrConfig},
		{"nil provider", memstore.New(), []otelstore.Option{otelstore.WithMeterProvider(nil)}, token.ErrConfig},
		{"instruments refused", memstore.New(), []otelstore.Option{otelstore.WithMeterProvider(failingProvider{})}, token.ErrConfig},
		{"global provider", memstore.New(), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := otelstore.New(tc.st, tc.opts...)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (st != nil) {
				t.Fatalf("New: %v, %v; want %v", st, err, tc.wantErr)
			}
		})
	}
}
