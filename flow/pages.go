package flow

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/oncelink/oncelink/verify"
)

// PageData is what the login flow's pages receive ([WithPages]). It holds
// no token: the token travels in a cookie, never in the page.
type PageData struct {
	// Action is where the confirmation form posts: the path the flow is
	// mounted at.
	Action string
	// AskEmail and AskNumber say which identity the link can be confirmed
	// with; the form sends "email" or "number". Neither: a button only.
	AskEmail  bool
	AskNumber bool
	// Message is what to tell the person ([verify.Message]), or "".
	Message string
	// RequestPath is where to ask for a new link, on the page of a link
	// that can no longer be used ([WithRequestPath]), else "".
	RequestPath string
	// LoggedIn is set on the page of one's own link opened while logged in
	// ([MessageLoggedIn]); Landing is then the landing page.
	LoggedIn bool
	Landing  string
}

// refuse shows the refusal page for err, in [verify.Message]'s words.
func (l *login) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusForbidden
	if errors.Is(err, verify.ErrUnavailable) {
		status = http.StatusServiceUnavailable
	}
	l.refusePage(w, r, status, verify.Message(err))
}

// refusePage clears the token's cookie and shows the refusal page with msg:
// for a link that can no longer be used, with the way to ask for a new one;
// for one's own link while logged in as its member, with the way in.
func (l *login) refusePage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := PageData{Message: msg}
	if tok := l.cookie(r); tok != "" {
		l.setCookie(w, r, "", -1)
		if l.ownLink(r, tok) {
			status, d = http.StatusOK, PageData{Message: MessageLoggedIn, LoggedIn: true, Landing: l.landing}
		}
	}
	if msg == verify.GenericMessage && !d.LoggedIn {
		d.RequestPath = l.requestPath
	}
	l.page(w, status, l.refused, d)
}

// ownLink reports whether tok is an authentic link of the flow's purpose
// whose member the request is logged in as ([WithLoggedIn]).
func (l *login) ownLink(r *http.Request, tok string) bool {
	if l.loggedIn == nil {
		return false
	}
	vt, err := l.p.Inspect(tok)
	if err != nil || vt.Purpose != l.purpose {
		return false
	}
	m, err := asserted(l.loggedIn, r)
	return err == nil && m != "" && m == vt.Member
}

func (l *login) page(w http.ResponseWriter, status int, t *template.Template, d PageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, d); err != nil {
		l.logger.Error("oncelink: page template failed", "error", err)
	}
}

// setPageHeaders sets the headers of every page of the flows: no referrer,
// no caching, no framing, nothing but the page's own form and styles.
func setPageHeaders(h http.Header) {
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
}

var defaultConfirm = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Confirm your login</title></head>
<body><main>
<h1>Confirm your login</h1>
{{if .Message}}<p role="alert" id="message">{{.Message}}</p>{{end}}
<form method="post" action="{{.Action}}">
{{if .AskEmail}}<p><label for="email">Your email address</label><br><input id="email" name="email" type="email" autocomplete="email" required></p>{{end}}
{{if and .AskNumber (not .AskEmail)}}<p><label for="number">Your member number</label><br><input id="number" name="number" autocomplete="off" required></p>{{end}}
<p><button type="submit" id="login">Log in</button></p>
</form>
</main></body></html>
`))

var defaultRefused = template.Must(template.New("refused").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{if .LoggedIn}}Logged in{{else}}Link not usable{{end}}</title></head>
<body><main>{{if .LoggedIn}}<h1>Logged in</h1><p id="message">{{.Message}}</p><p><a href="{{.Landing}}">Continue</a></p>
{{else}}<h1>Link not usable</h1><p role="alert" id="message">{{.Message}}</p>
{{with .RequestPath}}<p><a id="request" href="{{.}}">Request a new link</a></p>{{end}}{{end}}</main></body></html>
`))

var defaultRequestForm = template.Must(template.New("request").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Log in</title></head>
<body><main>
<h1>Log in</h1>
{{if .Message}}<p role="alert" id="message">{{.Message}}</p>{{end}}
<form method="post" action="{{.Action}}">
<p><label for="address">Your email address or member number</label><br><input id="address" name="address" autocomplete="email" required></p>
<p><button type="submit" id="request">Email me a login link</button></p>
</form>
</main></body></html>
`))

var defaultRequested = template.Must(template.New("requested").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Check your email</title></head>
<body><main>
<h1>Check your email</h1>
<p role="status" id="message">{{.Message}}</p>
<p>The link works once, within {{.Minutes}} minutes. Nothing arrived? <a href="{{.Action}}">Ask again</a>.</p>
</main></body></html>
`))
