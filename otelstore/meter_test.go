package otelstore_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// reader reads what an SDK meter provider recorded, as an exporter would.
type reader struct {
	r *sdkmetric.ManualReader
}

func newReader(t testing.TB) (*sdkmetric.MeterProvider, *reader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	return mp, &reader{r: r}
}

func (r *reader) collect(t testing.TB) []metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var ms []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		ms = append(ms, sm.Metrics...)
	}
	return ms
}

// matches reports whether set holds every one of kvs.
func matches(set attribute.Set, kvs []attribute.KeyValue) bool {
	for _, kv := range kvs {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// sum returns the total of counter name over the data points whose
// attributes hold kvs.
func (r *reader) sum(t testing.TB, name string, kvs ...attribute.KeyValue) int64 {
	t.Helper()
	var n int64
	for _, m := range r.collect(t) {
		if m.Name != name {
			continue
		}
		s, ok := m.Data.(metricdata.Sum[int64])
		if !ok || !s.IsMonotonic {
			t.Fatalf("%s is a %T, not a counter", name, m.Data)
		}
		for _, dp := range s.DataPoints {
			if matches(dp.Attributes, kvs) {
				n += dp.Value
			}
		}
	}
	return n
}

// observations returns the number of observations of histogram name whose
// attributes hold kvs.
func (r *reader) observations(t testing.TB, name string, kvs ...attribute.KeyValue) uint64 {
	t.Helper()
	var n uint64
	for _, m := range r.collect(t) {
		if m.Name != name {
			continue
		}
		h, ok := m.Data.(metricdata.Histogram[float64])
		if !ok {
			t.Fatalf("%s is a %T, not a histogram", name, m.Data)
		}
		for _, dp := range h.DataPoints {
			if matches(dp.Attributes, kvs) {
				n += dp.Count
			}
		}
	}
	return n
}

// values returns every attribute value recorded, by key.
func (r *reader) values(t testing.TB) map[attribute.Key]map[string]bool {
	t.Helper()
	out := map[attribute.Key]map[string]bool{}
	note := func(set attribute.Set) {
		for _, kv := range set.ToSlice() {
			if out[kv.Key] == nil {
				out[kv.Key] = map[string]bool{}
			}
			out[kv.Key][kv.Value.Emit()] = true
		}
	}
	for _, m := range r.collect(t) {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, dp := range d.DataPoints {
				note(dp.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, dp := range d.DataPoints {
				note(dp.Attributes)
			}
		default:
			t.Fatalf("%s: unexpected %T", m.Name, m.Data)
		}
	}
	return out
}
