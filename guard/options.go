package guard

import (
	"fmt"
	"log/slog"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// An Option configures a [Guard] ([New]).
type Option func(*Guard) error

// WithBatch names the batch the guard's messages carry links of: a link of
// another batch is refused, and a refusal freezes the batch.
func WithBatch(batch string) Option {
	return func(g *Guard) error {
		if batch == "" || !store.ValidText(batch, store.MaxBatchLen) {
			return fmt.Errorf("%w: batch id must be 1 to %d bytes of text", token.ErrConfig, store.MaxBatchLen)
		}
		g.batch = batch
		return nil
	}
}

// WithLogger sets the logger. It receives reasons, batches and token ids,
// never a message's content. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(g *Guard) error {
		g.logger = l
		return nil
	}
}
