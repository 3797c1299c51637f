package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/flow"
	"github.com/oncelink/oncelink/guard"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/storeurl"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// Member is one of the site's members.
type Member struct {
	ID, Name, Email, Number string
}

// Config configures the site.
type Config struct {
	// BaseURL is the site's public address, such as http://127.0.0.1:8080.
	BaseURL string
	// StoreURL names the oncelink store (sqlite:, postgres://, mysql://, redis://).
	StoreURL string
	// DataDir holds the signing key and the outbox.
	DataDir string
	// SMTP is the mail server to send through; without an address, every
	// message stays in the outbox.
	SMTP   SMTPConfig
	Logger *slog.Logger
}

// Site is the member site: members, sessions, an outbox, and oncelink.
type Site struct {
	cfg        Config
	st         store.Store
	closeStore func() error
	iss        *token.Issuer
	parser     *token.Parser
	v          *verify.Verifier
	adm        *admin.Admin
	adminAPI   http.Handler
	console    http.Handler
	flow       http.Handler
	requests   *flow.Requests
	members    []Member
	byID       map[string]Member
	byEmail    map[string]Member // by canonical address
	byNumber   map[string]Member // by canonical number
	sessions   *sessions
	outbox     *Outbox
	mail       Transport
	from       string
	adminKey   string
	metrics    *metrics
}

// NewSite opens the store and builds the site.
func NewSite(ctx context.Context, cfg Config) (*Site, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	st, closeStore, err := storeurl.Open(ctx, cfg.StoreURL, storeurl.WithCreate(), storeurl.WithWaitLoading(time.Minute))
	if err != nil {
		return nil, err
	}
	m, st, err := instrument(st)
	if err != nil {
		closeStore()
		return nil, err
	}
	s := &Site{cfg: cfg, st: st, closeStore: closeStore, metrics: m, sessions: newSessions(), byID: map[string]Member{},
		byEmail: map[string]Member{}, byNumber: map[string]Member{}}
	fail := func(err error) (*Site, error) {
		closeStore()
		return nil, err
	}
	key, err := loadKey(filepath.Join(cfg.DataDir, "signing.key"))
	if err != nil {
		return fail(err)
	}
	keys, err := token.NewKeyring(key)
	if err != nil {
		return fail(err)
	}
	s.iss, err = token.NewIssuer(keys, st, token.WithBaseURL(cfg.BaseURL+"/login"), token.WithLogger(cfg.Logger), token.WithBatchTTL(72*time.Hour))
	if err != nil {
		return fail(err)
	}
	if s.parser, err = s.iss.Parser(); err != nil {
		return fail(err)
	}
	s.v, err = verify.New(s.parser, st, verify.WithLogger(cfg.Logger), verify.WithBreaker(verify.Breaker{OnTrip: func(_ context.Context, tr verify.Trip) {
		cfg.Logger.Warn("membersite: the breaker froze a batch", "batch", tr.Batch, "rule", tr.Rule)
	}}))
	if err != nil {
		return fail(err)
	}
	s.adm, err = admin.New(st, admin.WithSessionRevoker(s.sessions), admin.WithLogger(cfg.Logger))
	if err != nil {
		return fail(err)
	}
	// The operator's pages and API answer only the site's own host name
	// (and loopback), so that a DNS-rebinding page is refused.
	hosts, err := operatorHosts(cfg.BaseURL)
	if err != nil {
		return fail(err)
	}
	if s.adminAPI, err = admin.NewHandler(s.adm, s.authorize, hosts); err != nil {
		return fail(err)
	}
	if s.console, err = admin.NewConsole(s.adm, s.authorize, hosts, admin.WithOpenSessions(s.sessions.open)); err != nil {
		return fail(err)
	}
	s.flow, err = flow.NewLogin("/login", s.v, s.sessions, flow.WithLanding("/members"), flow.WithPages(pages),
		flow.WithRequestPath("/login/request"), flow.WithLoggedIn(s.sessions.loggedIn), flow.WithLogger(cfg.Logger))
	if err != nil {
		return fail(err)
	}
	if err := s.mailer(); err != nil {
		return fail(err)
	}
	s.requests, err = flow.NewRequest("/login/request", s.iss, st, s.lookup, requestMailer{s},
		flow.WithPages(pages), flow.WithLogger(cfg.Logger))
	if err != nil {
		return fail(err)
	}
	s.adminKey = randomHex(16)
	s.seed()
	return s, nil
}

// seed gives the site its members.
func (s *Site) seed() {
	for i, name := range seedNames {
		m := Member{
			ID:     fmt.Sprintf("m-%03d", i+1),
			Name:   name,
			Email:  strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@members.example",
			Number: fmt.Sprintf("%05d", 10400+i*7),
		}
		s.members = append(s.members, m)
		s.byID[m.ID] = m
		e, _ := token.CanonicalEmail(m.Email)
		n, _ := token.CanonicalNumber(m.Number)
		s.byEmail[e], s.byNumber[n] = m, m
	}
}

// mailer opens the outbox, and the SMTP server the site sends through when
// it has one.
func (s *Site) mailer() error {
	var err error
	if s.outbox, err = NewOutbox(filepath.Join(s.cfg.DataDir, "outbox")); err != nil {
		return err
	}
	s.mail, s.from = s.outbox, defaultFrom
	if s.cfg.SMTP.Addr != "" {
		t, err := newSMTP(s.cfg.SMTP)
		if err != nil {
			return err
		}
		s.mail, s.from = t, t.from
	}
	return nil
}

// Close sends what members asked for, then releases the store.
func (s *Site) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.requests.Close(ctx)
	return errors.Join(err, s.metrics.close(), s.closeStore())
}

var seedNames = []string{
	"Ann Jensen", "Bo Nielsen", "Carla Hansen", "Dan Pedersen", "Eva Andersen", "Finn Christensen",
	"Gitte Larsen", "Hans Sørensen", "Ida Rasmussen", "Jens Jørgensen", "Karen Petersen", "Lars Madsen",
	"Mette Kristensen", "Niels Olsen", "Ole Thomsen", "Pia Christiansen", "Rasmus Poulsen", "Sofie Johansen",
	"Thomas Møller", "Ulla Mortensen", "Viggo Knudsen", "Winnie Jakobsen", "Yrsa Mikkelsen", "Zaki Lund",
	"Åse Holm",
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// loadKey reads the site's signing key, or makes one on first start, so
// that links survive a restart.
func loadKey(path string) (*token.Key, error) {
	secret, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, secret, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return token.NewHMACKey("membersite-1", secret)
}

// sessions is the site's session store: a cookie secret maps to a session,
// whose public reference is what oncelink records.
type sessions struct {
	mu     sync.Mutex
	byKey  map[string]*session
	refs   map[string]string // reference -> cookie secret
	nextID int
}

type session struct {
	ref    string
	member string
}

func newSessions() *sessions {
	return &sessions{byKey: map[string]*session{}, refs: map[string]string{}}
}

const cookieName = "ms_session"

// NewReference implements flow.Sessions.
func (ss *sessions) NewReference(*http.Request) (string, error) {
	return "s-" + randomHex(8), nil
}

// Start implements flow.Sessions.
func (ss *sessions) Start(w http.ResponseWriter, _ *http.Request, ref string, res *verify.Result) error {
	secret := randomHex(32)
	ss.mu.Lock()
	ss.byKey[secret] = &session{ref: ref, member: res.Claims.Member}
	ss.refs[ref] = secret
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

// RevokeSessions implements admin.SessionRevoker.
func (ss *sessions) RevokeSessions(_ context.Context, refs []string) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, ref := range refs {
		if secret, ok := ss.refs[ref]; ok {
			delete(ss.byKey, secret)
			delete(ss.refs, ref)
		}
	}
	return nil
}

func (ss *sessions) member(r *http.Request) (string, string, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", "", false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess, ok := ss.byKey[c.Value]
	if !ok {
		return "", "", false
	}
	return sess.member, sess.ref, true
}

// loggedIn returns the member the request's session is of, or "".
func (ss *sessions) loggedIn(r *http.Request) string {
	id, _, _ := ss.member(r)
	return id
}

func (ss *sessions) end(r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		ss.mu.Lock()
		if sess, ok := ss.byKey[c.Value]; ok {
			delete(ss.refs, sess.ref)
			delete(ss.byKey, c.Value)
		}
		ss.mu.Unlock()
	}
}

// open counts the sessions among refs that are still open, for the
// operator's console.
func (ss *sessions) open(_ context.Context, refs []string) (int, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for _, ref := range refs {
		if _, ok := ss.refs[ref]; ok {
			n++
		}
	}
	return n, nil
}

func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.byKey)
}

// InviteResult is what a bulk invitation did.
type InviteResult struct {
	Batch   string
	Minted  int
	Sent    int
	Blocked *guard.BlockedError
}

// Invite mints a link for every member in one batch and mails them in
// batches of ten through the send guard; a refused batch stops the send.
func (s *Site) Invite(ctx context.Context) (*InviteResult, error) {
	batch := "invite-" + time.Now().UTC().Format("20060102-150405.000")
	reqs := make([]token.Request, len(s.members))
	for i, m := range s.members {
		reqs[i] = token.Request{Member: m.ID, Purpose: token.PurposeLogin, Recipient: m.Email, Number: m.Number}
	}
	links, err := s.iss.MintBatch(ctx, batch, reqs)
	if err != nil {
		return nil, err
	}
	res := &InviteResult{Batch: batch, Minted: len(links)}
	g, err := guard.New(s.parser, s.st, guard.WithBatch(batch), guard.WithLogger(s.cfg.Logger))
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(links); start += 10 {
		end := min(start+10, len(links))
		var mails []guard.Mail
		for i := start; i < end; i++ {
			raw, err := renderInvitation(s.from, s.members[i], links[i].URL)
			if err != nil {
				return res, err
			}
			mails = append(mails, guard.Mail{To: s.members[i].Email, Member: s.members[i].ID, Raw: raw})
		}
		if err := g.CheckAll(ctx, mails); err != nil {
			var be *guard.BlockedError
			if errors.As(err, &be) {
				res.Blocked = be
				return res, nil
			}
			return nil, err
		}
		for _, m := range mails {
			if err := s.mail.Deliver(ctx, m.To, invitationSubject, m.Raw); err != nil {
				return res, err
			}
			res.Sent++
		}
	}
	return res, nil
}

const invitationSubject = "Your new member site"

func renderInvitation(from string, m Member, url string) ([]byte, error) {
	return render(from, m, invitationSubject, "Dear "+m.Name+",\r\n\r\nYour member site is open. Log in with your own link:\r\n\r\n"+
		url+"\r\n\r\nYou will be asked for your email address. The link works once and expires in three days.\r\n")
}

// lookup finds the member whose address or number a person typed on the
// request page.
func (s *Site) lookup(_ context.Context, q flow.Query) (flow.Addressee, bool, error) {
	m, ok := s.byEmail[q.Email]
	if q.Email == "" {
		m, ok = s.byNumber[q.Number]
	}
	if !ok {
		return flow.Addressee{}, false, nil
	}
	return flow.Addressee{Member: m.ID, Recipient: m.Email, Number: m.Number}, true, nil
}

// requestMailer renders and sends the message with a link a member asked
// for.
type requestMailer struct{ s *Site }

const requestSubject = "Your login link"

func (rm requestMailer) Render(_ context.Context, a flow.Addressee, link *token.Link) ([]byte, error) {
	m := rm.s.byID[a.Member]
	minutes := int(time.Until(link.Claims.ExpiresAt).Round(time.Minute) / time.Minute)
	return render(rm.s.from, m, requestSubject, fmt.Sprintf("Dear %s,\r\n\r\nYou asked for a link to log in to the member site:\r\n\r\n%s\r\n\r\n"+
		"The link works once, within %d minutes. If you did not ask for it, ignore this message.\r\n", m.Name, link.URL, minutes))
}

func (rm requestMailer) Send(ctx context.Context, a flow.Addressee, raw []byte) error {
	return rm.s.mail.Deliver(ctx, a.Recipient, requestSubject, raw)
}

func (s *Site) authorize(r *http.Request) (string, bool) {
	c, err := r.Cookie("ms_admin")
	if err != nil || len(c.Value) != len(s.adminKey) || !equal(c.Value, s.adminKey) {
		return "", false
	}
	return "admin", true
}

func equal(a, b string) bool {
	var d byte
	for i := 0; i < len(a) && i < len(b); i++ {
		d |= a[i] ^ b[i]
	}
	return d == 0 && len(a) == len(b)
}

// operatorHosts allows the site's own host name, and the loopback names
// the demo is reached by.
func operatorHosts(base string) (admin.HTTPOption, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("membersite: base URL %q has no host", base)
	}
	return admin.AllowHosts(u.Host, "localhost", "127.0.0.1", "[::1]"), nil
}
