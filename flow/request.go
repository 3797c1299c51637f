package flow

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/oncelink/oncelink/internal/hook"
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
		return fmt.Errorf("%w: %s limit must be 1 to 100000 requests within 1 minute to 7 days", token.ErrConfig, what)
	}
	return nil
}

// Defaults of the request flow.
var (
	defaultAddressLimit = Limit{N: 5, Window: time.Hour}
	defaultClientLimit  = Limit{N: 30, Window: time.Hour}
	defaultQueue        = Queue{Size: 256, Workers: 2, SendTimeout: 30 * time.Second}
)

// countTimeout bounds the counting a request does on the request path.
const countTimeout = 5 * time.Second

// Requests is the page where a member asks for a login link: see
// [NewRequest]. Close it when the site stops.
type Requests struct {
	common
	iss        *token.Issuer
	p          *token.Parser
	st         store.Store
	counters   store.Counters
	path       string
	lookup     Lookup
	mailer     Mailer
	ttl        time.Duration
	perAddress Limit
	perClient  Limit
	queue      Queue
	form       *template.Template
	requested  *template.Template
	h          http.Handler
	minutes    int

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.RWMutex
	closed bool
	jobs   chan Query
	wg     sync.WaitGroup
}

// NewRequest returns the page where a member types an email address or
// member number and gets a login link for it, minted by iss and limited,
// checked and revoked in st (the issuer's store), to be mounted at path
// (such as "/login/request"), where its form posts. lookup finds members;
// mailer renders and sends their messages.
//
//   - GET shows the form.
//   - POST of the form ("address": an email address or a member number)
//     counts the request against the limits per address and per client
//     address ([WithAddressLimit], [WithClientLimit]), in the store, so
//     that they hold across instances, queues it and answers
//     [MessageRequested]: the same status, headers and bytes whether or
//     not the address is a member's, whether the request was queued,
//     limited or dropped, and after the same store work (two counter
//     hits). Input that is neither an address nor a number gets the form
//     again with [MessageTypeAddress].
//   - Off the request path, a worker looks the member up, mints a link with
//     the issuer, renders the message, checks those bytes with a send
//     guard ([guard.Guard]) and sends them. A member not found, a full
//     queue, a limit reached and every failure are logged, never shown. A
//     message the guard refuses is not sent, and its link is revoked.
//
// The POST is refused when it comes from another site (net/http's
// CrossOriginProtection). Every response carries the login flow's headers
// (no referrer, no caching, no framing). st must keep counters
// ([store.Counters]); every store of this module does.
func NewRequest(path string, iss *token.Issuer, st store.Store, lookup Lookup, mailer Mailer, opts ...RequestOption) (*Requests, error) {
	switch {
	case iss == nil || st == nil:
		return nil, fmt.Errorf("%w: the request flow needs an issuer and its store", token.ErrConfig)
	case lookup == nil || mailer == nil:
		return nil, fmt.Errorf("%w: the request flow needs a lookup and a mailer", token.ErrConfig)
	case !sitePath(path):
		return nil, fmt.Errorf("%w: the request flow needs the path it is mounted at, a path on the site", token.ErrConfig)
	}
	counters, ok := st.(store.Counters)
	if !ok {
		return nil, fmt.Errorf("%w: the store %T has no counters (store.Counters) to hold the limits", token.ErrConfig, st)
	}
	p, err := iss.Parser()
	if err != nil {
		return nil, err
	}
	rf := &Requests{iss: iss, p: p, st: st, counters: counters, path: path, lookup: lookup, mailer: mailer,
		ttl: iss.TTL(), perAddress: defaultAddressLimit, perClient: defaultClientLimit, queue: defaultQueue}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", token.ErrConfig)
		}
		if err := o.applyRequest(rf); err != nil {
			return nil, err
		}
	}
	rf.common.finish()
	rf.form, rf.requested = rf.pageOr(pageRequest, defaultRequestForm), rf.pageOr(pageRequested, defaultRequested)
	rf.minutes = int(rf.ttl.Round(time.Minute) / time.Minute)
	rf.jobs = make(chan Query, rf.queue.Size)
	rf.ctx, rf.cancel = context.WithCancel(context.Background())
	rf.h = http.NewCrossOriginProtection().Handler(http.HandlerFunc(rf.serve))
	for i := 0; i < rf.queue.Workers; i++ {
		rf.wg.Add(1)
		go rf.work()
	}
	return rf, nil
}

// ServeHTTP serves the request page.
func (rf *Requests) ServeHTTP(w http.ResponseWriter, r *http.Request) { rf.h.ServeHTTP(w, r) }

func (rf *Requests) serve(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w.Header())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		rf.page(w, http.StatusOK, rf.form, "")
	case http.MethodPost:
		rf.request(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// request answers the POST of the form.
func (rf *Requests) request(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		rf.page(w, http.StatusBadRequest, rf.form, MessageTypeAddress)
		return
	}
	q, ok := parseQuery(r.PostForm.Get("address"))
	if !ok {
		rf.page(w, http.StatusBadRequest, rf.form, MessageTypeAddress)
		return
	}
	if rf.admit(r.Context(), q, rf.clientIP(r)) && !rf.enqueue(q) {
		rf.logger.WarnContext(r.Context(), "oncelink: link request dropped: queue full or closed", "address", rf.fingerprint(q))
	}
	rf.page(w, http.StatusOK, rf.requested, MessageRequested)
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

// fingerprint names what a person typed in logs and counter keys without
// the text itself ([token.Parser.Fingerprint]).
func (rf *Requests) fingerprint(q Query) string {
	if q.Email != "" {
		return rf.p.Fingerprint(string(token.KindEmail) + ":" + q.Email)
	}
	return rf.p.Fingerprint(string(token.KindNumber) + ":" + q.Number)
}

// admit counts the request against both limits, always both, and reports
// whether it may be sent. A store failure is a refusal.
func (rf *Requests) admit(ctx context.Context, q Query, ip string) bool {
	ctx, cancel := context.WithTimeout(ctx, countTimeout)
	defer cancel()
	now := hook.ParserNow(rf.p)
	addr, client := rf.fingerprint(q), clientKey(ip)
	na, errA := rf.counters.Hit(ctx, "oncelink/request/address/"+addr, rf.perAddress.Window, now)
	nc, errC := rf.counters.Hit(ctx, "oncelink/request/client/"+client, rf.perClient.Window, now)
	switch {
	case errA != nil || errC != nil:
		rf.logger.ErrorContext(ctx, "oncelink: link request refused: the limits could not be counted", "address", addr,
			"client", client, "error", fmt.Sprint(errA, " ", errC))
	case na > int64(rf.perAddress.N):
		rf.logger.WarnContext(ctx, "oncelink: link request refused: address limit", "address", addr, "client", client, "count", na)
	case nc > int64(rf.perClient.N):
		rf.logger.WarnContext(ctx, "oncelink: link request refused: client limit", "address", addr, "client", client, "count", nc)
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

// RequestPageData is what the request flow's pages receive ([WithPages]).
type RequestPageData struct {
	// Action is where the form posts: the path the flow is mounted at.
	Action string
	// Message is [MessageRequested] after a request, [MessageTypeAddress]
	// for input to fix, else "".
	Message string
	// Minutes is how long a link lives.
	Minutes int
}

func (rf *Requests) page(w http.ResponseWriter, status int, t *template.Template, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, RequestPageData{Action: rf.path, Message: msg, Minutes: rf.minutes}); err != nil {
		rf.logger.ErrorContext(context.Background(), "oncelink: page template failed", "error", err)
	}
}
