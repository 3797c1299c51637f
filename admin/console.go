package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// A ConsoleOption configures [NewConsole].
type ConsoleOption interface {
	applyConsole(*consoleConfig) error
}

type consoleConfig struct {
	webConfig
	openSessions func(ctx context.Context, sessions []string) (int, error)
}

type consoleOption func(*consoleConfig) error

func (o consoleOption) applyConsole(c *consoleConfig) error { return o(c) }

// WithOpenSessions lets the console count how many of the given session
// references are still open at the site, so that a revocation's
// confirmation and result say how many sessions it ends. Without it the
// console says the number of sessions is not known, and lists the
// references it hands to the [SessionRevoker]. An error or a panic from
// count is shown as "not known".
func WithOpenSessions(count func(ctx context.Context, sessions []string) (int, error)) ConsoleOption {
	return consoleOption(func(c *consoleConfig) error {
		if count == nil {
			return fmt.Errorf("%w: nil session counter", ErrConfig)
		}
		c.openSessions = count
		return nil
	})
}

// NewConsole returns the incident console: HTML pages for an operator, to
// be mounted under a prefix with http.StripPrefix (the pages link to each
// other by relative addresses):
//
//	GET  /          every batch with its counts, the holds in force and
//	                why, the timeline plot, recent actions, and the form
//	GET  /confirm   what a freeze, thaw or revocation would cover, with
//	                a button to do it
//	POST /act       does it, then redirects to / with its result
//	GET  /report    who was affected: mismatches, replays and logins
//	GET  /report.csv
//
// Every page reads the store, so that the console says after a restart
// what it said before. The pages need no script: plain forms, and every
// change is a POST answered with a redirect. Every request is refused
// unless authorize says yes; POSTs from another origin are refused
// (net/http's CrossOriginProtection), and only the Host names of
// [AllowHosts] are answered (the loopback names when none are given).
func NewConsole(a *Admin, authorize Authorizer, opts ...ConsoleOption) (http.Handler, error) {
	if a == nil || authorize == nil {
		return nil, fmt.Errorf("%w: the console needs an admin and an authorizer", ErrConfig)
	}
	c := &console{a: a, authorize: authorize, flashes: map[string]flash{}}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrConfig)
		}
		if err := o.applyConsole(&c.cfg); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.overview)
	mux.HandleFunc("GET /confirm", c.confirm)
	mux.HandleFunc("POST /act", c.act)
	mux.HandleFunc("GET /report", c.report)
	mux.HandleFunc("GET /report.csv", c.reportCSV)
	return http.NewCrossOriginProtection().Handler(c.guard(mux)), nil
}

type console struct {
	a         *Admin
	authorize Authorizer
	cfg       consoleConfig

	mu      sync.Mutex
	flashes map[string]flash
}

// consoleCSP allows the console's own inline style and nothing else: no
// script, no frame, forms to itself.
const consoleCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (c *console) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if !c.cfg.allowed(r) {
			http.Error(w, "this host name is not served here", http.StatusMisdirectedRequest)
			return
		}
		actor, ok := callAuthorizer(c.authorize, r)
		if !ok {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		}
		next.ServeHTTP(w, r.WithContext(contextWithActor(r, actor)))
	})
}

// callAuthorizer runs the authorizer; a panic is a refusal.
func callAuthorizer(authorize Authorizer, r *http.Request) (actor string, ok bool) {
	defer func() {
		if recover() != nil {
			actor, ok = "", false
		}
	}()
	return authorize(r)
}

// countOpen counts the open sessions among refs with the site's counter;
// ok is false when there is none, or it failed.
func (c *console) countOpen(ctx context.Context, refs []string) (n int, ok bool) {
	if c.cfg.openSessions == nil {
		return 0, false
	}
	defer func() {
		if recover() != nil {
			n, ok = 0, false
		}
	}()
	n, err := c.cfg.openSessions(ctx, refs)
	return n, err == nil
}

// A flash is the result of an action, shown once on the page the action
// redirects to. Flashes live in memory, at most maxFlashes for flashTTL: a
// redirect that lands on another instance says so, and the ledger keeps
// the action anyway.
type flash struct {
	at   time.Time
	Bad  bool
	Text []string
}

const (
	maxFlashes = 256
	flashTTL   = 15 * time.Minute
)

func (c *console) putFlash(f flash) string {
	b := make([]byte, 12)
	rand.Read(b)
	id := hex.EncodeToString(b)
	f.at = time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, old := range c.flashes {
		if len(c.flashes) < maxFlashes && time.Since(old.at) < flashTTL {
			break
		}
		delete(c.flashes, k)
	}
	c.flashes[id] = f
	return id
}

func (c *console) takeFlash(id string) (flash, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.flashes[id]
	delete(c.flashes, id)
	return f, ok && time.Since(f.at) < flashTTL
}

// seeOther redirects to a path relative to the console's root, whatever
// prefix it is mounted under: the request was for /act or /confirm, one
// level below it.
func seeOther(w http.ResponseWriter, rel string) {
	w.Header().Set("Location", "./"+rel)
	w.WriteHeader(http.StatusSeeOther)
}
