package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/oncelink/oncelink/internal/hook"
	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/store"
)

// maxBatch bounds the number of links one [Issuer.MintBatch] call mints;
// larger sends go through [Issuer.MintStream].
const maxBatch = 100000

// Issuer mints links and records them in a store before it returns them:
// a link the store does not know never leaves the Issuer. It is safe for
// concurrent use.
type Issuer struct {
	keys   *Keyring
	st     store.Tokens
	cfg    *issuerConfig
	prefix string // base URL with the token parameter, ready for the token
}

// NewIssuer returns an issuer that signs with the keyring's active key and
// records links in st. [WithBaseURL] is required. It returns an error at
// once for a missing or bad option, or an active key that cannot sign.
func NewIssuer(keys *Keyring, st store.Tokens, opts ...IssuerOption) (*Issuer, error) {
	if keys == nil || st == nil {
		return nil, fmt.Errorf("%w: nil keyring or store", ErrConfig)
	}
	cfg, err := newIssuerConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.base == nil {
		return nil, fmt.Errorf("%w: the issuer needs a base URL (WithBaseURL)", ErrConfig)
	}
	if active := keys.snapshot().active; !active.canSign() {
		return nil, fmt.Errorf("%w: the active key %q cannot sign", ErrKeyring, active.id)
	}
	q := cfg.base.Query()
	if q.Has(cfg.param) {
		return nil, fmt.Errorf("%w: base URL already has a %q parameter", ErrConfig, cfg.param)
	}
	u := *cfg.base
	prefix := u.String()
	if u.RawQuery == "" {
		prefix += "?"
	} else {
		prefix += "&"
	}
	prefix += url.QueryEscape(cfg.param) + "="
	return &Issuer{keys: keys, st: st, cfg: cfg, prefix: prefix}, nil
}

// Parser returns a parser that accepts exactly what this issuer mints: the
// same keyring, issuer name, parameter, maximum lifetime, clock and logger.
// opts may set its leeway ([WithLeeway]), or override those.
func (i *Issuer) Parser(opts ...ParserOption) (*Parser, error) {
	return NewParser(i.keys, append([]ParserOption{withCommon(i.cfg.common)}, opts...)...)
}

// TTL returns the lifetime of a link minted one at a time without a
// lifetime of its own ([WithTTL], [DefaultTTL]).
func (i *Issuer) TTL() time.Duration { return i.cfg.ttl }

// Request asks for one link.
type Request struct {
	// Member is the member id the link logs in as. Required.
	Member string
	// Purpose is what the link is for: [PurposeLogin], [PurposeReset],
	// [PurposeVerifyEmail] or the site's own. Required.
	Purpose string
	// Recipient is the email address the link will be sent to. The token is
	// bound to its canonical form ([CanonicalEmail]), so that a person can
	// confirm it and the send guard can check it. Required in a batch.
	Recipient string
	// Number is the member number the person can confirm, if any
	// ([CanonicalNumber]).
	Number string
	// TTL is the link's lifetime; zero means the issuer's default: that of
	// [WithTTL] for [Issuer.Mint], of [WithBatchTTL] in a batch.
	TTL time.Duration
}

// Link is a minted link. URL and Token are secrets: whoever holds them can
// log in as the member. String, %v and slog never show them; print URL
// explicitly where it must go (the member's message).
type Link struct {
	// URL is the link to send.
	URL string
	// Token is the bare token, as the URL carries it.
	Token string
	// Claims describe the link.
	Claims Claims
	// Recipient is the canonical recipient address, "" if none.
	Recipient string
}

// String describes the link without its token.
func (l Link) String() string {
	return fmt.Sprintf("token.Link{id: %s, member: %q, purpose: %s, batch: %q, expires: %s}",
		l.Claims.ID, l.Claims.Member, l.Claims.Purpose, l.Claims.Batch, l.Claims.ExpiresAt.Format(time.RFC3339))
}

// Format prints [Link.String] for every verb.
func (l Link) Format(f fmt.State, _ rune) { fmt.Fprint(f, l.String()) }

// LogValue logs the link's claims, never its token.
func (l Link) LogValue() slog.Value { return l.Claims.LogValue() }

// Mint mints one link, records it in the store, and returns it. On any error
// no link is returned, and none is usable.
func (i *Issuer) Mint(ctx context.Context, req Request) (*Link, error) {
	now := i.cfg.clock()
	l, rec, err := i.mint(ctx, req, "", now, i.keys.snapshot().active)
	if err != nil {
		return nil, err
	}
	if err := i.st.Insert(ctx, []store.Record{rec}); err != nil {
		i.cfg.logger.WarnContext(ctx, "oncelink: mint not recorded", "token_id", l.Claims.ID, "member", req.Member, "error", err)
		return nil, fmt.Errorf("%w: %w", ErrMint, err)
	}
	return l, nil
}

// MintBatch mints one link per request for one batch, in request order,
// and records them all in one store call: all or nothing. Every request
// needs a recipient. An empty batch id is replaced by a new one, which the
// links carry. At most 100,000 requests; use [Issuer.MintStream]
// for more.
func (i *Issuer) MintBatch(ctx context.Context, batch string, reqs []Request) ([]*Link, error) {
	if len(reqs) > i.cfg.maxBatch {
		return nil, fmt.Errorf("%w: %d requests in one batch call, more than %d; use MintStream", ErrRequest, len(reqs), i.cfg.maxBatch)
	}
	if batch == "" {
		batch = NewBatchID()
	}
	if err := validText("batch", batch, store.MaxBatchLen); err != nil {
		return nil, err
	}
	links, err := i.record(ctx, batch, reqs)
	if ie := (*insertError)(nil); errors.As(err, &ie) {
		i.cfg.logger.WarnContext(ctx, "oncelink: batch not recorded", "batch", batch, "links", len(reqs), "error", ie.err)
		return nil, fmt.Errorf("%w: batch %q: %w", ErrMint, batch, ie.err)
	}
	return links, err
}

func (i *Issuer) mintMany(ctx context.Context, batch string, reqs []Request) ([]*Link, []store.Record, error) {
	now := i.cfg.clock()
	key := i.keys.snapshot().active
	links := make([]*Link, len(reqs))
	recs := make([]store.Record, len(reqs))
	// Signing is CPU work: large batches are signed on every core, each
	// worker on its own range, so the links keep their request order.
	workers := min(runtime.GOMAXPROCS(0), len(reqs)/parallelMin+1)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*len(reqs)/workers, (w+1)*len(reqs)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := lo; n < hi; n++ {
				if reqs[n].Recipient == "" {
					errs[w] = fmt.Errorf("%w: request %d of batch %q has no recipient", ErrRequest, n, batch)
					return
				}
				l, rec, err := i.mint(ctx, reqs[n], batch, now, key)
				if err != nil {
					errs[w] = fmt.Errorf("request %d: %w", n, err)
					return
				}
				links[n], recs[n] = l, rec
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return links, recs, nil
}

// parallelMin is the number of links per signing worker below which a batch
// is signed on fewer cores.
const parallelMin = 256

// NewBatchID returns a new batch id: "b-" and a UUIDv7, so that batch ids
// sort by creation time.
func NewBatchID() string { return "b-" + uuid.Must(uuid.NewV7()).String() }

// mint builds one signed link and its record, without touching the store.
func (i *Issuer) mint(ctx context.Context, req Request, batch string, now time.Time, key *Key) (*Link, store.Record, error) {
	var rec store.Record
	if err := validText("member", req.Member, store.MaxMemberLen); err != nil {
		return nil, rec, err
	}
	if err := validPurpose(req.Purpose); err != nil {
		return nil, rec, err
	}
	ttl := req.TTL
	switch {
	case ttl != 0:
	case batch != "":
		ttl = i.cfg.batchTTL
	default:
		ttl = i.cfg.ttl
	}
	if ttl < minTTL || ttl > i.cfg.maxTTL {
		return nil, rec, fmt.Errorf("%w: lifetime %v outside %v to %v", ErrRequest, ttl, minTTL, i.cfg.maxTTL)
	}
	var recipient, number string
	var err error
	if req.Recipient != "" {
		if recipient, err = CanonicalEmail(req.Recipient); err != nil {
			return nil, rec, err
		}
	}
	if req.Number != "" {
		if number, err = CanonicalNumber(req.Number); err != nil {
			return nil, rec, err
		}
	}
	var state []byte
	if i.cfg.state != nil {
		if state, err = hook.State(ctx, i.cfg.state, req.Member); err != nil {
			return nil, rec, fmt.Errorf("%w: member state: %w", ErrMint, err)
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, rec, fmt.Errorf("%w: token id: %w", ErrMint, err)
	}
	var secret [secretLen]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, rec, fmt.Errorf("%w: randomness: %w", ErrMint, err)
	}
	iat := now.Unix()
	exp := now.Add(ttl).Unix()
	w := wire.Claims{
		Iss: i.cfg.issuer, Sub: req.Member, Aud: req.Purpose, Exp: exp, Iat: iat,
		Jti: id.String(), Bat: batch, Sec: b64.EncodeToString(secret[:]),
	}
	if recipient != "" {
		b := key.signer.bind(KindEmail, w.Jti, recipient)
		w.Rcp = b64.EncodeToString(b[:])
	}
	if number != "" {
		b := key.signer.bind(KindNumber, w.Jti, number)
		w.Mno = b64.EncodeToString(b[:])
	}
	url, err := key.signer.sign(i.prefix, &w, key.signKey())
	if err != nil {
		return nil, rec, fmt.Errorf("%w: signing: %w", ErrMint, err)
	}
	tok := url[len(i.prefix):]
	claims := Claims{
		ID: w.Jti, KeyID: key.id, Issuer: w.Iss, Member: w.Sub, Purpose: w.Aud, Batch: batch,
		IssuedAt: time.Unix(iat, 0).UTC(), ExpiresAt: time.Unix(exp, 0).UTC(),
		BoundEmail: recipient != "", BoundNumber: number != "",
	}
	rec = store.Record{
		ID: w.Jti, Member: req.Member, Purpose: req.Purpose, Batch: batch, Recipient: recipient,
		SecretHash: sha256.Sum256(secret[:]), State: state,
		IssuedAt: store.Micro(now), ExpiresAt: claims.ExpiresAt,
	}
	return &Link{URL: url, Token: tok, Claims: claims, Recipient: recipient}, rec, nil
}

// defaultChunk is the number of links [Issuer.MintStream] records per store
// call when the caller passes 0.
const defaultChunk = 10000

// MintStream mints links for a stream of requests of one batch in chunks, so
// that memory stays bounded whatever the number of members. Each chunk is
// recorded with one store call, all or nothing, and handed to emit before
// the next chunk is minted; emit sends the chunk's messages. A chunk of 0
// is 10,000 links. On the first
// error (a bad request, the store, or emit) MintStream stops and returns it
// with the number of links recorded so far. Chunks already recorded stay
// valid: revoke the batch to kill them. An empty batch id is replaced by a
// new one; the links carry it.
func (i *Issuer) MintStream(ctx context.Context, batch string, reqs iter.Seq[Request], chunk int, emit func([]*Link) error) (int, error) {
	if chunk <= 0 {
		chunk = defaultChunk
	}
	if chunk > i.cfg.maxBatch {
		return 0, fmt.Errorf("%w: chunk of %d, more than %d", ErrRequest, chunk, i.cfg.maxBatch)
	}
	if batch == "" {
		batch = NewBatchID()
	}
	if err := validText("batch", batch, store.MaxBatchLen); err != nil {
		return 0, err
	}
	recorded := 0
	buf := make([]Request, 0, chunk)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		links, err := i.record(ctx, batch, buf)
		if ie := (*insertError)(nil); errors.As(err, &ie) {
			return fmt.Errorf("%w: batch %q after %d links: %w", ErrMint, batch, recorded, ie.err)
		}
		if err != nil {
			return err
		}
		recorded += len(links)
		buf = buf[:0]
		return emit(links)
	}
	for r := range reqs {
		if err := ctx.Err(); err != nil {
			return recorded, err
		}
		buf = append(buf, r)
		if len(buf) == chunk {
			if err := flush(); err != nil {
				return recorded, err
			}
		}
	}
	return recorded, flush()
}
