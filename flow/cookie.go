package flow

import (
	"net"
	"net/http"
)

// flowCookieName is the name of the cookie that carries a token from the
// link to the form: "__Secure-oncelink-t", which browsers accept only when
// Secure, or "oncelink-t" on a loopback host served over plain HTTP.
func flowCookieName(secure bool) string {
	if secure {
		return "__Secure-oncelink-t"
	}
	return "oncelink-t"
}

// secureCookie reports whether the token's cookie is Secure: always, but
// for plain HTTP to a loopback host (development, as token.WithBaseURL
// allows).
// Behind a proxy that ends TLS, the request is plain but the host is not
// loopback, so the cookie stays Secure.
func secureCookie(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// setCookie sets the token's cookie, or clears it (tok "", maxAge -1).
func (l *login) setCookie(w http.ResponseWriter, r *http.Request, tok string, maxAge int) {
	secure := secureCookie(r)
	http.SetCookie(w, &http.Cookie{Name: flowCookieName(secure), Value: tok, Path: l.path, MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// cookie returns the token the request's cookie carries, or "". A cookie
// that does not have the shape of a token is none.
func (l *login) cookie(r *http.Request) string {
	c, err := r.Cookie(flowCookieName(secureCookie(r)))
	if err != nil {
		return ""
	}
	tok, err := l.p.Extract(c.Value)
	if err != nil || tok != c.Value {
		return ""
	}
	return tok
}
