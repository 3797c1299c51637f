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

// Lifetimes of a link.
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
	// [WithMaxTTL] changes it: 7 days.
	DefaultMaxTTL = 7 * 24 * time.Hour
)

// Bounds of the options.
const (
	hardMaxTTL    = 30 * 24 * time.Hour // no link never expires
	minTTL        = time.Minute
	defaultLeeway = 30 * time.Second
	maxLeeway     = 5 * time.Minute
	defaultParam  = "t"
)

// StateFunc returns a member's current state: bytes that change when a link
// minted earlier must stop working, such as a hash of the member's email
// address and password version. oncelink keeps only a SHA-256 hash of it.
type StateFunc func(ctx context.Context, member string) ([]byte, error)

// An IssuerOption configures an [Issuer] ([NewIssuer]). A ParserOption
// given where an IssuerOption is wanted does not compile.
type IssuerOption interface {
	applyIssuer(*issuerConfig) error
}

// A ParserOption configures a [Parser] ([NewParser], [Issuer.Parser]). An
// IssuerOption given where a ParserOption is wanted does not compile.
type ParserOption interface {
	applyParser(*parserConfig) error
}

// An Option configures an [Issuer] and a [Parser] alike: what the two must
// agree on (the issuer name, the link's parameter, the maximum lifetime),
// the clock and the logger. It is both an [IssuerOption] and a
// [ParserOption].
type Option interface {
	IssuerOption
	ParserOption
}

// common is what an issuer and a parser must agree on.
type common struct {
	issuer string
	param  string
	maxTTL time.Duration
	clock  func() time.Time
	logger *slog.Logger
}

func defaultCommon() common {
	return common{param: defaultParam, maxTTL: DefaultMaxTTL, clock: time.Now}
}

type issuerConfig struct {
	common
	base     *url.URL
	ttl      time.Duration
	batchTTL time.Duration
	state    StateFunc
	maxBatch int
}

type parserConfig struct {
	common
	leeway time.Duration
}

type issuerOption func(*issuerConfig) error

func (o issuerOption) applyIssuer(c *issuerConfig) error { return o(c) }

type parserOption func(*parserConfig) error

func (o parserOption) applyParser(c *parserConfig) error { return o(c) }

type commonOption func(*common) error

func (o commonOption) applyIssuer(c *issuerConfig) error { return o(&c.common) }
func (o commonOption) applyParser(c *parserConfig) error { return o(&c.common) }

func newIssuerConfig(opts []IssuerOption) (*issuerConfig, error) {
	c := &issuerConfig{common: defaultCommon(), maxBatch: maxBatch}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrConfig)
		}
		if err := o.applyIssuer(c); err != nil {
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
	c.common.finish()
	return c, nil
}

func newParserConfig(opts []ParserOption) (*parserConfig, error) {
	c := &parserConfig{common: defaultCommon(), leeway: defaultLeeway}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrConfig)
		}
		if err := o.applyParser(c); err != nil {
			return nil, err
		}
	}
	c.common.finish()
	return c, nil
}

func (c *common) finish() {
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
}

// WithBaseURL sets the URL links point to, such as
// "https://members.example.org/login"; the token is added as a query
// parameter. An issuer needs it. Links are built only from it, never from a
// request's Host header. It must be https, except for loopback hosts
// (localhost, 127.0.0.1, ::1) used in development, and must have no
// fragment and no parameter of the token's name.
func WithBaseURL(raw string) IssuerOption {
	return issuerOption(func(c *issuerConfig) error {
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
	})
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithIssuer sets the issuer name ("iss") that tokens carry and that the
// parser requires. An issuer's defaults to its base URL's scheme and host;
// a parser built with [NewParser] needs it.
func WithIssuer(name string) Option {
	return commonOption(func(c *common) error {
		if name == "" || len(name) > 256 || strings.ContainsAny(name, "\x00\r\n") {
			return fmt.Errorf("%w: issuer name must be 1 to 256 bytes", ErrConfig)
		}
		c.issuer = name
		return nil
	})
}

// WithTTL sets the default lifetime of a link minted one at a time
// ([Issuer.Mint]), from a minute to the maximum lifetime. The default is
// [DefaultTTL], or the maximum lifetime if that is shorter.
func WithTTL(d time.Duration) IssuerOption {
	return issuerOption(func(c *issuerConfig) error {
		if d < minTTL || d > hardMaxTTL {
			return fmt.Errorf("%w: lifetime %v outside %v to %v", ErrConfig, d, minTTL, hardMaxTTL)
		}
		c.ttl = d
		return nil
	})
}

// WithBatchTTL sets the default lifetime of a link minted in a batch
// ([Issuer.MintBatch], [Issuer.MintStream]), from a minute to the maximum
// lifetime. The default is [DefaultBatchTTL], or the maximum lifetime if
// that is shorter.
func WithBatchTTL(d time.Duration) IssuerOption {
	return issuerOption(func(c *issuerConfig) error {
		if d < minTTL || d > hardMaxTTL {
			return fmt.Errorf("%w: batch lifetime %v outside %v to %v", ErrConfig, d, minTTL, hardMaxTTL)
		}
		c.batchTTL = d
		return nil
	})
}

// WithMaxTTL sets the longest lifetime a link may be minted with, and that
// a parser accepts, from a minute to 30 days. The default is
// [DefaultMaxTTL]. An issuer's default lifetimes follow a lower maximum;
// lifetimes set with [WithTTL] or [WithBatchTTL] must fit under it.
func WithMaxTTL(d time.Duration) Option {
	return commonOption(func(c *common) error {
		if d < minTTL || d > hardMaxTTL {
			return fmt.Errorf("%w: maximum lifetime %v outside %v to %v", ErrConfig, d, minTTL, hardMaxTTL)
		}
		c.maxTTL = d
		return nil
	})
}

// WithLeeway sets how far in the future a token's "iat" may be, to absorb
// clock skew between servers, from 0 to 5 minutes. Expiry gets no leeway.
// The default is 30 seconds.
func WithLeeway(d time.Duration) ParserOption {
	return parserOption(func(c *parserConfig) error {
		if d < 0 || d > maxLeeway {
			return fmt.Errorf("%w: leeway %v outside 0 to %v", ErrConfig, d, maxLeeway)
		}
		c.leeway = d
		return nil
	})
}

// WithClock sets the clock, for tests. The default is time.Now. An
// issuer's parser ([Issuer.Parser]) reads the issuer's clock, and so do the
// verifier, the send guard and the flows built on that parser.
func WithClock(now func() time.Time) Option {
	return commonOption(func(c *common) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrConfig)
		}
		c.clock = now
		return nil
	})
}

// WithLogger sets the logger. It receives token ids, members, batches,
// purposes and reasons, never a token, secret or key. The default discards.
func WithLogger(l *slog.Logger) Option {
	return commonOption(func(c *common) error {
		c.logger = l
		return nil
	})
}

// WithStateFunc binds every link to the member's state when it is minted:
// a link is refused once the state changes. The verifier must be given the
// same function (verify.WithStateFunc).
func WithStateFunc(f StateFunc) IssuerOption {
	return issuerOption(func(c *issuerConfig) error {
		if f == nil {
			return fmt.Errorf("%w: nil state function", ErrConfig)
		}
		c.state = f
		return nil
	})
}

// WithParam sets the query parameter that carries the token in a link, 1 to
// 32 URL-safe characters. The default is "t".
func WithParam(name string) Option {
	return commonOption(func(c *common) error {
		if name == "" || len(name) > 32 || url.QueryEscape(name) != name {
			return fmt.Errorf("%w: parameter name must be 1 to 32 URL-safe characters", ErrConfig)
		}
		c.param = name
		return nil
	})
}

// withCommon gives a parser what its issuer and it must agree on.
func withCommon(cm common) ParserOption {
	return parserOption(func(c *parserConfig) error {
		c.common = cm
		return nil
	})
}
