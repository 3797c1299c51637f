package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestCanonicalEmailMailboxes checks that canonical forms never join two
// mailboxes and never split one: Unicode case mapping of the local part
// would turn the Kelvin sign into "k" (another mailbox where Unicode local
// parts exist), and an address typed in decomposed form is the same
// address as its composed form.
func TestCanonicalEmailMailboxes(t *testing.T) {
	same := []struct{ name, a, b string }{
		{"NFD and NFC local part", "a\u030ase@eksempel.dk", "\u00e5se@eksempel.dk"},
		{"NFD and NFC domain", "ase@a\u030a.dk", "ase@\u00e5.dk"},
		{"ASCII case in the local part", "Kim@Example.org", "kim@example.org"},
		{"Unicode case in the domain", "kim@\u00c5LAND.example", "kim@\u00e5land.example"},
		{"Kelvin sign in the domain", "kim@\u212Aelvin.example", "kim@kelvin.example"},
	}
	for _, tc := range same {
		a, errA := CanonicalEmail(tc.a)
		b, errB := CanonicalEmail(tc.b)
		if errA != nil || errB != nil || a != b {
			t.Errorf("%s: %q -> %q (%v), %q -> %q (%v): want one canonical form", tc.name, tc.a, a, errA, tc.b, b, errB)
		}
	}
	differ := []struct{ name, a, b string }{
		{"Kelvin sign in the local part", "\u212Aim@example.org", "kim@example.org"},
		{"Ohm sign in the local part", "\u2126@example.org", "\u03c9@example.org"},
		{"Angstrom sign in the local part", "\u212Bse@example.org", "\u00e5se@example.org"},
		{"non-ASCII case in the local part", "\u00c5se@eksempel.dk", "\u00e5se@eksempel.dk"},
		{"dotless i", "\u0131@example.org", "i@example.org"},
		{"long s", "\u017fam@example.org", "sam@example.org"},
	}
	for _, tc := range differ {
		a, errA := CanonicalEmail(tc.a)
		b, errB := CanonicalEmail(tc.b)
		if errB != nil || errA == nil && a == b {
			t.Errorf("%s: %q and %q both canonicalise to %q (%v, %v): two mailboxes joined", tc.name, tc.a, tc.b, a, errA, errB)
		}
	}
}

// TestMintVisibleMember checks that a member id is visible text: blank and
// invisible ids, which an operator cannot tell apart, are refused.
func TestMintVisibleMember(t *testing.T) {
	f := setup(t, hmacKey(t, "k1"))
	for _, m := range []string{" ", "   ", "\u200b", "m-17\u200b", "\u200dm", " m-17", "m-17 ", "\u3164", "\ufeff", "\u2060", "\u00ad", "\u0301", "m\u202e71"} {
		_, err := f.iss.Mint(ctx, Request{Member: m, Purpose: PurposeLogin, Recipient: "ann@example.org"})
		if !errors.Is(err, ErrRequest) {
			t.Errorf("Mint(member %q): %v, want ErrRequest", m, err)
		}
	}
	for _, m := range []string{"m-17", "Åse Ødegård", "会员 17", "a b"} {
		if _, err := f.iss.Mint(ctx, Request{Member: m, Purpose: PurposeLogin}); err != nil {
			t.Errorf("Mint(member %q): %v", m, err)
		}
	}
}

// signRaw signs a header and claims given as JSON text with an HS256 key,
// byte for byte.
func signRaw(t testing.TB, secret []byte, header, claims string) string {
	t.Helper()
	b64 := base64.RawURLEncoding
	signing := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
	sig, err := jwt.SigningMethodHS256.Sign(signing, secret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64.EncodeToString(sig)
}

// TestClaimNamesStrict signs tokens with the real key whose header or
// claims use names golang-jwt's path does not read as oncelink writes them:
// other letter case, a name twice, an unknown name, trailing data. The
// parser and Inspect refuse every one, alike.
func TestClaimNamesStrict(t *testing.T) {
	key := hmacKey(t, "k1")
	f := setup(t, key)
	l := f.mint(t, login)
	header := `{"alg":"HS256","kid":"k1","typ":"oncelink+jwt"}`
	claims := payload(t, l.Token)
	if _, err := f.p.Parse(signRaw(t, key.hmac, header, claims), PurposeLogin); err != nil {
		t.Fatalf("the re-signed token itself: %v", err)
	}
	rest := strings.TrimPrefix(claims, `{"iss":`)
	cases := []struct{ name, header, claims string }{
		{"claim name in capitals", header, `{"ISS":` + rest},
		{"claim name in mixed case", header, strings.Replace(claims, `"sub":`, `"Sub":`, 1)},
		{"member claim twice", header, strings.Replace(claims, `"sub":"m-17"`, `"sub":"m-17","sub":"m-99"`, 1)},
		{"unknown claim", header, strings.Replace(claims, `{"iss":`, `{"nbf":1,"iss":`, 1)},
		{"unknown claim at the end", header, strings.TrimSuffix(claims, "}") + `,"x":"y"}`},
		{"trailing data", header, claims + `{"sub":"m-99"}`},
		{"header names in capitals", `{"ALG":"HS256","KID":"k1","TYP":"oncelink+jwt"}`, claims},
		{"header name twice", `{"alg":"HS256","kid":"k1","kid":"k1","typ":"oncelink+jwt"}`, claims},
		{"unknown header name", `{"alg":"HS256","cty":"x","kid":"k1","typ":"oncelink+jwt"}`, claims},
		{"header type in capitals", `{"alg":"HS256","kid":"k1","Typ":"oncelink+jwt"}`, claims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := signRaw(t, key.hmac, tc.header, tc.claims)
			if v, err := f.p.Parse(tok, PurposeLogin); err == nil {
				t.Errorf("Parse accepted it: member %q", v.Member)
			}
			if v, err := f.p.Inspect(tok); err == nil {
				t.Errorf("Inspect accepted it: member %q", v.Member)
			}
		})
	}
}
