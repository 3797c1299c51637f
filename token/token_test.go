package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oncelink/oncelink/internal/hook"
	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
)

var ctx = context.Background()

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)} }
func hmacKey(t testing.TB, id string) *Key {
	t.Helper()
	k, err := GenerateHMACKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t testing.TB, id string) *Key {
	t.Helper()
	k, err := GenerateEd25519Key(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fixture struct {
	clk  *clock
	keys *Keyring
	st   *memstore.Store
	iss  *Issuer
	p    *Parser
}

func setup(t testing.TB, key *Key, opts ...IssuerOption) *fixture {
	t.Helper()
	f := &fixture{clk: newClock(), st: memstore.New()}
	var err error
	if f.keys, err = NewKeyring(key); err != nil {
		t.Fatal(err)
	}
	opts = append([]IssuerOption{WithBaseURL("https://members.example.org/login"), WithClock(f.clk.now)}, opts...)
	if f.iss, err = NewIssuer(f.keys, f.st, opts...); err != nil {
		t.Fatal(err)
	}
	if f.p, err = f.iss.Parser(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) mint(t testing.TB, req Request) *Link {
	t.Helper()
	l, err := f.iss.Mint(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var login = Request{Member: "m-17", Purpose: PurposeLogin, Recipient: "Ann@Example.org", Number: "ab-1234"}

func algKeys(t testing.TB) map[Alg]*Key {
	return map[Alg]*Key{
		HS256: hmacKey(t, "h1"),
		EdDSA: edKey(t, "e1"),
	}
}

func TestRoundTrip(t *testing.T) {
	for alg, key := range algKeys(t) {
		t.Run(string(alg), func(t *testing.T) {
			f := setup(t, key)
			l := f.mint(t, login)
			if !strings.HasPrefix(l.URL, "https://members.example.org/login?t=") || !strings.HasSuffix(l.URL, l.Token) {
				t.Fatalf("URL = %q", l.URL)
			}
			for _, input := range []string{l.URL, l.Token, "  " + l.URL + "\n"} {
				v, err := f.p.Parse(input, PurposeLogin)
				if err != nil {
					t.Fatalf("Parse(%s): %v", alg, err)
				}
				if v.Claims != l.Claims {
					t.Fatalf("claims differ:\n got %+v\nwant %+v", v.Claims, l.Claims)
				}
			}
			v, _ := f.p.Parse(l.URL, PurposeLogin)
			rec, err := f.st.Get(ctx, l.Claims.ID)
			if err != nil {
				t.Fatalf("minted link not in the store: %v", err)
			}
			if rec.SecretHash != v.SecretHash() || rec.Member != "m-17" || rec.Recipient != "ann@example.org" ||
				!rec.ExpiresAt.Equal(l.Claims.ExpiresAt) || rec.Purpose != PurposeLogin {
				t.Fatalf("record %+v does not match the link %+v", rec, l.Claims)
			}
			if l.Claims.KeyID != key.ID() || !l.Claims.BoundEmail || !l.Claims.BoundNumber {
				t.Fatalf("claims %+v", l.Claims)
			}
		})
	}
}

func TestBindings(t *testing.T) {
	f := setup(t, hmacKey(t, "k"))
	l := f.mint(t, login)
	v, err := f.p.Parse(l.URL, PurposeLogin)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name             string
		kind             Kind
		value            string
		wantBound, match bool
	}{
		{"email canonical", KindEmail, "ann@example.org", true, true},
		{"email other", KindEmail, "bob@example.org", true, false},
		{"number", KindNumber, "AB1234", true, true},
		{"number other", KindNumber, "AB1235", true, false},
		{"member", KindMember, "m-17", true, true},
		{"member other", KindMember, "m-18", true, false},
		{"unknown kind", "phone", "123", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bound, match := v.Confirm(tc.kind, tc.value)
			if bound != tc.wantBound || match != tc.match {
				t.Fatalf("Confirm(%s, %q) = %v, %v; want %v, %v", tc.kind, tc.value, bound, match, tc.wantBound, tc.match)
			}
		})
	}
	plain := f.mint(t, Request{Member: "m-2", Purpose: PurposeLogin})
	pv, err := f.p.Parse(plain.Token, PurposeLogin)
	if err != nil {
		t.Fatal(err)
	}
	if bound, _ := pv.Confirm(KindEmail, "ann@example.org"); bound {
		t.Fatal("a link minted without a recipient claims an email binding")
	}
	// Two links for the same address carry different bindings.
	l2 := f.mint(t, login)
	if claim(t, l.Token, "rcp") == claim(t, l2.Token, "rcp") {
		t.Fatal("two tokens carry the same recipient binding: bindings link tokens to each other")
	}
	if strings.Contains(payload(t, l.Token), "ann") || strings.Contains(payload(t, l.Token), "1234") {
		t.Fatal("the token payload reveals the recipient or member number")
	}
}

func TestCanonical(t *testing.T) {
	emails := []struct {
		in, want string
		wantErr  bool
	}{
		{" Ann@Example.ORG ", "ann@example.org", false},
		{"ann.b+tag@example.org", "ann.b+tag@example.org", false},
		{"ÅSE@eksempel.dk", "Åse@eksempel.dk", false},
		{"ÅSE@EKSEMPEL.DK", "Åse@eksempel.dk", false},
		{"", "", true},
		{"no-at-sign", "", true},
		{"a@b@c", "", true},
		{"@example.org", "", true},
		{"ann@", "", true},
		{"an n@example.org", "", true},
		{"ann\x00@example.org", "", true},
		{strings.Repeat("a", 250) + "@b.dk", "", true},
		{"\xff@example.org", "", true},
	}
	for _, tc := range emails {
		got, err := CanonicalEmail(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("CanonicalEmail(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrRequest) {
			t.Errorf("CanonicalEmail(%q) error %v is not ErrRequest", tc.in, err)
		}
	}
	numbers := []struct {
		in, want string
		wantErr  bool
	}{
		{" ab-12 34 ", "AB1234", false},
		{"AB1234", "AB1234", false},
		{"10442", "10442", false},
		{"", "", true},
		{" - ", "", true},
		{"12/34", "", true},
		{"١٢٣", "", true},
		{strings.Repeat("1", 65), "", true},
	}
	for _, tc := range numbers {
		got, err := CanonicalNumber(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("CanonicalNumber(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func payload(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func claim(t testing.TB, tok, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payload(t, tok)), &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

// forge signs arbitrary header and claims with a key.
func forge(t testing.TB, header map[string]any, claims jwt.MapClaims, method jwt.SigningMethod, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header = header
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// goodClaims returns the claims of l as a map, to be altered and re-signed.
func goodClaims(t testing.TB, l *Link) jwt.MapClaims {
	t.Helper()
	var m jwt.MapClaims
	if err := json.Unmarshal([]byte(payload(t, l.Token)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func hdr(kid string) map[string]any {
	return map[string]any{"alg": "HS256", "typ": wire.TokenType, "kid": kid}
}

func TestParseErrors(t *testing.T) {
	key := hmacKey(t, "k1")
	f := setup(t, key)
	l := f.mint(t, login)
	secret := key.hmac
	otherKey := hmacKey(t, "k1") // same id, another secret: another keyring
	ek := edKey(t, "ed")
	if err := f.keys.Rotate(ek); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Rotate(hmacKey(t, "k2")); err != nil {
		t.Fatal(err)
	}
	now := f.clk.now().Unix()
	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := goodClaims(t, l)
		mod(c)
		return c
	}
	parts := strings.Split(l.Token, ".")
	// Change one character to another base64url character, in the
	// signature and in the payload.
	flipAt := func(i int) string {
		b := []byte(l.Token)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	sigFlip := flipAt(len(parts[0]) + len(parts[1]) + 2 + len(parts[2])/2)
	headerJSON, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payloadJSON, _ := base64.RawURLEncoding.DecodeString(parts[1])
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oncelink+jwt","kid":"k1"}`))

	cases := []struct {
		name    string
		input   string
		purpose string
		wantErr error
	}{
		{"empty", "", PurposeLogin, ErrMalformed},
		{"blank", "   ", PurposeLogin, ErrMalformed},
		{"one megabyte", strings.Repeat("a", 1<<20), PurposeLogin, ErrMalformed},
		{"over the token cap", strings.Repeat("a", wire.MaxTokenLen) + ".b.c", PurposeLogin, ErrMalformed},
		{"truncated signature", l.Token[:len(l.Token)-3], PurposeLogin, ErrSignature},
		{"truncated mid-character", l.Token[:len(l.Token)-10], PurposeLogin, ErrMalformed},
		{"truncated to two segments", parts[0] + "." + parts[1], PurposeLogin, ErrMalformed},
		{"four segments", l.Token + ".x", PurposeLogin, ErrMalformed},
		{"bit flipped in the signature", sigFlip, PurposeLogin, ErrSignature},
		{"foreign characters", strings.Replace(l.Token, "a", "%", 1), PurposeLogin, ErrMalformed},
		{"re-encoded with padding", base64.URLEncoding.EncodeToString(headerJSON) + "." + base64.URLEncoding.EncodeToString(payloadJSON) + "." + parts[2], PurposeLogin, ErrMalformed},
		{"re-encoded payload (spaces)", parts[0] + "." + base64.RawURLEncoding.EncodeToString(append(payloadJSON, ' ')) + "." + parts[2], PurposeLogin, ErrSignature},
		{"alg none", noneHeader + "." + parts[1] + ".", PurposeLogin, ErrSignature},
		{"alg none with signature", noneHeader + "." + parts[1] + "." + parts[2], PurposeLogin, ErrSignature},
		{"alg swapped to HS384", forge(t, map[string]any{"alg": "HS384", "typ": wire.TokenType, "kid": "k1"}, goodClaims(t, l), jwt.SigningMethodHS384, secret), PurposeLogin, ErrSignature},
		{"alg confusion: HS256 with the EdDSA public key as secret", forge(t, hdr("ed"), goodClaims(t, l), jwt.SigningMethodHS256, []byte(ek.pub)), PurposeLogin, ErrSignature},
		{"EdDSA header on an HS256 key id", forge(t, map[string]any{"alg": "EdDSA", "typ": wire.TokenType, "kid": "k1"}, goodClaims(t, l), jwt.SigningMethodEdDSA, ek.priv), PurposeLogin, ErrSignature},
		{"unknown kid", forge(t, hdr("nope"), goodClaims(t, l), jwt.SigningMethodHS256, secret), PurposeLogin, ErrSignature},
		{"hostile kid", forge(t, hdr("../../../etc/passwd"+strings.Repeat("x", 500)), goodClaims(t, l), jwt.SigningMethodHS256, secret), PurposeLogin, ErrSignature},
		{"numeric kid", forge(t, map[string]any{"alg": "HS256", "typ": wire.TokenType, "kid": 1}, goodClaims(t, l), jwt.SigningMethodHS256, secret), PurposeLogin, ErrSignature},
		{"no kid", forge(t, map[string]any{"alg": "HS256", "typ": wire.TokenType}, goodClaims(t, l), jwt.SigningMethodHS256, secret), PurposeLogin, ErrSignature},
		{"another keyring", forge(t, hdr("k1"), goodClaims(t, l), jwt.SigningMethodHS256, otherKey.hmac), PurposeLogin, ErrSignature},
		{"expired and forged", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["exp"] = now - 3600; c["iat"] = now - 7200 }), jwt.SigningMethodHS256, otherKey.hmac), PurposeLogin, ErrSignature},
		{"wrong typ", forge(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}, goodClaims(t, l), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"no typ", forge(t, map[string]any{"alg": "HS256", "kid": "k1"}, goodClaims(t, l), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"wrong iss", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"wrong aud", l.Token, PurposeReset, ErrPurpose},
		{"aud as array", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["aud"] = []string{"login"} }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrMalformed},
		{"no aud", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { delete(c, "aud") }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"expired", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["exp"] = now - 1; c["iat"] = now - 100 }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrExpired},
		{"expired and wrong purpose", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["exp"] = now - 3600; c["iat"] = now - 7200 }), jwt.SigningMethodHS256, secret), PurposeReset, ErrPurpose},
		{"no exp", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { delete(c, "exp") }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"no iat", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { delete(c, "iat") }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"iat in the future", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["iat"] = now + 600; c["exp"] = now + 3600 }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"iat within leeway", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["iat"] = now + 10; c["exp"] = now + 3600 }), jwt.SigningMethodHS256, secret), PurposeLogin, nil},
		{"lifetime too long", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["exp"] = now + int64(hardMaxTTL/time.Second) }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"exp overflowing", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["exp"] = 1e300 }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrMalformed},
		{"exp fractional", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["exp"] = float64(now) + 3600.5 }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrMalformed},
		{"exp as string", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrMalformed},
		{"iat negative", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["iat"] = -5 }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"jti not a uuid", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["jti"] = "1" }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"no member", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { delete(c, "sub") }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"short secret", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["sec"] = "AAAA" }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"bad binding", forge(t, hdr("k1"), with(func(c jwt.MapClaims) { c["rcp"] = "!!" }), jwt.SigningMethodHS256, secret), PurposeLogin, ErrClaims},
		{"url without token", "https://members.example.org/login?x=1", PurposeLogin, ErrMalformed},
		{"url with two tokens", l.URL + "&t=" + l.Token, PurposeLogin, ErrMalformed},
		{"url with bad escape", "https://members.example.org/login?t=%zz", PurposeLogin, ErrMalformed},
		{"good url", l.URL, PurposeLogin, nil},
		{"good url with fragment", l.URL + "#x", PurposeLogin, nil},
		{"any purpose", l.Token, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.p.Parse(tc.input, tc.purpose)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Parse: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse: got %v, want %v", err, tc.wantErr)
			}
			if v != nil {
				t.Fatal("a refused token returned claims")
			}
			if strings.Contains(err.Error(), parts[2]) || strings.Contains(err.Error(), parts[1]) {
				t.Fatal("the error contains token material")
			}
		})
	}
}

// TestPayloadFlips changes every character of the payload in turn: each
// variant is refused as malformed (the JSON broke) or forged.
func TestPayloadFlips(t *testing.T) {
	f := setup(t, hmacKey(t, "k"))
	l := f.mint(t, login)
	parts := strings.Split(l.Token, ".")
	for i := len(parts[0]) + 1; i < len(parts[0])+1+len(parts[1]); i++ {
		b := []byte(l.Token)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		_, err := f.p.Parse(string(b), PurposeLogin)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) {
			t.Fatalf("payload changed at %d: %v, want ErrMalformed or ErrSignature", i, err)
		}
	}
}

func TestRotation(t *testing.T) {
	for alg, key := range algKeys(t) {
		t.Run(string(alg), func(t *testing.T) {
			f := setup(t, key)
			old := f.mint(t, login)
			next := hmacKey(t, "next")
			if err := f.keys.Rotate(next); err != nil {
				t.Fatal(err)
			}
			fresh := f.mint(t, login)
			if fresh.Claims.KeyID != "next" || old.Claims.KeyID != key.ID() {
				t.Fatalf("key ids %q and %q", old.Claims.KeyID, fresh.Claims.KeyID)
			}
			for _, l := range []*Link{old, fresh} {
				if _, err := f.p.Parse(l.Token, PurposeLogin); err != nil {
					t.Fatalf("after rotation: %v", err)
				}
			}
			if err := f.keys.Remove("next"); !errors.Is(err, ErrKeyring) {
				t.Fatalf("removing the active key: %v", err)
			}
			if err := f.keys.Remove(key.ID()); err != nil {
				t.Fatal(err)
			}
			if _, err := f.p.Parse(old.Token, PurposeLogin); !errors.Is(err, ErrSignature) {
				t.Fatalf("a token of a removed key: %v, want ErrSignature", err)
			}
			if _, err := f.p.Parse(fresh.Token, PurposeLogin); err != nil {
				t.Fatalf("the active key stopped verifying: %v", err)
			}
			if err := f.keys.Rotate(hmacKey(t, "next")); !errors.Is(err, ErrKeyring) {
				t.Fatalf("rotating to a duplicate id: %v", err)
			}
			if got := f.keys.ids(); len(got) != 1 || got[0] != "next" {
				t.Fatalf("IDs = %v", got)
			}
		})
	}
}

func TestVerifyOnlyKey(t *testing.T) {
	signer := edKey(t, "ed1")
	f := setup(t, signer)
	l := f.mint(t, login)
	pub, err := signer.VerifyOnly()
	if err != nil {
		t.Fatal(err)
	}
	vkeys, _ := NewKeyring(pub)
	p, err := NewParser(vkeys, WithIssuer("https://members.example.org"), WithClock(f.clk.now))
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Parse(l.URL, PurposeLogin)
	if err != nil {
		t.Fatalf("verify-only parser: %v", err)
	}
	if _, ok := v.Confirm(KindEmail, "ann@example.org"); !ok {
		t.Fatal("verify-only key cannot check bindings")
	}
	if _, err := NewIssuer(vkeys, memstore.New(), WithBaseURL("https://x.example")); !errors.Is(err, ErrKeyring) {
		t.Fatalf("an issuer on a verify-only key: %v", err)
	}
	if _, err := (hmacKey(t, "h")).VerifyOnly(); !errors.Is(err, ErrKeyring) {
		t.Fatalf("VerifyOnly of an HMAC key: %v", err)
	}
}

func TestKeys(t *testing.T) {
	random := make([]byte, 32)
	rand.Read(random)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name    string
		make    func() (*Key, error)
		wantErr error
	}{
		{"hmac ok", func() (*Key, error) { return NewHMACKey("k", random) }, nil},
		{"hmac empty", func() (*Key, error) { return NewHMACKey("k", nil) }, ErrWeakKey},
		{"hmac short", func() (*Key, error) { return NewHMACKey("k", random[:31]) }, ErrWeakKey},
		{"hmac zeros", func() (*Key, error) { return NewHMACKey("k", make([]byte, 64)) }, ErrWeakKey},
		{"hmac text", func() (*Key, error) { return NewHMACKey("k", []byte(strings.Repeat("secret", 6))) }, ErrWeakKey},
		{"empty id", func() (*Key, error) { return NewHMACKey("", random) }, ErrKeyring},
		{"bad id", func() (*Key, error) { return NewHMACKey("a/b", random) }, ErrKeyring},
		{"ed25519 ok", func() (*Key, error) { return NewEd25519Key("e", priv) }, nil},
		{"ed25519 short", func() (*Key, error) { return NewEd25519Key("e", priv[:10]) }, ErrWeakKey},
		{"ed25519 zero seed", func() (*Key, error) { return NewEd25519Key("e", ed25519.NewKeyFromSeed(make([]byte, 32))) }, ErrWeakKey},
		{"verify key short binding", func() (*Key, error) {
			return NewEd25519VerifyKey("e", priv.Public().(ed25519.PublicKey), random[:8])
		}, ErrWeakKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tc.make()
			if tc.wantErr == nil {
				if err != nil || k == nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || k != nil {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
	if _, err := NewKeyring(nil); !errors.Is(err, ErrKeyring) {
		t.Fatal("a keyring without a key")
	}
	k, _ := NewHMACKey("k", random)
	if _, err := NewKeyring(k, k); !errors.Is(err, ErrKeyring) {
		t.Fatal("a keyring with a duplicate id")
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	key := hmacKey(t, "k")
	f := setup(t, key)
	l := f.mint(t, login)
	var logged strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("minted", "link", l, "key", key)
	outputs := []string{
		fmt.Sprint(l), fmt.Sprintf("%v %+v %#v %s %q", l, l, l, l, l), fmt.Sprintf("%v", *l),
		fmt.Sprint(key), fmt.Sprintf("%v %+v %#v %x %s", key, key, key, key, key), fmt.Sprintf("%v %+v %#v", *key, *key, *key),
		logged.String(),
	}
	sig := l.Token[strings.LastIndex(l.Token, ".")+1:]
	for _, out := range outputs {
		if strings.Contains(out, sig) || strings.Contains(out, l.Token) {
			t.Fatalf("a token leaked into output: %s", out)
		}
		for _, b := range [][]byte{key.hmac, key.binding} {
			if strings.Contains(out, string(b)) || strings.Contains(out, fmt.Sprintf("%x", b)) || strings.Contains(out, base64.StdEncoding.EncodeToString(b)) {
				t.Fatalf("a key leaked into output: %s", out)
			}
		}
	}
	if !strings.Contains(outputs[0], l.Claims.ID) {
		t.Fatalf("String() should name the link: %s", outputs[0])
	}
}

// TestStoreDumpOpensNothing dumps every record of the memory store and
// checks that nothing in it verifies as a token or a link.
func TestStoreDumpOpensNothing(t *testing.T) {
	f := setup(t, hmacKey(t, "k"))
	var links []*Link
	for i := 0; i < 20; i++ {
		links = append(links, f.mint(t, Request{Member: fmt.Sprint("m", i), Purpose: PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)}))
	}
	recs, err := f.st.Records(ctx, store.RecordQuery{Filter: store.Filter{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	dump := fmt.Sprintf("%#v", recs)
	if len(recs) != len(links) {
		t.Fatalf("dumped %d records", len(recs))
	}
	for _, l := range links {
		parts := strings.Split(l.Token, ".")
		secret := claim(t, l.Token, "sec").(string)
		raw, _ := base64.RawURLEncoding.DecodeString(secret)
		for _, needle := range []string{l.Token, parts[1], parts[2], secret, string(raw), fmt.Sprintf("%v", raw)} {
			if strings.Contains(dump, needle) {
				t.Fatal("the store holds token material in plain form")
			}
		}
	}
	// Every string and byte field of every record, tried as a link: none verifies.
	for _, r := range recs {
		for _, cand := range []string{r.ID, r.Member, r.Recipient, string(r.SecretHash[:]), fmt.Sprintf("%x", r.SecretHash),
			base64.RawURLEncoding.EncodeToString(r.SecretHash[:]), dump} {
			if _, err := f.p.Parse(cand, ""); err == nil {
				t.Fatal("a value from the store dump verifies as a token")
			}
		}
	}
}

func TestMintRequests(t *testing.T) {
	f := setup(t, hmacKey(t, "k"))
	cases := []struct {
		name    string
		req     Request
		wantErr error
	}{
		{"no member", Request{Purpose: PurposeLogin}, ErrRequest},
		{"control in member", Request{Member: "a\nb", Purpose: PurposeLogin}, ErrRequest},
		{"no purpose", Request{Member: "m"}, ErrRequest},
		{"bad purpose", Request{Member: "m", Purpose: "Log In"}, ErrRequest},
		{"bad recipient", Request{Member: "m", Purpose: PurposeLogin, Recipient: "nobody"}, ErrRequest},
		{"bad number", Request{Member: "m", Purpose: PurposeLogin, Number: "#1"}, ErrRequest},
		{"ttl too long", Request{Member: "m", Purpose: PurposeLogin, TTL: 8 * 24 * time.Hour}, ErrRequest},
		{"ttl too short", Request{Member: "m", Purpose: PurposeLogin, TTL: time.Second}, ErrRequest},
		{"own purpose", Request{Member: "m", Purpose: "unsubscribe"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := f.iss.Mint(ctx, tc.req)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || l != nil {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
	if n := f.st.Len(); n != 1 {
		t.Fatalf("refused requests left %d records", n-1)
	}
}

// failingStore refuses every insert, as a store that is down does.
type failingStore struct{ *memstore.Store }

func (failingStore) Insert(context.Context, []store.Record) error {
	return fmt.Errorf("%w: connection refused", store.ErrUnavailable)
}

func TestMintStoreFailure(t *testing.T) {
	keys, _ := NewKeyring(hmacKey(t, "k"))
	iss, err := NewIssuer(keys, failingStore{memstore.New()}, WithBaseURL("https://x.example/l"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := iss.Mint(ctx, login)
	if !errors.Is(err, ErrMint) || !errors.Is(err, store.ErrUnavailable) || l != nil {
		t.Fatalf("Mint on a failing store: %v, %v", l, err)
	}
	links, err := iss.MintBatch(ctx, "b", []Request{login})
	if !errors.Is(err, ErrMint) || links != nil {
		t.Fatalf("MintBatch on a failing store: %v", err)
	}
}

func TestStateFunc(t *testing.T) {
	calls := 0
	f := setup(t, hmacKey(t, "k"), WithStateFunc(func(_ context.Context, m string) ([]byte, error) {
		calls++
		switch m {
		case "boom":
			panic("state exploded")
		case "err":
			return nil, errors.New("db down")
		}
		return []byte("pw-v1:" + m), nil
	}))
	l := f.mint(t, Request{Member: "m", Purpose: PurposeLogin})
	rec, _ := f.st.Get(ctx, l.Claims.ID)
	want, _ := hook.State(ctx, func(context.Context, string) ([]byte, error) { return []byte("pw-v1:m"), nil }, "m")
	if string(rec.State) != string(want) {
		t.Fatal("the record does not carry the hash of the member's state")
	}
	for _, m := range []string{"boom", "err"} {
		if _, err := f.iss.Mint(ctx, Request{Member: m, Purpose: PurposeLogin}); !errors.Is(err, ErrMint) {
			t.Fatalf("state function failing for %s: %v", m, err)
		}
	}
}

func TestMintBatch(t *testing.T) {
	f := setup(t, hmacKey(t, "k"))
	var reqs []Request
	for i := 0; i < 50; i++ {
		reqs = append(reqs, Request{Member: fmt.Sprint("m", i), Purpose: PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)})
	}
	links, err := f.iss.MintBatch(ctx, "invite-1", reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range links {
		if l.Claims.Member != reqs[i].Member || l.Claims.Batch != "invite-1" || l.Recipient != reqs[i].Recipient {
			t.Fatalf("link %d out of order or unbound: %v", i, l)
		}
	}
	n, _ := f.st.Count(ctx, store.Filter{Batches: []string{"invite-1"}})
	if n != 50 {
		t.Fatalf("recorded %d links", n)
	}
	bad := append([]Request{}, reqs[:3]...)
	bad = append(bad, Request{Member: "x", Purpose: PurposeLogin})
	if _, err := f.iss.MintBatch(ctx, "invite-2", bad); !errors.Is(err, ErrRequest) {
		t.Fatalf("a batch request without a recipient: %v", err)
	}
	if n, _ := f.st.Count(ctx, store.Filter{Batches: []string{"invite-2"}}); n != 0 {
		t.Fatalf("a refused batch recorded %d links", n)
	}
	auto, err := f.iss.MintBatch(ctx, "", reqs[:1])
	if err != nil || !strings.HasPrefix(auto[0].Claims.Batch, "b-") {
		t.Fatalf("a generated batch id: %v %v", auto, err)
	}
}

func TestMintStream(t *testing.T) {
	f := setup(t, hmacKey(t, "k"))
	const n = 2500
	seq := func(yield func(Request) bool) {
		for i := 0; i < n; i++ {
			if !yield(Request{Member: fmt.Sprint("m", i), Purpose: PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)}) {
				return
			}
		}
	}
	var chunks []int
	seen := map[string]bool{}
	got, err := f.iss.MintStream(ctx, "stream", seq, 1000, func(ls []*Link) error {
		chunks = append(chunks, len(ls))
		for _, l := range ls {
			if seen[l.Claims.ID] {
				t.Fatal("a link emitted twice")
			}
			seen[l.Claims.ID] = true
		}
		return nil
	})
	if err != nil || got != n || len(seen) != n || fmt.Sprint(chunks) != "[1000 1000 500]" {
		t.Fatalf("MintStream = %d, %v; chunks %v", got, err, chunks)
	}
	stop := errors.New("mailer down")
	got, err = f.iss.MintStream(ctx, "stream-2", seq, 1000, func([]*Link) error { return stop })
	if !errors.Is(err, stop) || got != 1000 {
		t.Fatalf("MintStream with a failing emit = %d, %v", got, err)
	}
}

func TestIssuerConfig(t *testing.T) {
	keys, _ := NewKeyring(hmacKey(t, "k"))
	st := memstore.New()
	cases := []struct {
		name string
		opts []IssuerOption
	}{
		{"no base url", nil},
		{"http", []IssuerOption{WithBaseURL("http://members.example.org/login")}},
		{"relative", []IssuerOption{WithBaseURL("/login")}},
		{"fragment", []IssuerOption{WithBaseURL("https://x.example/login#a")}},
		{"user info", []IssuerOption{WithBaseURL("https://u:p@x.example/login")}},
		{"param taken", []IssuerOption{WithBaseURL("https://x.example/login?t=1")}},
		{"ttl above max", []IssuerOption{WithBaseURL("https://x.example"), WithTTL(10 * 24 * time.Hour)}},
		{"max above hard cap", []IssuerOption{WithBaseURL("https://x.example"), WithMaxTTL(365 * 24 * time.Hour)}},
		{"nil option", []IssuerOption{WithBaseURL("https://x.example"), nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewIssuer(keys, st, tc.opts...); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
	iss, err := NewIssuer(keys, st, WithBaseURL("https://x.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, leeway := range []time.Duration{time.Hour, -time.Second} {
		if _, err := iss.Parser(WithLeeway(leeway)); !errors.Is(err, ErrConfig) {
			t.Fatalf("a parser with leeway %v: %v, want ErrConfig", leeway, err)
		}
	}
	for _, ok := range []string{"http://localhost:8080/login", "http://127.0.0.1/x", "https://x.example/login?lang=da"} {
		iss, err := NewIssuer(keys, st, WithBaseURL(ok))
		if err != nil {
			t.Fatalf("%s: %v", ok, err)
		}
		l, err := iss.Mint(ctx, Request{Member: "m", Purpose: PurposeLogin})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := iss.Parser()
		if _, err := p.Parse(l.URL, PurposeLogin); err != nil {
			t.Fatalf("%s: %v (url %s)", ok, err, l.URL)
		}
	}
	if _, err := NewParser(keys); !errors.Is(err, ErrConfig) {
		t.Fatal("a parser without an issuer name")
	}
}
