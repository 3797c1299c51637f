package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Verifier checks presented links and consumes them exactly once. It is
// safe for concurrent use.
type Verifier struct {
	p   *token.Parser
	st  store.Store
	cfg *config

	limiter rateLimiter
}

// New returns a verifier that parses links with p (from
// [token.Issuer.Parser] or [token.NewParser]) and checks and consumes them in
// st.
func New(p *token.Parser, st store.Store, opts ...Option) (*Verifier, error) {
	if p == nil || st == nil {
		return nil, fmt.Errorf("%w: nil parser or store", ErrConfig)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Verifier{p: p, st: st, cfg: cfg, limiter: rateLimiter{rate: cfg.ledgerRate}}, nil
}

// Identity is what a request presents to confirm a link. Empty fields are
// not presented.
type Identity struct {
	// Member is the member id the site asserts for the request, such as the
	// member who asked for the link in this browser, or the member already
	// logged in.
	Member string
	// Email is an email address the person typed.
	Email string
	// Number is a member number the person typed.
	Number string
}

// IsZero reports whether nothing is presented.
func (id Identity) IsZero() bool { return id == Identity{} }

// Request is one presentation of a link.
type Request struct {
	// Link is the link or bare token as presented. Untrusted.
	Link string
	// Purpose is the purpose the endpoint serves; a link minted for another
	// is refused ([ErrPurpose]). Required.
	Purpose string
	// Identity confirms the link.
	Identity Identity
	// IP and UserAgent describe the client, for the record; they are
	// truncated to the store's bounds.
	IP        string
	UserAgent string
	// Session is the site's reference to the session a consumption opens;
	// it is recorded with the consumption so that revoking the link can end
	// the session. At most [store.MaxSessionLen] bytes.
	Session string
}

// Result describes an accepted link.
type Result struct {
	// Claims are the link's claims.
	Claims token.Claims
	// Identity is the canonical identity that confirmed the link, with its
	// kind ("email:ann@example.org"), or "" when none was needed or, for
	// Peek, presented.
	Identity string
	// Needs is the kinds of identity that can confirm this link under its
	// purpose's policy (and that it is bound to): what a confirmation page
	// should ask for. Zero when no confirmation is needed.
	Needs Confirm
	// Record is the store's record: consumed after Consume.
	Record store.Record
}

// Peek checks a link as Consume does and consumes nothing: for the page a
// GET on the link shows, which mail scanners also fetch. Without a
// presented identity it checks everything but the identity, and
// [Result.Needs] says what to ask for; a presented identity is checked, and
// a mismatch is counted as in Consume, so that Peek cannot be used to guess.
func (v *Verifier) Peek(ctx context.Context, req Request) (*Result, error) {
	return v.run(ctx, req, false)
}

// Consume checks a link and consumes it, once. In order: bounded parse,
// signature and key, claims and purpose, the presented identity against the
// link's bindings and the purpose's policy, then one atomic store operation
// that checks revocation, use, expiry, freezes and the member's state and
// marks the link consumed. Nothing is consumed unless every check passed. A
// store failure, a timeout or a panic is a refusal ([ErrUnavailable]).
func (v *Verifier) Consume(ctx context.Context, req Request) (*Result, error) {
	return v.run(ctx, req, true)
}

func (v *Verifier) run(ctx context.Context, req Request, consume bool) (res *Result, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.cfg.timeout)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			v.cfg.logger.ErrorContext(ctx, "oncelink: verification panicked", "panic", fmt.Sprint(r))
			res, err = nil, fmt.Errorf("%w: internal failure", ErrUnavailable)
		}
	}()
	if req.Purpose == "" || !token.ValidPurpose(req.Purpose) {
		return nil, fmt.Errorf("%w: the request names no valid purpose", ErrConfig)
	}
	if !store.ValidText(req.Session, store.MaxSessionLen) {
		return nil, fmt.Errorf("%w: session reference must be at most %d bytes of UTF-8", ErrConfig, store.MaxSessionLen)
	}
	now := v.p.Now()
	pres := store.Presentation{
		IP:        store.CleanText(req.IP, store.MaxIPLen),
		UserAgent: store.CleanText(req.UserAgent, store.MaxUserAgentLen),
		Session:   req.Session,
	}
	vt, err := v.p.Parse(req.Link, req.Purpose)
	if err != nil {
		pres.Identity = describe(req.Identity)
		v.refuse(ctx, now, nil, pres, err)
		return nil, err
	}
	policy := v.policy(vt.Purpose)
	res = &Result{Claims: vt.Claims, Needs: needs(vt, policy)}
	check := consume || !req.Identity.IsZero()
	if check {
		confirmed, presented, err := confirm(vt, req.Identity, policy)
		pres.Identity = presented
		if err != nil {
			if errors.Is(err, ErrMismatch) {
				err = v.mismatch(ctx, now, vt, pres, err)
			} else {
				v.refuse(ctx, now, &vt.Claims, pres, err)
			}
			return nil, err
		}
		res.Identity = confirmed
		pres.Identity = confirmed
	}
	sreq := store.ConsumeRequest{ID: vt.ID, SecretHash: vt.SecretHash(), Member: vt.Member, Purpose: vt.Purpose, Batch: vt.Batch,
		At: now, Presentation: pres}
	if v.cfg.state != nil {
		if sreq.State, err = token.CallState(ctx, v.cfg.state, vt.Member); err != nil {
			err = fmt.Errorf("%w: member state: %w", ErrUnavailable, err)
			v.refuse(ctx, now, &vt.Claims, pres, err)
			return nil, err
		}
	}
	var rec store.Record
	if consume {
		rec, err = v.st.Consume(ctx, sreq)
	} else {
		rec, err = v.st.Peek(ctx, sreq)
	}
	if err != nil {
		err = fromStore(err)
		v.refuse(ctx, now, &vt.Claims, pres, err)
		return nil, err
	}
	res.Record = rec
	if consume {
		v.cfg.logger.InfoContext(ctx, "oncelink: link consumed", "token", vt.Claims, "identity_kind", kindOf(res.Identity))
	}
	return res, nil
}

func (v *Verifier) policy(purpose string) Policy {
	if p, ok := v.cfg.policies[purpose]; ok {
		return p
	}
	return v.cfg.fallback
}

// needs returns the kinds that can confirm vt under policy.
func needs(vt *token.Verified, p Policy) Confirm {
	if p.UnsafeNoConfirmation {
		return 0
	}
	n := p.accepts(vt.Batch != "")
	if !vt.BoundEmail {
		n &^= ConfirmEmail
	}
	if !vt.BoundNumber {
		n &^= ConfirmNumber
	}
	return n
}

// confirm compares every presented identity with the link and applies the
// policy. It returns the confirming canonical identity, and the identity to
// record (the one that did not match, on a mismatch).
func confirm(vt *token.Verified, id Identity, p Policy) (confirmed, presented string, err error) {
	type presentedID struct {
		kind  Confirm
		name  string
		value string
		canon func(string) (string, error)
	}
	all := [...]presentedID{
		{ConfirmEmail, token.KindEmail, id.Email, token.CanonicalEmail},
		{ConfirmNumber, token.KindNumber, id.Number, token.CanonicalNumber},
		{ConfirmMember, token.KindMember, id.Member, canonicalMember},
	}
	var matched Confirm
	var fulls [len(all)]string
	for i, pi := range all {
		if pi.value == "" {
			continue
		}
		c, cerr := pi.canon(pi.value)
		if cerr != nil {
			// A value that cannot be an identity cannot match.
			return "", store.CleanText(pi.name+":"+strings.TrimSpace(pi.value), store.MaxIdentityLen), fmt.Errorf("%w: %s", ErrMismatch, pi.name)
		}
		full := store.CleanText(pi.name+":"+c, store.MaxIdentityLen)
		bound, match := vt.Confirm(pi.name, c)
		if !bound {
			continue
		}
		if !match {
			return "", full, fmt.Errorf("%w: %s", ErrMismatch, pi.name)
		}
		matched |= pi.kind
		fulls[i] = full
		if confirmed == "" {
			confirmed = full
		}
	}
	if accepted := p.accepts(vt.Batch != ""); matched&accepted != 0 {
		for i, pi := range all {
			if matched&accepted&pi.kind != 0 {
				return fulls[i], fulls[i], nil
			}
		}
	}
	if p.UnsafeNoConfirmation {
		return "", confirmed, nil
	}
	return "", confirmed, ErrIdentityRequired
}

func canonicalMember(s string) (string, error) {
	if s == "" || len(s) > store.MaxMemberLen || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: member id", ErrMismatch)
	}
	return s, nil
}

// describe renders presented identities for a refusal recorded before the
// link could be read.
func describe(id Identity) string {
	var parts []string
	if id.Email != "" {
		parts = append(parts, token.KindEmail+":"+strings.TrimSpace(id.Email))
	}
	if id.Number != "" {
		parts = append(parts, token.KindNumber+":"+strings.TrimSpace(id.Number))
	}
	if id.Member != "" {
		parts = append(parts, token.KindMember+":"+id.Member)
	}
	return store.CleanText(strings.Join(parts, " "), store.MaxIdentityLen)
}

func kindOf(identity string) string {
	kind, _, _ := strings.Cut(identity, ":")
	return kind
}

// clip truncates s to at most n bytes on a UTF-8 boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// mismatch counts a failed confirmation, records it, and lets the breaker
// look at the batch. The refusal stands whatever happens here.
func (v *Verifier) mismatch(ctx context.Context, now time.Time, vt *token.Verified, pres store.Presentation, err error) error {
	rec, ferr := v.st.Fail(ctx, vt.ID, now, v.cfg.maxFailures)
	switch {
	case ferr == nil:
		err = fmt.Errorf("%w (%d of %d failed confirmations)", err, rec.Failures, v.cfg.maxFailures)
	case errors.Is(ferr, store.ErrNotFound):
	default:
		v.cfg.logger.ErrorContext(ctx, "oncelink: failed confirmation not counted", "token", vt.Claims, "error", ferr)
	}
	v.refuse(ctx, now, &vt.Claims, pres, err)
	if vt.Batch != "" {
		v.observeMismatch(ctx, now, vt.Claims)
	}
	return err
}

// refuse logs a refusal and records it in the ledger. Refusals of input that
// could not be authenticated are rate-limited in the ledger.
func (v *Verifier) refuse(ctx context.Context, now time.Time, c *token.Claims, pres store.Presentation, err error) {
	reason := Reason(err)
	ev := store.Event{At: now, Kind: store.EventRefused, Reason: reason, Presentation: pres}
	attrs := []any{"reason", reason}
	if c != nil {
		ev.TokenID, ev.Member, ev.Batch, ev.Purpose = c.ID, c.Member, c.Batch, c.Purpose
		attrs = append(attrs, "token", *c)
	} else if !v.limiter.allow(now) {
		v.cfg.logger.DebugContext(ctx, "oncelink: unauthenticated refusal not recorded (rate limit)", attrs...)
		return
	}
	level := slog.LevelInfo
	switch reason {
	case "mismatch", "signature", "secret", "frozen", "unavailable", "claims":
		level = slog.LevelWarn
	}
	v.cfg.logger.Log(ctx, level, "oncelink: link refused", attrs...)
	if reason == "unavailable" && ctx.Err() != nil {
		// The deadline that refused the link would refuse the record too.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
	}
	if aerr := v.st.Append(ctx, ev); aerr != nil {
		v.cfg.logger.ErrorContext(ctx, "oncelink: refusal not recorded in the ledger", "reason", reason, "error", aerr)
	}
}

// rateLimiter allows rate events per second, in one-second windows.
type rateLimiter struct {
	rate   int
	mu     sync.Mutex
	window int64
	n      int
}

func (l *rateLimiter) allow(now time.Time) bool {
	if l.rate <= 0 {
		return false
	}
	sec := now.Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec != l.window {
		l.window, l.n = sec, 0
	}
	if l.n >= l.rate {
		return false
	}
	l.n++
	return true
}
