package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/oncelink/oncelink/otelstore"
	"github.com/oncelink/oncelink/store"
)

// metrics are the site's OpenTelemetry metrics (package otelstore), read
// by Prometheus at /metrics. The registry is the site's own, not
// Prometheus's global one, so that two sites in one process (the tests)
// count apart.
type metrics struct {
	provider *sdkmetric.MeterProvider
	handler  http.Handler
}

// instrument wraps the store so that every part of the site that uses it
// is counted.
func instrument(st store.Store) (*metrics, store.Store, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	m := &metrics{provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m.handler = mux
	st, err = otelstore.New(st, otelstore.WithMeterProvider(m.provider))
	if err != nil {
		m.close()
		return nil, nil, err
	}
	return m, st, nil
}

func (m *metrics) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.provider.Shutdown(ctx)
}

// MetricsHandler serves GET /metrics: aggregate counts and durations, no
// member, batch, address or token. They are still not for everyone (on a
// quiet site the refusals by reason could answer a guess the login pages
// do not), so the site serves them apart from its pages, on a listener
// of their own (serveMetrics).
func (s *Site) MetricsHandler() http.Handler { return s.metrics.handler }

// serveMetrics serves the site's metrics at addr until ctx ends, and
// returns the address it listens on.
func serveMetrics(ctx context.Context, addr string, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go srv.Serve(l)
	return l.Addr().String(), nil
}
