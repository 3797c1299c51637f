package verify

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"

	"github.com/oncelink/oncelink/token"
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

// PageData is what the flow's templates receive.
type PageData struct {
	// Action is where the confirmation form posts: the flow's path, without
	// the token.
	Action string
	// Token goes into the confirmation form as the hidden field "t".
	Token string
	// AskEmail and AskNumber say which identity the link can be confirmed
	// with; the form sends "email" or "number". Neither: a button only.
	AskEmail  bool
	AskNumber bool
	// Message is the one generic message after a refusal, else "".
	Message string
}

// FlowConfig configures [NewFlow].
type FlowConfig struct {
	// Verifier checks and consumes links. Required.
	Verifier *Verifier
	// Purpose is the purpose of the links this flow accepts. Required.
	Purpose string
	// Sessions opens sessions. Required.
	Sessions Sessions
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
	// the member who asked for the link in this browser), or "". Optional.
	Asserted func(r *http.Request) string
}

// MaxFormBody bounds the confirmation form.
const MaxFormBody = 8 << 10

// NewFlow returns the login flow for links of one purpose, to be mounted at
// the path of the issuer's base URL:
//
//   - GET with the token ("?t=..."): the confirmation page. Nothing is
//     consumed, so mail scanners that fetch links do not burn them.
//   - POST with the form (the token, and the email address or member number
//     the page asks for): the link is consumed, the session opened, and the
//     browser redirected to the landing page.
//
// Every response carries Referrer-Policy: no-referrer, Cache-Control:
// no-store and forbids framing. The POST is refused when it comes from
// another site (net/http's CrossOriginProtection), so nobody can log a
// browser into their own account. A refusal shows one generic message; a
// failed confirmation shows the form again while the link may still be
// used by its owner.
func NewFlow(c FlowConfig) (http.Handler, error) {
	switch {
	case c.Verifier == nil || c.Sessions == nil:
		return nil, fmt.Errorf("%w: the flow needs a verifier and sessions", ErrConfig)
	case !token.ValidPurpose(c.Purpose):
		return nil, fmt.Errorf("%w: the flow needs a purpose", ErrConfig)
	case c.Landing != "" && (c.Landing[0] != '/' || len(c.Landing) > 1 && (c.Landing[1] == '/' || c.Landing[1] == '\\')):
		return nil, fmt.Errorf("%w: the landing page must be a path on the site", ErrConfig)
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
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
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
	if f.c.Asserted != nil {
		id.Member = f.c.Asserted(r)
	}
	return Request{Link: link, Purpose: f.c.Purpose, Identity: id, IP: f.c.ClientIP(r), UserAgent: r.UserAgent()}
}

// show answers the GET on a link: the confirmation page, nothing consumed.
func (f *flow) show(w http.ResponseWriter, r *http.Request) {
	link := r.URL.Query().Get(f.c.Verifier.p.Param())
	res, err := f.c.Verifier.Peek(r.Context(), f.request(r, link, Identity{}))
	if err != nil {
		f.refuse(w, err)
		return
	}
	f.page(w, http.StatusOK, f.c.Confirm, PageData{Action: r.URL.Path, Token: link, AskEmail: res.Needs&ConfirmEmail != 0, AskNumber: res.Needs&ConfirmNumber != 0})
}

// login answers the POST of the confirmation form.
func (f *flow) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBody)
	if err := r.ParseForm(); err != nil {
		f.refuse(w, fmt.Errorf("%w: unreadable form", ErrMalformed))
		return
	}
	link := r.PostForm.Get("t")
	ref, err := f.c.Sessions.NewReference(r)
	if err != nil {
		f.refuse(w, fmt.Errorf("%w: session reference: %w", ErrUnavailable, err))
		return
	}
	req := f.request(r, link, Identity{Email: r.PostForm.Get("email"), Number: r.PostForm.Get("number")})
	req.Session = ref
	res, err := f.c.Verifier.Consume(r.Context(), req)
	if err != nil {
		if errors.Is(err, ErrMismatch) || errors.Is(err, ErrIdentityRequired) {
			// The link may still be its owner's to use: ask again.
			peek, perr := f.c.Verifier.Peek(r.Context(), f.request(r, link, Identity{}))
			if perr == nil {
				f.page(w, http.StatusForbidden, f.c.Confirm, PageData{Action: r.URL.Path, Token: link, AskEmail: peek.Needs&ConfirmEmail != 0,
					AskNumber: peek.Needs&ConfirmNumber != 0, Message: GenericMessage})
				return
			}
		}
		f.refuse(w, err)
		return
	}
	if err := startSession(r.Context(), f.c.Sessions, w, r, ref, res); err != nil {
		f.c.Verifier.cfg.logger.ErrorContext(r.Context(), "oncelink: link consumed but the session did not start", "token", res.Claims, "error", err)
		f.refuse(w, fmt.Errorf("%w: session: %w", ErrUnavailable, err))
		return
	}
	http.Redirect(w, r, f.c.Landing, http.StatusSeeOther)
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

func (f *flow) refuse(w http.ResponseWriter, err error) {
	status := http.StatusForbidden
	if errors.Is(err, ErrUnavailable) {
		status = http.StatusServiceUnavailable
	}
	f.page(w, status, f.c.Refused, PageData{Message: Message(err)})
}

func (f *flow) page(w http.ResponseWriter, status int, t *template.Template, d PageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, d); err != nil {
		f.c.Verifier.cfg.logger.Error("oncelink: page template failed", "error", err)
	}
}

var defaultConfirm = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Confirm your login</title></head>
<body><main>
<h1>Confirm your login</h1>
{{if .Message}}<p role="alert" id="message">{{.Message}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="t" value="{{.Token}}">
{{if .AskEmail}}<p><label for="email">Your email address</label><br><input id="email" name="email" type="email" autocomplete="email" required></p>{{end}}
{{if and .AskNumber (not .AskEmail)}}<p><label for="number">Your member number</label><br><input id="number" name="number" autocomplete="off" required></p>{{end}}
<p><button type="submit" id="login">Log in</button></p>
</form>
</main></body></html>
`))

var defaultRefused = template.Must(template.New("refused").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Link not usable</title></head>
<body><main><h1>Link not usable</h1><p role="alert" id="message">{{.Message}}</p></main></body></html>
`))
