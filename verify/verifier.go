package verify

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/oncelink/oncelink/internal/hook"
	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Verifier checks presented links and consumes them exactly once. It is
// safe for concurrent use.
type Verifier struct {
	p        *token.Parser
	st       store.Store
	counters store.Counters
	cfg      *config
	breaker  *breaker

	limiter rateLimiter
	ledger  *ledgerQueue
}

func init() {
	hook.VerifierParser = func(v any) any { return v.(*Verifier).p }
}

// New returns a verifier that parses links with p (from
// [token.Issuer.Parser] or [token.NewParser]) and checks and consumes them in
// st. The store must have counters ([store.Counters]), which hold the member
// limit ([WithMemberLimit]); every store of this module has them.
func New(p *token.Parser, st store.Store, opts ...Option) (*Verifier, error) {
	if p == nil || st == nil {
		return nil, fmt.Errorf("%w: nil parser or store", ErrConfig)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c, ok := st.(store.Counters)
	if !ok {
		return nil, fmt.Errorf("%w: the store %T has no counters (store.Counters) to hold the member limit", ErrConfig, st)
	}
	return &Verifier{p: p, st: st, counters: c, cfg: cfg, breaker: newBreaker(cfg.breaker),
		limiter: rateLimiter{rate: cfg.ledgerRate}, ledger: newLedgerQueue(st, cfg.logger)}, nil
}

// Peek checks a link as Consume does and consumes nothing: for the page a
// GET on the link shows, which mail scanners also fetch. Without a
// presented identity it checks everything but the identity, and
// [Result.Needs] says what to ask for; a presented identity is checked and
// counted as in Consume (the member limit, and a mismatch as a failure), so
// that Peek cannot be used to guess.
func (v *Verifier) Peek(ctx context.Context, req Request) (*Result, error) {
	return v.run(ctx, req, false)
}

// Consume checks a link and consumes it, once. In order: bounded parse,
// signature and key, claims and purpose, the presented identity against the
// link's bindings and the purpose's policy, the member limit, then one
// atomic store operation that checks that the record is the token's (its
// secret, member, purpose and batch), revocation, use, expiry, freezes and
// the member's state, counts a mismatch whatever the link's state, and
// marks the link consumed. Nothing is consumed unless every check passed. A
// presented identity that does not match gets [ErrMismatch] only while the
// link could have been consumed; otherwise it gets what a matching identity
// gets ([ErrUsed], [ErrRevoked], ...), at the same cost, so that a settled
// link cannot be used to guess. A store failure, a timeout or a panic is a
// refusal ([ErrUnavailable]).
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
	if req.Purpose == "" || !wire.ValidPurpose(req.Purpose) {
		return nil, fmt.Errorf("%w: the request names no valid purpose", ErrConfig)
	}
	if !store.ValidText(req.Session, store.MaxSessionLen) {
		return nil, fmt.Errorf("%w: session reference must be at most %d bytes of UTF-8", ErrConfig, store.MaxSessionLen)
	}
	now := hook.ParserNow(v.p)
	pres := store.Presentation{
		IP:        store.CleanText(req.IP, store.MaxIPLen),
		UserAgent: store.CleanText(req.UserAgent, store.MaxUserAgentLen),
		Session:   req.Session,
	}
	vt, err := v.p.Parse(req.Link, req.Purpose)
	if err != nil {
		pres.Identity = v.describe(req.Identity)
		v.refuse(ctx, refusal{at: now, pres: pres, err: err})
		return nil, err
	}
	policy := v.policy(vt.Purpose)
	res = &Result{Claims: vt.Claims, Needs: needs(vt, policy)}
	sreq, c, err := v.request(ctx, now, vt, req.Identity, policy, consume, pres)
	if err != nil {
		return nil, err
	}
	// A mismatch goes through Consume too, which never consumes it, so
	// that it costs what a matching identity costs; a matching identity the
	// policy does not accept is only checked.
	consume = consume && (c.sufficient || c.mismatch)
	var rec store.Record
	if consume {
		rec, err = v.st.Consume(ctx, sreq)
	} else {
		rec, err = v.st.Peek(ctx, sreq)
	}
	if err == nil && c.compared && !c.mismatch && !c.sufficient {
		err = ErrIdentityRequired
		v.refuse(ctx, refusal{at: now, claims: &vt.Claims, pres: sreq.Presentation, err: err})
		return nil, err
	}
	if err != nil {
		return nil, v.refused(ctx, vt, &sreq, rec, err, c.kind)
	}
	res.Record, res.Identity = rec, c.confirmed
	if consume {
		v.cfg.logger.InfoContext(ctx, "oncelink: link consumed", "token", vt.Claims, "identity_kind", kindOf(res.Identity))
	}
	return res, nil
}

// request builds the store's request for an authentic link: the presented
// identities compared with it (when consuming, or when one is presented),
// the member limit counted, the member's state read. A refusal on the way
// is recorded and returned.
func (v *Verifier) request(ctx context.Context, now time.Time, vt *token.Verified, id Identity, policy Policy, consume bool,
	pres store.Presentation) (store.ConsumeRequest, confirmation, error) {
	sreq := store.ConsumeRequest{ID: vt.ID, SecretHash: vt.SecretHash(), Member: vt.Member, Purpose: vt.Purpose,
		Batch: vt.Batch, At: now, MaxFailures: v.cfg.maxFailures}
	var c confirmation
	refuse := func(err error) (store.ConsumeRequest, confirmation, error) {
		v.refuse(ctx, refusal{at: now, claims: &vt.Claims, pres: pres, err: err})
		return sreq, c, err
	}
	if consume || id != (Identity{}) {
		c = v.confirm(vt, id, policy)
		pres.Identity = c.presented
		if !c.compared && !c.sufficient {
			// Nothing was compared: there is nothing to guess, count or ask
			// the store.
			return refuse(ErrIdentityRequired)
		}
		sreq.Confirmation = c.store()
		if c.compared {
			if err := v.throttle(ctx, now, vt.Member); err != nil {
				return refuse(err)
			}
		}
	}
	sreq.Presentation = pres
	if v.cfg.state != nil {
		state, err := hook.State(ctx, v.cfg.state, vt.Member)
		if err != nil {
			return refuse(fmt.Errorf("%w: member state: %w", ErrUnavailable, err))
		}
		sreq.State = state
	}
	return sreq, c, nil
}

// refused turns the store's refusal into the verifier's error, records it
// once, and lets the breaker count a mismatch on a consumable link.
func (v *Verifier) refused(ctx context.Context, vt *token.Verified, sreq *store.ConsumeRequest, rec store.Record, serr error, kind string) error {
	var err error
	switch {
	case errors.Is(serr, store.ErrMismatch):
		err = fmt.Errorf("%w: %s (%d of %d failed confirmations)", ErrMismatch, kind, rec.Failures, v.cfg.maxFailures)
	case errors.Is(serr, store.ErrSecret) && rec.ID == vt.ID && rec.SecretHash == vt.SecretHash():
		err = fmt.Errorf("%w: %w: %w", ErrSignature, errForged, serr)
	default:
		err = fromStore(serr)
	}
	r := refusal{at: sreq.At, claims: &vt.Claims, pres: sreq.Presentation, err: err}
	if sreq.Confirmation == store.Mismatched && !errors.Is(serr, store.ErrMismatch) && store.IsOutcome(serr) &&
		!errors.Is(serr, store.ErrSecret) {
		// The answer is the state's, as for a matching identity; the
		// ledger says that the identity did not match.
		r.reason, r.detail = store.ReasonMismatch, string(Reason(err))
	}
	ev := v.refuse(ctx, r)
	if errors.Is(serr, store.ErrMismatch) {
		v.observe(ctx, sreq.At, vt.Claims, ev)
	}
	return err
}

// throttle counts one confirmation attempt on the member's links and
// refuses past the member limit. A store failure is a refusal.
func (v *Verifier) throttle(ctx context.Context, now time.Time, member string) error {
	n, err := v.counters.Hit(ctx, "oncelink/confirm/"+member, v.cfg.memberWin, now)
	if err != nil {
		return fmt.Errorf("%w: member limit: %w", ErrUnavailable, err)
	}
	if n > int64(v.cfg.memberLimit) {
		return fmt.Errorf("%w: %d attempts within %v", ErrThrottled, n, v.cfg.memberWin)
	}
	return nil
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
