package token

import (
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oncelink/oncelink/internal/wire"
)

// Inspect checks a bare token as [Parser.Parse] does for any purpose (the
// signature with the key its "kid" names, the issuer, the expiry and issue
// time, the lifetime and every oncelink claim) without golang-jwt's generic
// claim decoding: it is the send guard's fast path over outgoing mail. It
// does not accept a URL; use [Parser.Extract] first.
func (p *Parser) Inspect(raw string) (*Verified, error) {
	if err := tokenShape(raw); err != nil {
		return nil, err
	}
	h64, rest, _ := strings.Cut(raw, ".")
	c64, s64, _ := strings.Cut(rest, ".")
	ring := p.keys.snapshot()
	key, ok := ring.headers[h64] // the header oncelink writes for a key of the ring
	if !ok {
		hb, err := b64.Strict().DecodeString(h64)
		if err != nil {
			return nil, fmt.Errorf("%w: header encoding", ErrMalformed)
		}
		h, err := wire.DecodeHeader(hb)
		if err != nil {
			return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
		}
		if h.Typ != wire.TokenType {
			// Not an oncelink token: the caller decides whether that matters.
			return nil, fmt.Errorf("%w: token type is not %s", ErrClaims, wire.TokenType)
		}
		if key, ok = ring.keys[h.Kid]; !ok || h.Alg != string(key.alg) {
			return nil, fmt.Errorf("%w: unknown key id or algorithm", ErrSignature)
		}
	}
	sig, err := b64.Strict().DecodeString(s64)
	if err != nil {
		return nil, fmt.Errorf("%w: signature encoding", ErrMalformed)
	}
	var m jwt.SigningMethod = jwt.SigningMethodHS256
	if key.alg == EdDSA {
		m = jwt.SigningMethodEdDSA
	}
	if err := m.Verify(raw[:len(h64)+1+len(c64)], sig, key.verifyKey()); err != nil {
		return nil, fmt.Errorf("%w: signature does not verify", ErrSignature)
	}
	cb, err := b64.Strict().DecodeString(c64)
	if err != nil {
		return nil, fmt.Errorf("%w: claims encoding", ErrMalformed)
	}
	var w wire.Claims
	// The signature verified: these are claims a key of the ring signed,
	// almost always in oncelink's own layout, read by the decoder
	// golang-jwt calls for Parse.
	if err := w.UnmarshalJSON(cb); err != nil {
		return nil, fmt.Errorf("%w: claims", ErrMalformed)
	}
	if w.Iss != p.cfg.issuer {
		return nil, fmt.Errorf("%w: wrong issuer", ErrClaims)
	}
	if w.Iat > p.cfg.clock().Add(p.cfg.leeway).Unix() {
		return nil, fmt.Errorf("%w: issued in the future", ErrClaims)
	}
	return p.check(&w, key)
}
