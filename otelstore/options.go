package otelstore

import (
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/oncelink/oncelink/token"
)

// ErrConfig is the error of a bad option; it is [token.ErrConfig], as every
// constructor's is.
var ErrConfig = token.ErrConfig

// An Option configures [New].
type Option func(*config) error

type config struct {
	mp metric.MeterProvider
}

// WithMeterProvider sets the OpenTelemetry meter provider the instruments
// are created with: the application's SDK provider, with the exporter the
// operators scrape or push to. Without it, New takes the global provider
// ([otel.GetMeterProvider]) when it is called, as OpenTelemetry's own
// instrumentation does; until the application sets one, the global
// provider records nothing.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return fmt.Errorf("%w: nil meter provider", ErrConfig)
		}
		c.mp = mp
		return nil
	}
}

func newConfig(opts []Option) (*config, error) {
	c := &config{}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrConfig)
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	return c, nil
}
