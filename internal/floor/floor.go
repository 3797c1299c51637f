package floor

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Claims has the fields and sizes of an oncelink token's payload.
type Claims struct {
	jwt.RegisteredClaims
	Bat string `json:"bat,omitempty"`
	Sec string `json:"sec"`
	Rcp string `json:"rcp,omitempty"`
	Mno string `json:"mno,omitempty"`
}

// Mint is the floor of minting: a random secret and its hash, a UUIDv7, and
// a golang-jwt HS256 signature over claims of the same shape.
func Mint(key []byte) (string, [32]byte, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", [32]byte{}, err
	}
	h := sha256.Sum256(secret[:])
	id, err := uuid.NewV7()
	if err != nil {
		return "", h, err
	}
	now := time.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "https://members.example.org", Subject: "m-17", Audience: jwt.ClaimStrings{"login"},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now), ID: id.String(),
		},
		Sec: base64.RawURLEncoding.EncodeToString(secret[:]),
		Rcp: "KXeV5-wQeXhMeMrQ2p_27w", Mno: "9jvLLlUPpuopiV7n0GNK5w",
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = "k1"
	s, err := t.SignedString(key)
	return s, h, err
}

// Parser returns the golang-jwt parser the floor parses with: the same
// checks oncelink asks of golang-jwt.
func Parser() *jwt.Parser {
	return jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithIssuer("https://members.example.org"), jwt.WithAudience("login"), jwt.WithIssuedAt())
}

// Parse is the floor of verifying: golang-jwt parse and validate, then the
// hash of the secret.
func Parse(p *jwt.Parser, key []byte, tok string) ([32]byte, error) {
	var c Claims
	_, err := p.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return [32]byte{}, err
	}
	secret, err := base64.RawURLEncoding.DecodeString(c.Sec)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(secret), nil
}

// BenchParse runs the parse floor b.N times on one token: what every
// oncelink verification is measured against.
func BenchParse(b *testing.B) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		b.Fatal(err)
	}
	tok, _, err := Mint(key)
	if err != nil {
		b.Fatal(err)
	}
	p := Parser()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(p, key, tok); err != nil {
			b.Fatal(err)
		}
	}
}
