package verify

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/token"
)

// Defaults of the options.
const (
	defaultMaxFailures  = 5               // failed confirmations that revoke a link
	defaultTimeout      = 5 * time.Second // a verification without a deadline of its own
	defaultLedgerRate   = 20              // refusals of unauthenticated input recorded a second
	defaultMemberLimit  = 20              // confirmation attempts on one member's links
	defaultMemberWindow = time.Hour       // within this window
)

// Option configures a [Verifier].
type Option func(*config) error

type config struct {
	logger      *slog.Logger
	maxFailures int
	timeout     time.Duration
	state       token.StateFunc
	policies    map[string]Policy
	fallback    Policy
	ledgerRate  int
	breaker     *Breaker
	memberLimit int
	memberWin   time.Duration
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		maxFailures: defaultMaxFailures,
		timeout:     defaultTimeout,
		policies:    map[string]Policy{},
		fallback:    defaultPolicy,
		ledgerRate:  defaultLedgerRate,
		memberLimit: defaultMemberLimit,
		memberWin:   defaultMemberWindow,
	}
	b := Breaker{}.withDefaults()
	c.breaker = &b
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrConfig)
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// WithLogger sets the logger. It receives token ids, members, batches,
// purposes and reasons, never a token or secret. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithMaxFailures sets how many failed identity confirmations revoke a link
// (1 to 100). The default is 5.
func WithMaxFailures(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 100 {
			return fmt.Errorf("%w: max failures %d outside 1 to 100", ErrConfig, n)
		}
		c.maxFailures = n
		return nil
	}
}

// WithTimeout bounds one verification when the caller's context has no
// deadline (100ms to 1 minute): a store that does not answer in time is a
// refusal. The default is 5 seconds.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 100*time.Millisecond || d > time.Minute {
			return fmt.Errorf("%w: timeout %v outside 100ms to 1m", ErrConfig, d)
		}
		c.timeout = d
		return nil
	}
}

// WithStateFunc checks each link against the member's current state: a link
// minted under another state is refused ([ErrStale]). Give the issuer the
// same function ([token.WithStateFunc]).
func WithStateFunc(f token.StateFunc) Option {
	return func(c *config) error {
		if f == nil {
			return fmt.Errorf("%w: nil state function", ErrConfig)
		}
		c.state = f
		return nil
	}
}

// WithPolicy sets the policy for links of one purpose. Purposes without a
// policy accept any kind of identity ([ConfirmAny]).
func WithPolicy(purpose string, p Policy) Option {
	return func(c *config) error {
		if !wire.ValidPurpose(purpose) {
			return fmt.Errorf("%w: purpose %q", ErrConfig, purpose)
		}
		if err := p.validate(); err != nil {
			return err
		}
		c.policies[purpose] = p
		return nil
	}
}

// WithMemberLimit caps the confirmation attempts on the links of one member
// within a window, across every link and every instance sharing the store
// (NIST SP 800-63B 5.2.2: throttle per account): limit 1 to 10000, window 1
// minute to 7 days. Every presentation that compares an identity with a
// link counts, whether it matches or not, so that counting costs a right
// and a wrong guess the same; past the limit, every presentation of the
// member's links that compares an identity is refused with [ErrThrottled]
// until the window moves on. The count lives in the store
// ([store.Counters]), each instance counting on its own clock. The default
// is 20 attempts within an hour.
func WithMemberLimit(limit int, window time.Duration) Option {
	return func(c *config) error {
		if limit < 1 || limit > 10000 || window < time.Minute || window > 7*24*time.Hour {
			return fmt.Errorf("%w: member limit 1 to 10000 within 1 minute to 7 days", ErrConfig)
		}
		c.memberLimit, c.memberWin = limit, window
		return nil
	}
}

// WithLedgerRate sets how many refusals of unauthenticated input (malformed
// or forged links) per second are recorded in the ledger (0 to 10000; 0
// records none); the rest are only counted in the log, so that garbage
// cannot flood the store. Refusals of authentic links are always recorded.
// The default is 20.
func WithLedgerRate(perSecond int) Option {
	return func(c *config) error {
		if perSecond < 0 || perSecond > 10000 {
			return fmt.Errorf("%w: ledger rate %d outside 0 to 10000", ErrConfig, perSecond)
		}
		c.ledgerRate = perSecond
		return nil
	}
}

// Confirm is a set of identity kinds that may confirm a link.
type Confirm uint8

// Identity kinds.
const (
	// ConfirmMember: the member id the site asserts for the request, such
	// as the member who asked for the link in this browser.
	ConfirmMember Confirm = 1 << iota
	// ConfirmEmail: an email address the person typed, compared with the
	// link's recipient binding.
	ConfirmEmail
	// ConfirmNumber: a member number the person typed, compared with the
	// link's member number binding.
	ConfirmNumber

	// ConfirmTyped is what the person can type: email or member number.
	ConfirmTyped = ConfirmEmail | ConfirmNumber
	// ConfirmAny is every kind.
	ConfirmAny = ConfirmMember | ConfirmEmail | ConfirmNumber
)

// Policy says which identity must confirm a link of a purpose before it is
// consumed.
//
// Every presented identity is compared with the link, whatever the policy:
// one that does not match refuses the link ([ErrMismatch]). The policy then
// requires at least one presented identity of an accepted kind that the link
// is bound to and that matches. A link minted in a batch was sent unprompted,
// so for it the member id the site asserts does not count: the person must
// type an email address or member number the link is bound to.
type Policy struct {
	// Accept is the kinds that may confirm a link.
	Accept Confirm
	// UnsafeNoConfirmation lets a link be consumed with no identity at all:
	// whoever holds it becomes the member. Presented identities are still
	// compared. Use it only for links whose loss harms nobody.
	UnsafeNoConfirmation bool
}

// defaultPolicy accepts any kind of identity.
var defaultPolicy = Policy{Accept: ConfirmAny}

func (p Policy) validate() error {
	if p.Accept&^ConfirmAny != 0 {
		return fmt.Errorf("%w: unknown identity kinds in policy", ErrConfig)
	}
	if p.Accept == 0 && !p.UnsafeNoConfirmation {
		return fmt.Errorf("%w: a policy that accepts no identity refuses every link; set UnsafeNoConfirmation to mean no confirmation", ErrConfig)
	}
	return nil
}

// accepts returns the kinds that confirm a link of this batch state.
func (p Policy) accepts(inBatch bool) Confirm {
	if inBatch {
		return p.Accept &^ ConfirmMember
	}
	return p.Accept
}
