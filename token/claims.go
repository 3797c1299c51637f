package token

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/oncelink/oncelink/internal/wire"
)

// b64 encodes every segment and claim.
var b64 = wire.B64

// Lengths of a token's secret and identity bindings, in bytes.
const (
	secretLen  = wire.SecretLen
	bindingLen = wire.BindingLen
)

// Purposes a site commonly mints links for. A site may use its own: a
// purpose is 1 to 64 characters of lower-case letters, digits, '-', '_' and
// '.', starting with a letter or digit.
const (
	PurposeLogin       = "login"
	PurposeReset       = "reset"
	PurposeVerifyEmail = "verify-email"
)

// Claims are the facts a token states, as the verifier read them. They hold
// no secret.
type Claims struct {
	// ID is the token id ("jti"), a UUIDv7; the store keys its record by it.
	ID string
	// KeyID is the id of the key that signed the token ("kid").
	KeyID string
	// Issuer names the site that minted the token ("iss").
	Issuer string
	// Member is the member the link is bound to ("sub").
	Member string
	// Purpose is what the link is for ("aud").
	Purpose string
	// Batch is the bulk send the link belongs to ("bat"), "" for a single link.
	Batch string
	// IssuedAt and ExpiresAt ("iat", "exp") are kept to the second.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// BoundEmail and BoundNumber report whether the token is bound to a
	// recipient email address and to a member number.
	BoundEmail  bool
	BoundNumber bool
}

// LogValue logs the claims that identify a link, never a secret.
func (c Claims) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token_id", c.ID),
		slog.String("member", c.Member),
		slog.String("purpose", c.Purpose),
		slog.String("batch", c.Batch),
	)
}

// Kind is a kind of identity a token can be bound to. It prefixes a
// canonical identity where one is recorded ("email:ann@example.org").
type Kind string

// Identity kinds.
const (
	KindMember Kind = "member"
	KindEmail  Kind = "email"
	KindNumber Kind = "number"
)

// A binding ties a canonical identity of a kind to one token: HMAC-SHA256
// under the signing key's binding secret, over the kind, the token id and
// the value, truncated to 128 bits ([signer.bind]). Bindings of one address
// in two tokens differ, and nobody without the binding secret can test a
// guess against a token offline.

// CanonicalEmail returns the canonical form of an email address, the form
// in which a recipient is bound to a token and a typed address is compared.
// The rule joins what is one mailbox and never what may be two:
//
//   - surrounding white space is removed, and the address is normalised to
//     Unicode NFC, so that a letter typed composed (U+00E5) or decomposed
//     ("a" and U+030A) is the same address;
//   - the domain is case-folded with Unicode's rules (domains are
//     case-insensitive, and IDNA maps case the same way): "Example.ORG",
//     "\u212Aelvin.example" (Kelvin sign) and "kelvin.example" are one domain;
//   - in the local part only the ASCII letters A to Z are lower-cased:
//     every mail system treats those alike, while a Unicode local part may
//     be case-sensitive, and Unicode case mapping joins distinct characters
//     (the long s becomes "s", the dotless i "i"). "Åse@" and "åse@" stay
//     two addresses;
//   - a local part with a character that NFC always replaces by another
//     (the Kelvin sign U+212A by "K", the Ohm and Angstrom signs, ...) is
//     refused: mail systems disagree on whether it names the mailbox of the
//     character NFC gives, so "\u212Aim@" is neither "kim@" nor anything;
//   - nothing else is rewritten: dots and "+tags" stay.
//
// The address must be valid UTF-8 without control characters, invisible
// format characters or inner white space, have one '@' with text on both
// sides, and be at most 254 bytes.
func CanonicalEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: email address empty, too long or not UTF-8", ErrRequest)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", fmt.Errorf("%w: email address contains white space, control or format characters", ErrRequest)
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "", fmt.Errorf("%w: email address needs exactly one '@' with text on both sides", ErrRequest)
	}
	for _, r := range local {
		if r >= utf8.RuneSelf && !norm.NFC.IsNormalString(string(r)) {
			return "", fmt.Errorf("%w: email address has a character that Unicode normalisation replaces (U+%04X)", ErrRequest, r)
		}
	}
	local = norm.NFC.String(lowerASCII(norm.NFC.String(local)))
	domain = norm.NFC.String(cases.Fold().String(domain))
	out := local + "@" + domain
	if len(out) > 254 {
		return "", fmt.Errorf("%w: email address too long", ErrRequest)
	}
	return out, nil
}

// lowerASCII lower-cases the ASCII letters of s and nothing else.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// CanonicalNumber returns the canonical form of a member number: surrounding
// white space removed, inner spaces and hyphens removed, ASCII letters
// upper-cased. What remains must be 1 to 64 ASCII letters and digits, so
// "ab-12 34" and "AB1234" are the same number.
func CanonicalNumber(s string) (string, error) {
	if len(s) > 256 {
		return "", fmt.Errorf("%w: member number too long", ErrRequest)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
		case '0' <= c && c <= '9', 'A' <= c && c <= 'Z':
			b.WriteByte(c)
		case 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		default:
			return "", fmt.Errorf("%w: member number may hold only letters, digits, spaces and '-'", ErrRequest)
		}
	}
	if b.Len() == 0 || b.Len() > 64 {
		return "", fmt.Errorf("%w: member number must have 1 to 64 letters or digits", ErrRequest)
	}
	return b.String(), nil
}

func validPurpose(p string) error {
	switch {
	case p == "" || len(p) > 64:
		return fmt.Errorf("%w: purpose must be 1 to 64 characters", ErrRequest)
	case !wire.ValidPurpose(p):
		return fmt.Errorf("%w: purpose %q: use lower-case letters, digits, '-', '_', '.'", ErrRequest, p)
	}
	return nil
}

// validText checks a member or batch id: 1 to max bytes of visible text, so
// that two ids an operator cannot tell apart are never two members. It must
// be valid UTF-8 without control, format (U+200B, U+202E, U+FEFF...) or
// other default-ignorable characters, start and end with a visible
// character, and hold at least one letter, digit, punctuation or symbol.
func validText(what, s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrRequest, what, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrRequest, what)
	}
	visible := false
	for _, r := range s {
		switch {
		case !unicode.IsGraphic(r) || unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector):
			return fmt.Errorf("%w: %s contains control, format or invisible characters", ErrRequest, what)
		case unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S):
			visible = true
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if !visible || unicode.IsSpace(first) || unicode.IsSpace(last) || unicode.Is(unicode.M, first) {
		return fmt.Errorf("%w: %s must be visible text, without surrounding white space", ErrRequest, what)
	}
	return nil
}
