package otelstore_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/oncelink/oncelink/otelstore"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// The store is wrapped once and given to the issuer and the verifier; a
// wrong address, then the right one, are counted. A site reads the
// provider through an exporter (Prometheus, OTLP); this example reads it
// directly.
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	st, err := otelstore.New(memstore.New(), otelstore.WithMeterProvider(provider))
	if err != nil {
		log.Fatal(err)
	}
	key, err := token.GenerateHMACKey("2026-11")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := token.NewKeyring(key)
	if err != nil {
		log.Fatal(err)
	}
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		log.Fatal(err)
	}
	parser, err := iss.Parser()
	if err != nil {
		log.Fatal(err)
	}
	v, err := verify.New(parser, st)
	if err != nil {
		log.Fatal(err)
	}

	link, err := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org"})
	if err != nil {
		log.Fatal(err)
	}
	for _, typed := range []string{"bo@example.org", "ann@example.org"} {
		_, err := v.Consume(ctx, verify.Request{Link: link.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: typed}})
		fmt.Printf("%s: %v\n", typed, err == nil)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					lines = append(lines, fmt.Sprintf("%s{%s} %d", m.Name, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Value))
				}
			}
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// bo@example.org: false
	// ann@example.org: true
	// oncelink.links.consumed{} 1
	// oncelink.links.minted{oncelink.link.kind=single} 1
	// oncelink.refusals{oncelink.reason=mismatch} 1
}
