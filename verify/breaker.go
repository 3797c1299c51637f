package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Defaults of the circuit breaker, which is on unless [WithoutBreaker].
const (
	DefaultBreakerThreshold = 3
	DefaultBreakerWindow    = 15 * time.Minute
)

// Trip is the evidence the circuit breaker hands the site when it freezes a
// batch.
type Trip struct {
	// Batch is the batch that was frozen.
	Batch string
	// At is when it was frozen.
	At time.Time
	// Mismatches is how many identity mismatches the batch had within
	// Window.
	Mismatches int
	Window     time.Duration
	// Evidence is the recorded mismatches: token ids, members, presented
	// identities, addresses, user agents.
	Evidence []store.Event
}

type breakerConfig struct {
	threshold int
	window    time.Duration
	onTrip    func(context.Context, Trip)
	off       bool
}

func defaultBreaker() *breakerConfig {
	return &breakerConfig{threshold: DefaultBreakerThreshold, window: DefaultBreakerWindow}
}

// WithBreaker configures the circuit breaker: when links of one batch meet
// threshold identity mismatches within window, the batch is frozen (every
// link of it is refused with [ErrFrozen] until an operator thaws it) and
// onTrip, if not nil, is called with the evidence. Mismatches are counted
// in the shared ledger, so every instance of the site sees the same count.
// onTrip may be called by more than one instance for one trip; a panic in it
// is recovered and logged. The default is [DefaultBreakerThreshold]
// mismatches within [DefaultBreakerWindow], with no callback.
func WithBreaker(threshold int, window time.Duration, onTrip func(context.Context, Trip)) Option {
	return func(c *config) error {
		if threshold < 1 || threshold > 10000 || window < time.Second || window > 7*24*time.Hour {
			return fmt.Errorf("%w: breaker threshold 1 to 10000 and window 1s to 7 days", ErrConfig)
		}
		c.breaker = &breakerConfig{threshold: threshold, window: window, onTrip: onTrip}
		return nil
	}
}

// WithoutBreaker turns the circuit breaker off: mismatches are still counted
// per link and recorded, but no batch is frozen automatically.
func WithoutBreaker() Option {
	return func(c *config) error {
		c.breaker = &breakerConfig{off: true}
		return nil
	}
}

// observeMismatch runs after a mismatch of a link of a batch was recorded.
func (v *Verifier) observeMismatch(ctx context.Context, now time.Time, c token.Claims) {
	b := v.cfg.breaker
	if b.off {
		return
	}
	evs, _, err := v.st.Events(ctx, store.EventQuery{
		Batch: c.Batch, Kinds: []store.EventKind{store.EventRefused},
		Since: now.Add(-b.window), Until: now.Add(time.Microsecond), Limit: store.MaxPage,
	})
	if err != nil {
		v.cfg.logger.ErrorContext(ctx, "oncelink: breaker could not count mismatches", "batch", c.Batch, "error", err)
		return
	}
	var evidence []store.Event
	for _, e := range evs {
		if e.Reason == "mismatch" {
			evidence = append(evidence, e)
		}
	}
	if len(evidence) < b.threshold {
		return
	}
	holds, err := v.st.Holds(ctx)
	if err == nil {
		for _, h := range holds {
			if h.Scope == store.ScopeBatch && h.Key == c.Batch {
				return // already frozen: by this breaker on another instance, or by an operator
			}
		}
	}
	reason := fmt.Sprintf("breaker: %d identity mismatches within %v", len(evidence), b.window)
	if err := v.st.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: c.Batch, Since: now, Reason: reason}); err != nil {
		v.cfg.logger.ErrorContext(ctx, "oncelink: breaker could not freeze the batch", "batch", c.Batch, "error", err)
		return
	}
	v.cfg.logger.WarnContext(ctx, "oncelink: breaker froze a batch", "batch", c.Batch, "mismatches", len(evidence), "window", b.window)
	if err := v.st.Append(ctx, store.Event{At: now, Kind: store.EventBreaker, Batch: c.Batch, Count: int64(len(evidence)), Actor: "breaker", Detail: reason}); err != nil {
		v.cfg.logger.ErrorContext(ctx, "oncelink: breaker trip not recorded", "batch", c.Batch, "error", err)
	}
	if b.onTrip != nil {
		func() {
			defer func() {
				if r := recover(); r != nil {
					v.cfg.logger.ErrorContext(ctx, "oncelink: breaker callback panicked", "batch", c.Batch, "panic", fmt.Sprint(r))
				}
			}()
			b.onTrip(ctx, Trip{Batch: c.Batch, At: now, Mismatches: len(evidence), Window: b.window, Evidence: evidence})
		}()
	}
}
