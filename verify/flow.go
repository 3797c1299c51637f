package verify

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/oncelink/oncelink/internal/hook"
	"github.com/oncelink/oncelink/internal/wire"
)

// Sessions is how the login flow opens a session on the site.
type Sessions interface {
	// NewReference returns the reference of the session a successful login
	// will open. It is recorded with the consumption, so that revoking the
	// link can end the session. At most 256 bytes; not a secret the site
	// cannot afford to have in its audit ledger (use an id, not the cookie
	// value).
	NewReference(r *http.Request) (string, error)
	// Start opens session ref for res.Claims.Member, after the link was
	// consumed: set the cookie, then the flow redirects to the landing page.
	Start(w http.ResponseWriter, r *http.Request, ref string, res *Result) error
}

// FlowConfig configures [NewFlow].
type FlowConfig struct {
	// Verifier checks and consumes links. Required.
	Verifier *Verifier
	// Purpose is the purpose of the links this flow accepts. Required.
	Purpose string
	// Sessions opens sessions. Required.
	Sessions Sessions
	// Path is the path the flow is mounted at: the path of the issuer's
	// base URL, such as "/login". Required. The flow redirects to it, the
	// form posts to it and the token's cookie is scoped to it; nothing of
	// a request's own path reaches a response.
	Path string
	// Landing is where a successful login is redirected: a path on the site.
	// The default is "/".
	Landing string
	// Confirm renders the confirmation page (GET, and POST after a failed
	// confirmation); Refused renders the refusal page. Defaults are plain,
	// accessible pages.
	Confirm *template.Template
	Refused *template.Template
	// ClientIP returns the client address for the record. The default is
	// the connection's address; behind a proxy, take it from a header the
	// proxy sets and the site trusts.
	ClientIP func(r *http.Request) string
	// Asserted returns the member the site asserts for the request (such as
	// the member who asked for the link in this browser, or who is logged
	// in), or "". Optional. The flow asks for it only on the POST of its
	// own form, and only when the browser says the request came from the
	// site itself (Sec-Fetch-Site: same-origin, or without it an Origin
	// naming the request's host): a request another site caused never
	// speaks, and is never recorded, in the member's name. A panic in it is
	// a refusal.
	Asserted func(r *http.Request) string
	// RequestPath is the path where a person asks for a new link, such as
	// the path of the request flow ([NewRequestFlow]). Optional: when set,
	// the page for a link that can no longer be used links to it.
	RequestPath string
	// LoggedIn returns the member whose session the request carries, or "".
	// Optional. It only chooses words: one's own link, no longer usable,
	// opened while logged in as its member, says [MessageLoggedIn] and
	// links to the landing page instead of asking for a new link. It is
	// compared with the member of an authentic link only, never recorded,
	// and never confirms anything; a panic in it counts as "".
	LoggedIn func(r *http.Request) string
}

// MaxFormBody bounds the confirmation form.
const MaxFormBody = 8 << 10

// FlowCookieTTL is how long the cookie that carries a token from the link
// to the confirmation form lives.
const FlowCookieTTL = 15 * time.Minute

// NewFlow returns the login flow for links of one purpose, to be mounted at
// [FlowConfig.Path], the path of the issuer's base URL:
//
//   - GET with the token ("?t=..."): the token moves out of the URL into a
//     short-lived cookie (HttpOnly, Secure but on loopback hosts,
//     SameSite=Lax, scoped to the path), and the browser is redirected to
//     the bare path, so that the link stays out of history, proxy and
//     access logs past this one request (as Drupal's one-time login does).
//     A link with the token twice is refused, as the parser refuses it.
//   - GET of the bare path with the cookie: the confirmation page. Nothing
//     is consumed, so mail scanners that fetch links do not burn them.
//   - POST of the form (the email address or member number the page asks
//     for): the link is consumed, the session opened, the cookie cleared,
//     and the browser redirected to the landing page.
//
// The cookie is SameSite=Lax, not Strict: a link is clicked in a mail
// client, often webmail on another site, and browsers (Chromium, tested in
// headless Chromium) do not send a Strict cookie set on a cross-site
// navigation with the redirect that follows it.
//
// Every response carries Referrer-Policy: no-referrer, Cache-Control:
// no-store and forbids framing. The POST is refused when it comes from
// another site (net/http's CrossOriginProtection), so nobody can log a
// browser into their own account. A failed confirmation shows the form
// again while the link may still be used by its owner.
//
// The words on each page are a member's: a typed address that does not
// confirm the link shows the form again with [MessageCheckAddress]; a paused
// link says [MessageLater]; every link that can no longer be used says
// [GenericMessage] and links to [FlowConfig.RequestPath]; one's own such
// link while logged in says [MessageLoggedIn] ([FlowConfig.LoggedIn]).
func NewFlow(c FlowConfig) (http.Handler, error) {
	switch {
	case c.Verifier == nil || c.Sessions == nil:
		return nil, fmt.Errorf("%w: the flow needs a verifier and sessions", ErrConfig)
	case !wire.ValidPurpose(c.Purpose):
		return nil, fmt.Errorf("%w: the flow needs a purpose", ErrConfig)
	case !sitePath(c.Path):
		return nil, fmt.Errorf("%w: the flow needs the path it is mounted at, a path on the site", ErrConfig)
	case c.Landing != "" && !sitePath(c.Landing):
		return nil, fmt.Errorf("%w: the landing page must be a path on the site", ErrConfig)
	case c.RequestPath != "" && !sitePath(c.RequestPath):
		return nil, fmt.Errorf("%w: the request page must be a path on the site", ErrConfig)
	}
	if c.Landing == "" {
		c.Landing = "/"
	}
	if c.Confirm == nil {
		c.Confirm = defaultConfirm
	}
	if c.Refused == nil {
		c.Refused = defaultRefused
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteIP
	}
	f := &flow{c: c}
	return http.NewCrossOriginProtection().Handler(f), nil
}

// sitePath reports whether p is an absolute path on the site: not a
// scheme-relative or back-slashed one, nothing a browser reads as another
// host, no query or fragment.
func sitePath(p string) bool {
	if p == "" || p[0] != '/' || len(p) > 1 && (p[1] == '/' || p[1] == '\\') || len(p) > 512 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '\\' || c == '"' || c == ';' {
			return false
		}
	}
	return true
}

type flow struct{ c FlowConfig }

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (f *flow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setPageHeaders(h)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		f.show(w, r)
	case http.MethodPost:
		f.login(w, r)
	default:
		h.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (f *flow) request(r *http.Request, link string, id Identity) Request {
	return Request{Link: link, Purpose: f.c.Purpose, Identity: id, IP: f.c.ClientIP(r), UserAgent: r.UserAgent()}
}

// show answers a GET: with the token in the URL, it moves the token into the
// cookie and redirects to the bare path; without, it shows the confirmation
// page for the token in the cookie. Nothing is asserted or consumed.
func (f *flow) show(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		f.refuse(w, r, fmt.Errorf("%w: unparsable query", ErrMalformed))
		return
	}
	if ts, ok := q[hook.ParserParam(f.c.Verifier.p)]; ok {
		if len(ts) != 1 {
			f.refuse(w, r, fmt.Errorf("%w: a link needs exactly one %q parameter", ErrMalformed, hook.ParserParam(f.c.Verifier.p)))
			return
		}
		tok, err := f.c.Verifier.p.Extract(ts[0])
		if err != nil {
			f.refuse(w, r, err)
			return
		}
		f.setCookie(w, r, tok, int(FlowCookieTTL/time.Second))
		http.Redirect(w, r, f.c.Path, http.StatusSeeOther)
		return
	}
	tok := f.cookie(r)
	if tok == "" {
		f.refuse(w, r, fmt.Errorf("%w: no link", ErrMalformed))
		return
	}
	res, err := f.c.Verifier.Peek(r.Context(), f.request(r, tok, Identity{}))
	if err != nil {
		f.refuse(w, r, err)
		return
	}
	f.page(w, http.StatusOK, f.c.Confirm, f.form(res, ""))
}

func (f *flow) form(res *Result, msg string) PageData {
	return PageData{Action: f.c.Path, AskEmail: res.Needs&ConfirmEmail != 0, AskNumber: res.Needs&ConfirmNumber != 0, Message: msg}
}

// login answers the POST of the confirmation form.
func (f *flow) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBody)
	if err := r.ParseForm(); err != nil {
		f.refuse(w, r, fmt.Errorf("%w: unreadable form", ErrMalformed))
		return
	}
	tok := f.cookie(r)
	if tok == "" {
		f.refuse(w, r, fmt.Errorf("%w: no link", ErrMalformed))
		return
	}
	id := Identity{Email: r.PostForm.Get("email"), Number: r.PostForm.Get("number")}
	if f.c.Asserted != nil && sameOrigin(r) {
		m, err := asserted(f.c.Asserted, r)
		if err != nil {
			f.refuse(w, r, fmt.Errorf("%w: asserted member: %w", ErrUnavailable, err))
			return
		}
		id.Member = m
	}
	ref, err := f.c.Sessions.NewReference(r)
	if err != nil {
		f.refuse(w, r, fmt.Errorf("%w: session reference: %w", ErrUnavailable, err))
		return
	}
	req := f.request(r, tok, id)
	req.Session = ref
	res, err := f.c.Verifier.Consume(r.Context(), req)
	if err != nil {
		if errors.Is(err, ErrMismatch) || errors.Is(err, ErrIdentityRequired) {
			// The link may still be its owner's to use: ask again. Nothing
			// is asserted or compared, so nothing is counted twice.
			if peek, perr := f.c.Verifier.Peek(r.Context(), f.request(r, tok, Identity{})); perr == nil {
				d := f.form(peek, MessageCheckAddress)
				if !d.AskEmail && d.AskNumber {
					d.Message = MessageCheckNumber
				}
				f.page(w, http.StatusForbidden, f.c.Confirm, d)
				return
			}
		}
		f.refuse(w, r, err)
		return
	}
	f.setCookie(w, r, "", -1)
	if err := startSession(r.Context(), f.c.Sessions, w, r, ref, res); err != nil {
		f.c.Verifier.cfg.logger.ErrorContext(r.Context(), "oncelink: link consumed but the session did not start", "token", res.Claims, "error", err)
		// The link is spent: the person needs a new one.
		f.refusePage(w, r, http.StatusServiceUnavailable, GenericMessage)
		return
	}
	http.Redirect(w, r, f.c.Landing, http.StatusSeeOther)
}

// sameOrigin reports whether the browser says the request came from the
// site itself. Without Sec-Fetch-Site, only an Origin naming the request's
// host counts; no header at all is not enough.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "":
		o := r.Header.Get("Origin")
		if o == "" || o == "null" {
			return false
		}
		u, err := url.Parse(o)
		return err == nil && u.Host != "" && u.Host == r.Host
	}
	return false
}

// asserted calls the site's Asserted, turning a panic into an error.
func asserted(f func(*http.Request) string, r *http.Request) (m string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("asserted member panicked: %v", p)
		}
	}()
	return f(r), nil
}

// startSession calls the site's Start, turning a panic into an error.
func startSession(_ context.Context, s Sessions, w http.ResponseWriter, r *http.Request, ref string, res *Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("session start panicked: %v", p)
		}
	}()
	return s.Start(w, r, ref, res)
}
