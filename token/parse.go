package token

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oncelink/oncelink/internal/hook"
	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/store"
)

// maxInputLen bounds a presented link (a URL or a bare token), checked
// before any parsing; a bare token is bounded by wire.MaxTokenLen.
const maxInputLen = 4096

// Parser checks presented links: bounded parsing, the signature and key id,
// then the registered claims. It consults no store; the verify package
// does that after it. A Parser is safe for concurrent use.
type Parser struct {
	keys *Keyring
	cfg  *parserConfig
	jwts sync.Map // purpose -> *jwt.Parser
}

// NewParser returns a parser for the tokens an issuer with the same options
// mints. It needs the issuer name ([WithIssuer], or [WithBaseURL] to derive
// it). [Issuer.Parser] returns a parser that matches an issuer.
func NewParser(keys *Keyring, opts ...ParserOption) (*Parser, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: nil keyring", ErrConfig)
	}
	cfg, err := newParserConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.issuer == "" {
		return nil, fmt.Errorf("%w: the parser needs an issuer name (WithIssuer or WithBaseURL)", ErrConfig)
	}
	return &Parser{keys: keys, cfg: cfg}, nil
}

func init() {
	hook.ParserNow = func(p any) time.Time { return p.(*Parser).cfg.clock() }
	hook.ParserParam = func(p any) string { return p.(*Parser).cfg.param }
}

// Verified is a token whose signature and claims were checked. It is not yet
// known to be unused: only the store knows that.
type Verified struct {
	Claims
	secretHash [32]byte
	email      [bindingLen]byte
	number     [bindingLen]byte
	signer     *signer
}

// SecretHash returns the SHA-256 hash of the token's secret, which the
// store compares with the hash it kept.
func (v *Verified) SecretHash() [32]byte { return v.secretHash }

// Confirm compares a canonical identity of a kind ([KindMember],
// [KindEmail], [KindNumber]) with the token's binding for that kind. It
// reports whether the token is bound to that kind at all, and whether the
// identity matches. The comparison takes constant time.
func (v *Verified) Confirm(kind Kind, canonical string) (bound, match bool) {
	switch kind {
	case KindMember:
		return true, subtle.ConstantTimeCompare([]byte(canonical), []byte(v.Member)) == 1
	case KindEmail:
		if !v.BoundEmail {
			return false, false
		}
		b := v.signer.bind(KindEmail, v.ID, canonical)
		return true, subtle.ConstantTimeCompare(b[:], v.email[:]) == 1
	case KindNumber:
		if !v.BoundNumber {
			return false, false
		}
		b := v.signer.bind(KindNumber, v.ID, canonical)
		return true, subtle.ConstantTimeCompare(b[:], v.number[:]) == 1
	}
	return false, false
}

// Extract returns the bare token of a presented link: a full URL carrying
// the token in its query parameter, or a bare token. It checks only the
// shape, within bounded work.
func (p *Parser) Extract(input string) (string, error) {
	if len(input) > maxInputLen {
		return "", fmt.Errorf("%w: input longer than %d bytes", ErrMalformed, maxInputLen)
	}
	s := strings.TrimSpace(input)
	if strings.ContainsAny(s, "?/:") {
		_, query, ok := strings.Cut(s, "?")
		if !ok {
			return "", fmt.Errorf("%w: a link without a query", ErrMalformed)
		}
		query, _, _ = strings.Cut(query, "#")
		vals, err := url.ParseQuery(query)
		if err != nil {
			return "", fmt.Errorf("%w: unparsable query", ErrMalformed)
		}
		ts := vals[p.cfg.param]
		if len(ts) != 1 {
			return "", fmt.Errorf("%w: a link needs exactly one %q parameter", ErrMalformed, p.cfg.param)
		}
		s = ts[0]
	}
	if err := tokenShape(s); err != nil {
		return "", err
	}
	return s, nil
}

// tokenShape checks that s looks like a compact JWT: base64url segments,
// exactly two dots, bounded length.
func tokenShape(s string) error {
	if err := wire.Shape(s); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// Parse checks a presented link (a URL or a bare token) minted for purpose,
// in this order: bounded shape, header, signature with the key its "kid"
// names, then the claims: type, issuer, issue time, purpose, expiry,
// lifetime. The first failure decides the error; a token that is both
// forged and expired is refused as forged ([ErrSignature]). An empty purpose
// accepts any purpose: use it only to inspect links, never to consume them.
func (p *Parser) Parse(input, purpose string) (*Verified, error) {
	raw, err := p.Extract(input)
	if err != nil {
		return nil, err
	}
	jp := p.jwtParser(purpose)
	ring := p.keys.snapshot()
	if h64, _, _ := strings.Cut(raw, "."); ring.headers[h64] == nil {
		// Not a header oncelink writes for a key of the ring: read it as
		// Inspect does, so that both refuse the same names.
		hb, err := b64.Strict().DecodeString(h64)
		if err != nil {
			return nil, fmt.Errorf("%w: header encoding", ErrMalformed)
		}
		if _, err := wire.DecodeHeader(hb); err != nil {
			return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
		}
	}
	var w wire.Claims
	var key *Key
	tok, err := jp.ParseWithClaims(raw, &w, func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok {
			return nil, errNoKid
		}
		k, ok := ring.keys[kid]
		if !ok {
			return nil, errUnknownKid
		}
		if t.Method.Alg() != string(k.alg) {
			return nil, errAlgMismatch
		}
		key = k
		return k.verifyKey(), nil
	})
	if err != nil {
		return nil, classify(err)
	}
	if typ, _ := tok.Header["typ"].(string); typ != wire.TokenType {
		return nil, fmt.Errorf("%w: token type is not %s", ErrClaims, wire.TokenType)
	}
	return p.check(&w, key)
}

var (
	errNoKid       = errors.New("no key id")
	errUnknownKid  = errors.New("unknown key id")
	errAlgMismatch = errors.New("algorithm does not match the key")
)

// classify maps golang-jwt's errors to oncelink's. Claim errors are only
// looked at after the signature was verified (golang-jwt checks it first),
// and the most suspicious claim error wins: claims, then purpose, then
// expiry.
func classify(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: not a well-formed token", ErrMalformed)
	case errors.Is(err, errNoKid), errors.Is(err, errUnknownKid), errors.Is(err, errAlgMismatch):
		return fmt.Errorf("%w: %v", ErrSignature, firstOf(err, errNoKid, errUnknownKid, errAlgMismatch))
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return fmt.Errorf("%w: signature does not verify", ErrSignature)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf("%w: wrong issuer", ErrClaims)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w: issued in the future", ErrClaims)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: a required claim is missing", ErrClaims)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf("%w: the link is for another purpose", ErrPurpose)
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	}
	return fmt.Errorf("%w: token refused", ErrMalformed)
}

func firstOf(err error, targets ...error) error {
	for _, t := range targets {
		if errors.Is(err, t) {
			return t
		}
	}
	return err
}

func (p *Parser) jwtParser(purpose string) *jwt.Parser {
	if jp, ok := p.jwts.Load(purpose); ok {
		return jp.(*jwt.Parser)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{string(HS256), string(EdDSA)}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(p.cfg.issuer),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(p.cfg.leeway),
		jwt.WithTimeFunc(p.cfg.clock),
		jwt.WithStrictDecoding(),
	}
	if purpose != "" {
		opts = append(opts, jwt.WithAudience(purpose))
	}
	jp, _ := p.jwts.LoadOrStore(purpose, jwt.NewParser(opts...))
	return jp.(*jwt.Parser)
}

// check validates what golang-jwt does not: the expiry without leeway,
// the lifetime, the shape of every oncelink claim.
func (p *Parser) check(w *wire.Claims, key *Key) (*Verified, error) {
	now := p.cfg.clock()
	if w.Iat <= 0 {
		return nil, fmt.Errorf("%w: issue time missing", ErrClaims)
	}
	if w.Exp-w.Iat > int64((p.cfg.maxTTL+p.cfg.leeway)/time.Second) || w.Exp <= w.Iat {
		return nil, fmt.Errorf("%w: lifetime out of bounds", ErrClaims)
	}
	if !wire.ValidPurpose(w.Aud) {
		return nil, fmt.Errorf("%w: purpose claim", ErrClaims)
	}
	if w.Exp <= now.Unix() {
		return nil, ErrExpired
	}
	if !store.ValidID(w.Jti) {
		return nil, fmt.Errorf("%w: token id", ErrClaims)
	}
	if validText("member", w.Sub, store.MaxMemberLen) != nil {
		return nil, fmt.Errorf("%w: member claim", ErrClaims)
	}
	if w.Bat != "" && validText("batch", w.Bat, store.MaxBatchLen) != nil {
		return nil, fmt.Errorf("%w: batch claim", ErrClaims)
	}
	v := &Verified{
		Claims: Claims{
			ID: w.Jti, KeyID: key.id, Issuer: w.Iss, Member: w.Sub, Purpose: w.Aud, Batch: w.Bat,
			IssuedAt: time.Unix(w.Iat, 0).UTC(), ExpiresAt: time.Unix(w.Exp, 0).UTC(),
		},
		signer: key.signer,
	}
	var secret [secretLen]byte
	if n, err := b64.Decode(secret[:], []byte(w.Sec)); err != nil || n != secretLen || len(w.Sec) != b64.EncodedLen(secretLen) {
		return nil, fmt.Errorf("%w: secret claim", ErrClaims)
	}
	v.secretHash = sha256.Sum256(secret[:])
	if w.Rcp != "" {
		if !decodeBinding(&v.email, w.Rcp) {
			return nil, fmt.Errorf("%w: recipient binding", ErrClaims)
		}
		v.BoundEmail = true
	}
	if w.Mno != "" {
		if !decodeBinding(&v.number, w.Mno) {
			return nil, fmt.Errorf("%w: member number binding", ErrClaims)
		}
		v.BoundNumber = true
	}
	return v, nil
}

func decodeBinding(dst *[bindingLen]byte, s string) bool {
	if len(s) != b64.EncodedLen(bindingLen) {
		return false
	}
	n, err := b64.Decode(dst[:], []byte(s))
	return err == nil && n == bindingLen
}
