package verify

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/oncelink/oncelink/internal/hook"
	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Query is what a person typed on the request page, in canonical form
// ([token.CanonicalEmail], [token.CanonicalNumber]): exactly one of Email
// and Number is set.
type Query struct {
	Email  string
	Number string
}

// Addressee is the member a [Lookup] found: whose link it is and where it
// goes.
type Addressee struct {
	// Member is the member id the link logs in as.
	Member string
	// Recipient is the member's email address on file, where the link is
	// sent, and which it is bound to. Required.
	Recipient string
	// Number is the member number, if any; the link is bound to it too.
	Number string
}

// Lookup finds the member whose address or number a person typed. Not
// found is a normal answer (false, nil), not an error: the person is told
// the same either way. It runs off the request path, after the answer.
type Lookup func(ctx context.Context, q Query) (a Addressee, found bool, err error)

// Mailer renders and sends the message that carries a requested link.
type Mailer interface {
	// Render returns the whole message (headers and body, as the mail
	// server will receive it) that carries link to a.Recipient. Its To
	// header, if any, must name a.Recipient.
	Render(ctx context.Context, a Addressee, link *token.Link) ([]byte, error)
	// Send delivers raw, exactly the bytes Render returned and the send
	// guard passed, to a.Recipient and to nobody else.
	Send(ctx context.Context, a Addressee, raw []byte) error
}

// Limit is at most N requests within a sliding window.
type Limit struct {
	N      int
	Window time.Duration
}

func (l Limit) validate(what string) error {
	if l.N < 1 || l.N > 100000 || l.Window < time.Minute || l.Window > 7*24*time.Hour {
		return fmt.Errorf("%w: %s limit must be 1 to 100000 requests within 1 minute to 7 days", ErrConfig, what)
	}
	return nil
}

// Defaults of [RequestFlowConfig].
var (
	// DefaultAddressLimit: at most 5 links asked for one address or
	// member number an hour, across every instance sharing the store.
	DefaultAddressLimit = Limit{N: 5, Window: time.Hour}
	// DefaultClientLimit: at most 30 requests from one client address (an
	// IPv6 client by its /64) an hour, across every instance; a members'
	// office behind one address asks for many.
	DefaultClientLimit = Limit{N: 30, Window: time.Hour}
)

// Defaults of the request flow's queue.
const (
	DefaultRequestQueue   = 256
	DefaultRequestWorkers = 2
	DefaultSendTimeout    = 30 * time.Second
)

// Words of the request page.
const (
	// MessageRequested is the answer to every well-formed request, member
	// or not, sent or not.
	MessageRequested = "If that is the email address or member number of a member, we are sending a login link to the email address we have for that member."
	// MessageTypeAddress asks again for input that is neither an email
	// address nor a member number.
	MessageTypeAddress = "Type your email address or your member number."
)

// RequestFlowConfig configures [NewRequestFlow].
type RequestFlowConfig struct {
	// Verifier and Issuer: the verifier's parser and store check each
	// message (the send guard, [Outgoing]) and hold the limits
	// ([store.Counters]); the issuer mints into the same store with the
	// same keys. Required.
	Verifier *Verifier
	Issuer   *token.Issuer
	// Purpose is the purpose of the links minted. Required.
	Purpose string
	// Path is where the flow is mounted, such as "/login/request"; the
	// form posts to it. Required.
	Path string
	// Lookup finds members; Mailer renders and sends. Required.
	Lookup Lookup
	Mailer Mailer
	// TTL is the lifetime of a link; zero is the issuer's ([token.DefaultTTL]
	// by default, 15 minutes).
	TTL time.Duration
	// PerAddress and PerClient limit requests per typed address or number
	// and per client address; zero values are [DefaultAddressLimit] and
	// [DefaultClientLimit].
	PerAddress Limit
	PerClient  Limit
	// QueueSize bounds the requests waiting to be sent, Workers the sends
	// at once, SendTimeout each send (lookup, mint, render, guard, send).
	// Zero values are [DefaultRequestQueue], [DefaultRequestWorkers] and
	// [DefaultSendTimeout].
	QueueSize   int
	Workers     int
	SendTimeout time.Duration
	// ClientIP returns the client address the limits count. The default is
	// the connection's address; behind a proxy, take it from a header the
	// proxy sets and the site trusts.
	ClientIP func(r *http.Request) string
	// Form renders the request page (GET, and POST of unusable input);
	// Requested renders the answer to a request. Defaults are plain,
	// accessible pages.
	Form      *template.Template
	Requested *template.Template
}

func (c *RequestFlowConfig) validate() error {
	switch {
	case c.Verifier == nil || c.Issuer == nil:
		return fmt.Errorf("%w: the request flow needs a verifier and an issuer", ErrConfig)
	case c.Lookup == nil || c.Mailer == nil:
		return fmt.Errorf("%w: the request flow needs a lookup and a mailer", ErrConfig)
	case !wire.ValidPurpose(c.Purpose):
		return fmt.Errorf("%w: the request flow needs a purpose", ErrConfig)
	case !sitePath(c.Path):
		return fmt.Errorf("%w: the request flow needs the path it is mounted at, a path on the site", ErrConfig)
	case c.TTL < 0 || c.TTL > 30*24*time.Hour:
		return fmt.Errorf("%w: link lifetime %v", ErrConfig, c.TTL)
	case c.QueueSize < 0 || c.QueueSize > 1<<20 || c.Workers < 0 || c.Workers > 64:
		return fmt.Errorf("%w: queue of 0 to %d requests, 0 to 64 workers", ErrConfig, 1<<20)
	case c.SendTimeout < 0 || c.SendTimeout > 10*time.Minute:
		return fmt.Errorf("%w: send timeout %v outside 0 to 10m", ErrConfig, c.SendTimeout)
	}
	if c.PerAddress == (Limit{}) {
		c.PerAddress = DefaultAddressLimit
	}
	if c.PerClient == (Limit{}) {
		c.PerClient = DefaultClientLimit
	}
	if err := c.PerAddress.validate("address"); err != nil {
		return err
	}
	return c.PerClient.validate("client")
}

// RequestFlow is the page where a member asks for a login link: see
// [NewRequestFlow]. Close it when the site stops.
type RequestFlow struct {
	c       RequestFlowConfig
	h       http.Handler
	minutes int

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.RWMutex
	closed bool
	jobs   chan Query
	wg     sync.WaitGroup
}

// NewRequestFlow returns the page where a member types an email address or
// member number and gets a login link, to be mounted at
// [RequestFlowConfig.Path]:
//
//   - GET shows the form.
//   - POST of the form ("address": an email address or a member number)
//     counts the request against the limits per address and per client
//     address, in the store, so that they hold across instances, queues it
//     and answers [MessageRequested]: the same status, headers and bytes
//     whether or not the address is a member's, whether the request was
//     queued, limited or dropped, and after the same store work (two
//     counter hits). Input that is neither an address nor a number gets
//     the form again with [MessageTypeAddress].
//   - Off the request path, a worker looks the member up, mints a link with
//     the issuer, renders the message, checks those bytes with the send
//     guard ([Outgoing]) and sends them. A member not found, a full queue, a
//     limit reached and every failure are logged, never shown. A message
//     the guard refuses is not sent, and its link is revoked.
//
// The POST is refused when it comes from another site (net/http's
// CrossOriginProtection). Every response carries the login flow's headers
// (no referrer, no caching, no framing).
func NewRequestFlow(c RequestFlowConfig) (*RequestFlow, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultRequestQueue
	}
	if c.Workers == 0 {
		c.Workers = DefaultRequestWorkers
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteIP
	}
	if c.Form == nil {
		c.Form = defaultRequestForm
	}
	if c.Requested == nil {
		c.Requested = defaultRequested
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = c.Issuer.TTL()
	}
	rf := &RequestFlow{c: c, minutes: int(ttl.Round(time.Minute) / time.Minute), jobs: make(chan Query, c.QueueSize)}
	rf.ctx, rf.cancel = context.WithCancel(context.Background())
	rf.h = http.NewCrossOriginProtection().Handler(http.HandlerFunc(rf.serve))
	for i := 0; i < c.Workers; i++ {
		rf.wg.Add(1)
		go rf.work()
	}
	return rf, nil
}

// ServeHTTP serves the request page.
func (rf *RequestFlow) ServeHTTP(w http.ResponseWriter, r *http.Request) { rf.h.ServeHTTP(w, r) }

func (rf *RequestFlow) serve(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w.Header())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		rf.page(w, http.StatusOK, rf.c.Form, "")
	case http.MethodPost:
		rf.request(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// request answers the POST of the form.
func (rf *RequestFlow) request(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBody)
	if err := r.ParseForm(); err != nil {
		rf.page(w, http.StatusBadRequest, rf.c.Form, MessageTypeAddress)
		return
	}
	q, ok := parseQuery(r.PostForm.Get("address"))
	if !ok {
		rf.page(w, http.StatusBadRequest, rf.c.Form, MessageTypeAddress)
		return
	}
	if rf.admit(r.Context(), q, rf.c.ClientIP(r)) && !rf.enqueue(q) {
		rf.logger().WarnContext(r.Context(), "oncelink: link request dropped: queue full or closed", "address", rf.fingerprint(q))
	}
	rf.page(w, http.StatusOK, rf.c.Requested, MessageRequested)
}

// parseQuery reads what a person typed: an email address if it has an
// "@", else a member number.
func parseQuery(s string) (Query, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 320 {
		return Query{}, false
	}
	if strings.Contains(s, "@") {
		e, err := token.CanonicalEmail(s)
		return Query{Email: e}, err == nil
	}
	n, err := token.CanonicalNumber(s)
	return Query{Number: n}, err == nil
}

func (rf *RequestFlow) logger() *slog.Logger { return rf.c.Verifier.cfg.logger }

// fingerprint names what a person typed in logs and counter keys without
// the text itself ([token.Parser.Fingerprint]).
func (rf *RequestFlow) fingerprint(q Query) string {
	if q.Email != "" {
		return rf.c.Verifier.p.Fingerprint(token.KindEmail + ":" + q.Email)
	}
	return rf.c.Verifier.p.Fingerprint(token.KindNumber + ":" + q.Number)
}

// admit counts the request against both limits, always both, and reports
// whether it may be sent. A store failure is a refusal.
func (rf *RequestFlow) admit(ctx context.Context, q Query, ip string) bool {
	ctx, cancel := context.WithTimeout(ctx, rf.c.Verifier.cfg.timeout)
	defer cancel()
	now := hook.ParserNow(rf.c.Verifier.p)
	addr, client := rf.fingerprint(q), clientKey(ip)
	na, errA := rf.c.Verifier.counters.Hit(ctx, "oncelink/request/address/"+addr, rf.c.PerAddress.Window, now)
	nc, errC := rf.c.Verifier.counters.Hit(ctx, "oncelink/request/client/"+client, rf.c.PerClient.Window, now)
	switch {
	case errA != nil || errC != nil:
		rf.logger().ErrorContext(ctx, "oncelink: link request refused: the limits could not be counted", "address", addr,
			"client", client, "error", fmt.Sprint(errA, " ", errC))
	case na > int64(rf.c.PerAddress.N):
		rf.logger().WarnContext(ctx, "oncelink: link request refused: address limit", "address", addr, "client", client, "count", na)
	case nc > int64(rf.c.PerClient.N):
		rf.logger().WarnContext(ctx, "oncelink: link request refused: client limit", "address", addr, "client", client, "count", nc)
	default:
		return true
	}
	return false
}

// clientKey is the client address the limit counts: an IPv4 address, the
// /64 of an IPv6 address (one subscriber's), or the cleaned text of what
// is not an address.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "?" + store.CleanText(ip, 64)
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// RequestPageData is what the request flow's templates receive.
type RequestPageData struct {
	// Action is where the form posts ([RequestFlowConfig.Path]).
	Action string
	// Message is [MessageRequested] after a request, [MessageTypeAddress]
	// for input to fix, else "".
	Message string
	// Minutes is how long a link lives.
	Minutes int
}

func (rf *RequestFlow) page(w http.ResponseWriter, status int, t *template.Template, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, RequestPageData{Action: rf.c.Path, Message: msg, Minutes: rf.minutes}); err != nil {
		rf.logger().ErrorContext(context.Background(), "oncelink: page template failed", "error", err)
	}
}
