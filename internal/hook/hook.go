package hook

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

var (
	// ParserNow returns the clock reading of p, a *token.Parser: the clock
	// that judges expiry, and that every package built on the parser
	// reads. Set by package token.
	ParserNow func(p any) time.Time
	// ParserParam returns the query parameter that carries the token in the
	// links p, a *token.Parser, reads. Set by package token.
	ParserParam func(p any) string
	// VerifierParser returns the *token.Parser that v, a *verify.Verifier,
	// parses links with. Set by package verify.
	VerifierParser func(v any) any
)

// State calls a site's state function (token.StateFunc) for a member, as
// the issuer does when it mints and the verifier when it checks, and
// returns the SHA-256 hash of the state, which stores compare. A panic in
// the function is an error.
func State(ctx context.Context, f func(context.Context, string) ([]byte, error), member string) (hash []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			hash, err = nil, errors.New("state function panicked")
		}
	}()
	s, err := f(ctx, member)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(s)
	return h[:], nil
}
