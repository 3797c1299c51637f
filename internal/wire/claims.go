package wire

import (
	"encoding/base64"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenType is the "typ" header of every oncelink token. A JWT of any
// other type is refused, so that no other JWT a site uses passes as a
// link.
const TokenType = "oncelink+jwt"

// Lengths of a token's secret and identity bindings, in bytes.
const (
	SecretLen  = 32 // 256 bits
	BindingLen = 16 // 128 bits
)

// B64 is the encoding of every segment and claim: base64url without
// padding.
var B64 = base64.RawURLEncoding

// Claims is the JSON payload of a token. Times are integer seconds: a
// fractional, negative or overflowing time is malformed.
type Claims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
	Jti string `json:"jti"`
	Bat string `json:"bat,omitempty"`
	Sec string `json:"sec"`
	Rcp string `json:"rcp,omitempty"`
	Mno string `json:"mno,omitempty"`
}

// The methods below let golang-jwt's validator check exp, iat, iss and aud.

func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numeric(c.Exp), nil }
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error)       { return numeric(c.Iat), nil }
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *Claims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *Claims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Aud == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{c.Aud}, nil
}

func numeric(s int64) *jwt.NumericDate {
	if s == 0 {
		return nil
	}
	return &jwt.NumericDate{Time: time.Unix(s, 0)}
}

// ValidPurpose reports whether p is a well-formed purpose ("aud"): 1 to 64
// lower-case letters, digits, '-', '_' and '.', starting with a letter or
// digit.
func ValidPurpose(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')) {
			return false
		}
	}
	return true
}
