package flow

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
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
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
	Start(w http.ResponseWriter, r *http.Request, ref string, res *verify.Result) error
}

// maxFormBody bounds the forms the flows read.
const maxFormBody = 8 << 10

// cookieTTL is how long the cookie that carries a token from the link to
// the confirmation form lives.
const cookieTTL = 15 * time.Minute

// login is the login flow.
type login struct {
	common
	v           *verify.Verifier
	p           *token.Parser
	sessions    Sessions
	path        string
	landing     string
	requestPath string
	asserted    func(r *http.Request) string
	loggedIn    func(r *http.Request) string
	confirm     *template.Template
	refused     *template.Template
}

// NewLogin returns the login flow for links of one purpose
// ([token.PurposeLogin] unless [WithPurpose]), checked and consumed by v,
// opening sessions with s, to be mounted at path, the path of the issuer's
// base URL (such as "/login"). The flow redirects to path, its form posts
// to it and the token's cookie is scoped to it; nothing of a request's own
// path reaches a response.
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
//     and the browser redirected to the landing page ([WithLanding]).
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
// confirm the link shows the form again with [verify.MessageCheckAddress];
// a paused link says [verify.MessageLater]; every link that can no longer
// be used says [verify.GenericMessage] and links to the request page
// ([WithRequestPath]); one's own such link while logged in says
// [MessageLoggedIn] ([WithLoggedIn]).
func NewLogin(path string, v *verify.Verifier, s Sessions, opts ...LoginOption) (http.Handler, error) {
	if v == nil || s == nil {
		return nil, fmt.Errorf("%w: the login flow needs a verifier and sessions", token.ErrConfig)
	}
	if !sitePath(path) {
		return nil, fmt.Errorf("%w: the login flow needs the path it is mounted at, a path on the site", token.ErrConfig)
	}
	l := &login{v: v, p: hook.VerifierParser(v).(*token.Parser), sessions: s, path: path, landing: "/"}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", token.ErrConfig)
		}
		if err := o.applyLogin(l); err != nil {
			return nil, err
		}
	}
	l.common.finish()
	l.confirm, l.refused = l.pageOr(pageConfirm, defaultConfirm), l.pageOr(pageRefused, defaultRefused)
	return http.NewCrossOriginProtection().Handler(http.HandlerFunc(l.serve)), nil
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

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (l *login) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setPageHeaders(h)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		l.show(w, r)
	case http.MethodPost:
		l.post(w, r)
	default:
		h.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *login) request(r *http.Request, link string, id verify.Identity) verify.Request {
	return verify.Request{Link: link, Purpose: l.purpose, Identity: id, IP: l.clientIP(r), UserAgent: r.UserAgent()}
}

// show answers a GET: with the token in the URL, it moves the token into the
// cookie and redirects to the bare path; without, it shows the confirmation
// page for the token in the cookie. Nothing is asserted or consumed.
func (l *login) show(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		l.refuse(w, r, fmt.Errorf("%w: unparsable query", verify.ErrMalformed))
		return
	}
	if ts, ok := q[hook.ParserParam(l.p)]; ok {
		if len(ts) != 1 {
			l.refuse(w, r, fmt.Errorf("%w: a link needs exactly one %q parameter", verify.ErrMalformed, hook.ParserParam(l.p)))
			return
		}
		tok, err := l.p.Extract(ts[0])
		if err != nil {
			l.refuse(w, r, err)
			return
		}
		l.setCookie(w, r, tok, int(cookieTTL/time.Second))
		http.Redirect(w, r, l.path, http.StatusSeeOther)
		return
	}
	tok := l.cookie(r)
	if tok == "" {
		l.refuse(w, r, fmt.Errorf("%w: no link", verify.ErrMalformed))
		return
	}
	res, err := l.v.Peek(r.Context(), l.request(r, tok, verify.Identity{}))
	if err != nil {
		l.refuse(w, r, err)
		return
	}
	l.page(w, http.StatusOK, l.confirm, l.form(res, ""))
}

func (l *login) form(res *verify.Result, msg string) PageData {
	return PageData{Action: l.path, AskEmail: res.Needs&verify.ConfirmEmail != 0, AskNumber: res.Needs&verify.ConfirmNumber != 0, Message: msg}
}

// post answers the POST of the confirmation form.
func (l *login) post(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		l.refuse(w, r, fmt.Errorf("%w: unreadable form", verify.ErrMalformed))
		return
	}
	tok := l.cookie(r)
	if tok == "" {
		l.refuse(w, r, fmt.Errorf("%w: no link", verify.ErrMalformed))
		return
	}
	id := verify.Identity{Email: r.PostForm.Get("email"), Number: r.PostForm.Get("number")}
	if l.asserted != nil && sameOrigin(r) {
		m, err := asserted(l.asserted, r)
		if err != nil {
			l.refuse(w, r, fmt.Errorf("%w: asserted member: %w", verify.ErrUnavailable, err))
			return
		}
		id.Member = m
	}
	ref, err := l.sessions.NewReference(r)
	if err != nil {
		l.refuse(w, r, fmt.Errorf("%w: session reference: %w", verify.ErrUnavailable, err))
		return
	}
	req := l.request(r, tok, id)
	req.Session = ref
	res, err := l.v.Consume(r.Context(), req)
	if err != nil {
		if errors.Is(err, verify.ErrMismatch) || errors.Is(err, verify.ErrIdentityRequired) {
			// The link may still be its owner's to use: ask again. Nothing
			// is asserted or compared, so nothing is counted twice.
			if peek, perr := l.v.Peek(r.Context(), l.request(r, tok, verify.Identity{})); perr == nil {
				d := l.form(peek, verify.MessageCheckAddress)
				if !d.AskEmail && d.AskNumber {
					d.Message = MessageCheckNumber
				}
				l.page(w, http.StatusForbidden, l.confirm, d)
				return
			}
		}
		l.refuse(w, r, err)
		return
	}
	l.setCookie(w, r, "", -1)
	if err := startSession(r.Context(), l.sessions, w, r, ref, res); err != nil {
		l.logger.ErrorContext(r.Context(), "oncelink: link consumed but the session did not start", "token", res.Claims, "error", err)
		// The link is spent: the person needs a new one.
		l.refusePage(w, r, http.StatusServiceUnavailable, verify.GenericMessage)
		return
	}
	http.Redirect(w, r, l.landing, http.StatusSeeOther)
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
func startSession(_ context.Context, s Sessions, w http.ResponseWriter, r *http.Request, ref string, res *verify.Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("session start panicked: %v", p)
		}
	}()
	return s.Start(w, r, ref, res)
}
