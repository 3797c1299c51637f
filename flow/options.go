package flow

import (
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/token"
)

// A LoginOption configures the login flow ([NewLogin]). A RequestOption
// given where a LoginOption is wanted does not compile.
type LoginOption interface {
	applyLogin(*login) error
}

// A RequestOption configures the request flow ([NewRequest]). A
// LoginOption given where a RequestOption is wanted does not compile.
type RequestOption interface {
	applyRequest(*Requests) error
}

// An Option configures both flows: the purpose of their links, where a
// client's address comes from, their pages and their logger. It is both a
// [LoginOption] and a [RequestOption].
type Option interface {
	LoginOption
	RequestOption
}

// common is what both flows are configured with.
type common struct {
	purpose  string
	clientIP func(r *http.Request) string
	logger   *slog.Logger
	pages    *template.Template
}

func (c *common) finish() {
	if c.purpose == "" {
		c.purpose = token.PurposeLogin
	}
	if c.clientIP == nil {
		c.clientIP = remoteIP
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
}

type loginOption func(*login) error

func (o loginOption) applyLogin(l *login) error { return o(l) }

type requestOption func(*Requests) error

func (o requestOption) applyRequest(r *Requests) error { return o(r) }

type commonOption func(*common) error

func (o commonOption) applyLogin(l *login) error      { return o(&l.common) }
func (o commonOption) applyRequest(r *Requests) error { return o(&r.common) }

// WithPurpose sets the purpose of the links a flow accepts or mints. The
// default is [token.PurposeLogin].
func WithPurpose(purpose string) Option {
	return commonOption(func(c *common) error {
		if !wire.ValidPurpose(purpose) {
			return fmt.Errorf("%w: purpose %q", token.ErrConfig, purpose)
		}
		c.purpose = purpose
		return nil
	})
}

// WithClientIP sets how a flow finds the client's address, which the
// login flow records and the request flow's limits count. The default is
// the connection's address; behind a proxy, take it from a header the
// proxy sets and the site trusts.
func WithClientIP(f func(r *http.Request) string) Option {
	return commonOption(func(c *common) error {
		if f == nil {
			return fmt.Errorf("%w: nil client address function", token.ErrConfig)
		}
		c.clientIP = f
		return nil
	})
}

// WithLogger sets the logger. It receives token ids, members, reasons and
// fingerprints of what people typed, never a token or a typed address. The
// default discards.
func WithLogger(l *slog.Logger) Option {
	return commonOption(func(c *common) error {
		c.logger = l
		return nil
	})
}

// Names of the pages [WithPages] replaces.
const (
	pageConfirm   = "confirm.html"   // the login flow's confirmation form, [PageData]
	pageRefused   = "refused.html"   // the login flow's refusal, [PageData]
	pageRequest   = "request.html"   // the request flow's form, [RequestPageData]
	pageRequested = "requested.html" // the request flow's answer, [RequestPageData]
)

// WithPages replaces the flows' plain, accessible default pages with the
// templates of t that carry their names: "confirm.html" (the login flow's
// confirmation form) and "refused.html" (its refusal), which receive a
// [PageData]; "request.html" (the request flow's form) and
// "requested.html" (its answer), which receive a [RequestPageData]. A page
// t does not define keeps its default; a t that defines none of them is
// refused.
func WithPages(t *template.Template) Option {
	return commonOption(func(c *common) error {
		if t == nil {
			return fmt.Errorf("%w: nil templates", token.ErrConfig)
		}
		for _, name := range []string{pageConfirm, pageRefused, pageRequest, pageRequested} {
			if t.Lookup(name) != nil {
				c.pages = t
				return nil
			}
		}
		return fmt.Errorf("%w: the templates define none of %s, %s, %s, %s", token.ErrConfig, pageConfirm, pageRefused, pageRequest, pageRequested)
	})
}

// pageOr returns the template named name in the site's pages, else def.
func (c *common) pageOr(name string, def *template.Template) *template.Template {
	if c.pages != nil {
		if t := c.pages.Lookup(name); t != nil {
			return t
		}
	}
	return def
}

// WithLanding sets where the login flow redirects after a login: a path on
// the site. The default is "/".
func WithLanding(path string) LoginOption {
	return loginOption(func(l *login) error {
		if !sitePath(path) {
			return fmt.Errorf("%w: the landing page must be a path on the site", token.ErrConfig)
		}
		l.landing = path
		return nil
	})
}

// WithRequestPath sets the path where a person asks for a new link, such
// as the request flow's ([NewRequest]): the page for a link that can no
// longer be used links to it.
func WithRequestPath(path string) LoginOption {
	return loginOption(func(l *login) error {
		if !sitePath(path) {
			return fmt.Errorf("%w: the request page must be a path on the site", token.ErrConfig)
		}
		l.requestPath = path
		return nil
	})
}

// WithAsserted sets how the login flow asks the site for the member it
// asserts for a request (the member who asked for the link in this
// browser, or who is logged in), or "". The flow asks only on the POST of
// its own form, and only when the browser says the request came from the
// site itself (Sec-Fetch-Site: same-origin, or without it an Origin naming
// the request's host): a request another site caused never speaks, and is
// never recorded, in the member's name. A panic in f is a refusal.
func WithAsserted(f func(r *http.Request) string) LoginOption {
	return loginOption(func(l *login) error {
		if f == nil {
			return fmt.Errorf("%w: nil asserted-member function", token.ErrConfig)
		}
		l.asserted = f
		return nil
	})
}

// WithLoggedIn sets how the login flow learns the member whose session a
// request carries, or "". It only chooses words: one's own link, no longer
// usable, opened while logged in as its member, says [MessageLoggedIn] and
// links to the landing page instead of asking for a new link. It is
// compared with the member of an authentic link only, never recorded, and
// never confirms anything; a panic in f counts as "".
func WithLoggedIn(f func(r *http.Request) string) LoginOption {
	return loginOption(func(l *login) error {
		if f == nil {
			return fmt.Errorf("%w: nil logged-in function", token.ErrConfig)
		}
		l.loggedIn = f
		return nil
	})
}

// WithTTL sets the lifetime of a link the request flow mints. The default
// is the issuer's ([token.DefaultTTL] unless [token.WithTTL] says
// otherwise).
func WithTTL(d time.Duration) RequestOption {
	return requestOption(func(r *Requests) error {
		if d <= 0 || d > 30*24*time.Hour {
			return fmt.Errorf("%w: link lifetime %v", token.ErrConfig, d)
		}
		r.ttl = d
		return nil
	})
}

// WithAddressLimit limits the links asked for one typed address or member
// number, across every instance sharing the store. The default is 5 an
// hour.
func WithAddressLimit(l Limit) RequestOption {
	return requestOption(func(r *Requests) error {
		if err := l.validate("address"); err != nil {
			return err
		}
		r.perAddress = l
		return nil
	})
}

// WithClientLimit limits the requests from one client address (an IPv6
// client by its /64), across every instance sharing the store. The default
// is 30 an hour: a members' office behind one address asks for many.
func WithClientLimit(l Limit) RequestOption {
	return requestOption(func(r *Requests) error {
		if err := l.validate("client"); err != nil {
			return err
		}
		r.perClient = l
		return nil
	})
}

// Queue bounds the request flow's work off the request path ([WithQueue]).
type Queue struct {
	// Size bounds the requests waiting to be sent (1 to 1,048,576; default
	// 256); past it a request is dropped and logged.
	Size int
	// Workers is how many requests are sent at once (1 to 64; default 2).
	Workers int
	// SendTimeout bounds each send: lookup, mint, render, guard, send (up
	// to 10 minutes; default 30 seconds).
	SendTimeout time.Duration
}

// WithQueue bounds the request flow's queue; a zero field keeps its
// default.
func WithQueue(q Queue) RequestOption {
	return requestOption(func(r *Requests) error {
		if q.Size < 0 || q.Size > 1<<20 || q.Workers < 0 || q.Workers > 64 || q.SendTimeout < 0 || q.SendTimeout > 10*time.Minute {
			return fmt.Errorf("%w: a queue of 0 to %d requests, 0 to 64 workers, a send timeout of 0 to 10m", token.ErrConfig, 1<<20)
		}
		if q.Size != 0 {
			r.queue.Size = q.Size
		}
		if q.Workers != 0 {
			r.queue.Workers = q.Workers
		}
		if q.SendTimeout != 0 {
			r.queue.SendTimeout = q.SendTimeout
		}
		return nil
	})
}
