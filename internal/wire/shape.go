package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MaxTokenLen bounds a bare token, in bytes.
const MaxTokenLen = 2048

// Start is how every compact JWT, an oncelink token included, begins: the
// base64url encoding of `{"`.
const Start = "eyJ"

// Kind classifies text that begins with [Start]; see [Span].
type Kind int

const (
	// NotToken: the text is not an oncelink token (another JWT, or text).
	NotToken Kind = iota
	// Partial: the text begins as an oncelink token does but holds no
	// whole one: cut short, or with a header oncelink does not write.
	Partial
	// Whole: the text begins with a whole oncelink token, in shape: an
	// oncelink header, claims, and a signature of its algorithm's length.
	// Only token.Parser.Inspect says whether it is authentic.
	Whole
)

// b64url marks the base64url alphabet.
var b64url = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// Shape checks that s looks like a compact JWT: base64url segments,
// exactly two dots, at most [MaxTokenLen] bytes. Its error says what is
// wrong, never what s holds.
func Shape(s string) error {
	if s == "" {
		return errors.New("empty token")
	}
	if len(s) > MaxTokenLen {
		return fmt.Errorf("token longer than %d bytes", MaxTokenLen)
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case b64url[c]:
		case c == '.':
			dots++
		default:
			return errors.New("token has a character outside base64url")
		}
	}
	if dots != 2 {
		return errors.New("token must have three segments")
	}
	return nil
}

// IsToken reports cheaply whether s has the header of an oncelink token
// (its type), without verifying anything: for finding links in text.
func IsToken(s string) bool {
	h64, _, ok := strings.Cut(s, ".")
	if !ok || len(h64) > 256 {
		return false
	}
	var hb [192]byte
	n, err := B64.Decode(hb[:], []byte(h64))
	return err == nil && bytes.Contains(hb[:n], typMarker)
}

var typMarker = []byte(`"typ":"` + TokenType + `"`)

// oncelink writes its header with the fields sorted by name ([EncodeHeader]);
// the kid follows these fixed bytes, so every header a key writes begins
// with one of their encodings.
var headerStarts = [...]struct {
	enc    string
	sigLen int
}{
	{base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":`)), 43},
	{base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":`)), 86},
}

// minPartial is the shortest text taken for the start of a header: the
// encoding of `{"alg":`, which nothing but a JWT header begins with.
const minPartial = 10

// Span reports whether s, a run of base64url characters and dots found in
// text, begins with an oncelink token, and how long the token is. The
// shape decides, nothing is verified: the header is one an oncelink key
// writes (or any header of type oncelink+jwt), the signature has the length
// its algorithm gives. Text after the token's signature is not part of it
// (n stops there). Text that begins like an oncelink header, but is cut
// short or otherwise not a whole token, is [Partial]: a finder must not take
// it for text.
func Span(s []byte) (n int, kind Kind) {
	if !bytes.HasPrefix(s, []byte(Start)) {
		return 0, NotToken
	}
	h, rest, dot := bytes.Cut(s, []byte("."))
	sigLen, ours := headerSigLen(h, dot)
	if !ours {
		return 0, NotToken
	}
	if !dot || sigLen == 0 {
		return 0, Partial
	}
	c, sig, dot := bytes.Cut(rest, []byte("."))
	if !dot || len(c) == 0 || bytes.IndexByte(sig, '.') >= 0 && bytes.IndexByte(sig, '.') < sigLen || len(sig) < sigLen {
		return 0, Partial
	}
	n = len(h) + 1 + len(c) + 1 + sigLen
	if Shape(string(s[:n])) != nil {
		return 0, Partial
	}
	return n, Whole
}

// headerSigLen says whether h (the header segment, whole when complete)
// is, or begins like, an oncelink header, and the signature length of its
// algorithm (0 when unknown).
func headerSigLen(h []byte, complete bool) (sigLen int, ours bool) {
	for _, hs := range headerStarts {
		k := min(len(h), len(hs.enc))
		if k >= minPartial && string(h[:k]) == hs.enc[:k] {
			if complete && k < len(hs.enc) {
				return 0, false // a complete header shorter than ours
			}
			if complete && IsToken(string(h)+".") {
				return hs.sigLen, true
			}
			return 0, true
		}
	}
	if !complete || len(h) > 512 {
		return 0, false
	}
	// Any other header of type oncelink+jwt (fields in another order).
	var hb [384]byte
	n, err := B64.Decode(hb[:], h)
	if err != nil || !bytes.Contains(hb[:n], typMarker) {
		return 0, false
	}
	switch {
	case bytes.Contains(hb[:n], []byte(`"alg":"HS256"`)):
		return 43, true
	case bytes.Contains(hb[:n], []byte(`"alg":"EdDSA"`)):
		return 86, true
	}
	return 0, true
}
