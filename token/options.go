package token

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults and bounds of the options.
const (
	// DefaultTTL is the lifetime of a link minted one at a time, the link a
	// member asks for, when neither the request nor [WithTTL] sets one: 15
	// minutes. An out-of-band login should complete within minutes (NIST SP
	// 800-63B 5.1.3.2); OWASP ASVS 2.7.2 asks for 10, which a site that
	// follows it sets with WithTTL(10 * time.Minute).
	DefaultTTL = 15 * time.Minute
	// DefaultBatchTTL is the lifetime of a link minted in a batch
	// ([Issuer.MintBatch], [Issuer.MintStream]), a link sent unprompted that
	// its member reads when they read their mail, when neither the request
	// nor [WithBatchTTL] sets one: 24 hours.
	DefaultBatchTTL = 24 * time.Hour
	// DefaultMaxTTL is the longest lifetime a link may have unless
	// [WithMaxTTL] changes it.
	DefaultMaxTTL = 7 * 24 * time.Hour
	// HardMaxTTL is the longest lifetime [WithMaxTTL] allows: there is no
	// link that never expires.
	HardMaxTTL = 30 * 24 * time.Hour
	// MinTTL is the shortest lifetime a link may have.
	MinTTL = time.Minute
	// DefaultLeeway is the clock skew tolerated on "iat".
	DefaultLeeway = 30 * time.Second
	// MaxLeeway bounds [WithLeeway].
	MaxLeeway = 5 * time.Minute
	// DefaultParam is the query parameter that carries the token in a link.
	DefaultParam = "t"
)

// StateFunc returns a member's current state: bytes that change when a link
// minted earlier must stop working, such as a hash of the member's email
// address and password version. oncelink keeps only a SHA-256 hash of it.
type StateFunc func(ctx context.Context, member string) ([]byte, error)

// Option configures an [Issuer] or a [Parser]. Options that do not apply to
// one of them are ignored by it.
type Option func(*config) error

type config struct {
	base     *url.URL
	issuer   string
	ttl      time.Duration
	batchTTL time.Duration
	maxTTL   time.Duration
	leeway   time.Duration
	clock    func() time.Time
	logger   *slog.Logger
	state    StateFunc
	param    string
	maxBatch int
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		maxTTL:   DefaultMaxTTL,
		leeway:   DefaultLeeway,
		clock:    time.Now,
		param:    DefaultParam,
		maxBatch: DefaultMaxBatch,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.issuer == "" && c.base != nil {
		c.issuer = c.base.Scheme + "://" + c.base.Host
	}
	// A default the site did not set follows a lower maximum; one it set
	// must fit under it.
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"default lifetime", &c.ttl, DefaultTTL}, {"default batch lifetime", &c.batchTTL, DefaultBatchTTL}} {
		switch {
		case *d.v == 0:
			*d.v = min(d.def, c.maxTTL)
		case *d.v > c.maxTTL:
			return nil, fmt.Errorf("%w: %s %v exceeds the maximum %v", ErrConfig, d.name, *d.v, c.maxTTL)
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// WithBaseURL sets the URL links point to, such as
// "https://members.example.org/login"; the token is added as a query
// parameter. It is required to mint. Links are built only from it, never
// from a request's Host header. It must be https, except for loopback hosts
// (localhost, 127.0.0.1, ::1) used in development, and must have no
// fragment and no parameter of the token's name.
func WithBaseURL(raw string) Option {
	return func(c *config) error {
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			return fmt.Errorf("%w: base URL must be an absolute URL with a host, without user info or fragment", ErrConfig)
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
		default:
			return fmt.Errorf("%w: base URL must use https (http only for loopback hosts)", ErrConfig)
		}
		c.base = u
		return nil
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithIssuer sets the issuer name ("iss") that tokens carry and that the
// parser requires. It defaults to the base URL's scheme and host; a parser
// without a base URL needs it.
func WithIssuer(name string) Option {
	return func(c *config) error {
		if name == "" || len(name) > 256 || strings.ContainsAny(name, "\x00\r\n") {
			return fmt.Errorf("%w: issuer name must be 1 to 256 bytes", ErrConfig)
		}
		c.issuer = name
		return nil
	}
}

// WithTTL sets the default lifetime of a link minted one at a time
// ([Issuer.Mint]), from [MinTTL] to the maximum lifetime. The default is
// [DefaultTTL], or the maximum lifetime if that is shorter.
func WithTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < MinTTL || d > HardMaxTTL {
			return fmt.Errorf("%w: lifetime %v outside %v to %v", ErrConfig, d, MinTTL, HardMaxTTL)
		}
		c.ttl = d
		return nil
	}
}

// WithBatchTTL sets the default lifetime of a link minted in a batch
// ([Issuer.MintBatch], [Issuer.MintStream]), from [MinTTL] to the maximum
// lifetime. The default is [DefaultBatchTTL], or the maximum lifetime if
// that is shorter.
func WithBatchTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < MinTTL || d > HardMaxTTL {
			return fmt.Errorf("%w: batch lifetime %v outside %v to %v", ErrConfig, d, MinTTL, HardMaxTTL)
		}
		c.batchTTL = d
		return nil
	}
}

// WithMaxTTL sets the longest lifetime a link may be minted with, and that a
// parser accepts, up to [HardMaxTTL]. The default is [DefaultMaxTTL]. The
// default lifetimes follow a lower maximum; lifetimes set with [WithTTL] or
// [WithBatchTTL] must fit under it.
func WithMaxTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < MinTTL || d > HardMaxTTL {
			return fmt.Errorf("%w: maximum lifetime %v outside %v to %v", ErrConfig, d, MinTTL, HardMaxTTL)
		}
		c.maxTTL = d
		return nil
	}
}

// WithLeeway sets how far in the future a token's "iat" may be, to absorb
// clock skew between servers, up to [MaxLeeway]. Expiry gets no leeway. The
// default is [DefaultLeeway].
func WithLeeway(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > MaxLeeway {
			return fmt.Errorf("%w: leeway %v outside 0 to %v", ErrConfig, d, MaxLeeway)
		}
		c.leeway = d
		return nil
	}
}

// WithClock sets the clock, for tests. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrConfig)
		}
		c.clock = now
		return nil
	}
}

// WithLogger sets the logger. It receives token ids, members, batches,
// purposes and reasons, never a token, secret or key. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithStateFunc binds every link to the member's state when it is minted:
// a link is refused once the state changes. The verifier must be given the
// same function.
func WithStateFunc(f StateFunc) Option {
	return func(c *config) error {
		c.state = f
		return nil
	}
}

// WithParam sets the query parameter that carries the token in a link. The
// default is [DefaultParam], "t".
func WithParam(name string) Option {
	return func(c *config) error {
		if name == "" || len(name) > 32 || url.QueryEscape(name) != name {
			return fmt.Errorf("%w: parameter name must be 1 to 32 URL-safe characters", ErrConfig)
		}
		c.param = name
		return nil
	}
}
