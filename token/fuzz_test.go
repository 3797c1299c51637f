package token

import (
	"errors"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/internal/wire"
)

// fuzzFixture mints a few valid links on a fixed clock to seed the fuzzers.
func fuzzFixture(f *testing.F) (*fixture, map[string]bool) {
	fx := setup(f, hmacKey(f, "k1"))
	minted := map[string]bool{}
	for _, req := range []Request{login, {Member: "x", Purpose: PurposeReset}} {
		l := fx.mint(f, req)
		minted[l.Claims.ID] = true
		f.Add(l.Token)
		f.Add(l.URL)
		f.Add(l.URL + "&t=" + l.Token)
		f.Add(l.Token[:len(l.Token)/2])
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "https://x/?t=", "?t=a.b.c", "%", strings.Repeat("A", wire.MaxTokenLen+1)} {
		f.Add(s)
	}
	return fx, minted
}

// FuzzParse feeds arbitrary input to the parser. Every refusal must be one
// of the token sentinels; an acceptance must be one of the links minted for
// the seeds (the fuzzer cannot forge one); input over the cap is refused
// before any decoding.
func FuzzParse(f *testing.F) {
	fx, minted := fuzzFixture(f)
	f.Fuzz(func(t *testing.T, input string) {
		v, err := fx.p.Parse(input, "")
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrClaims) &&
				!errors.Is(err, ErrExpired) && !errors.Is(err, ErrPurpose) {
				t.Fatalf("unclassified error %v", err)
			}
			if v != nil {
				t.Fatal("claims returned with an error")
			}
			if len(input) > maxInputLen && !errors.Is(err, ErrMalformed) {
				t.Fatalf("over-long input refused as %v, not before decoding", err)
			}
			return
		}
		if !minted[v.ID] {
			t.Fatalf("the fuzzer produced a token that verifies: %q", input)
		}
	})
}

// FuzzExtract checks the link parser alone: what it returns has the shape
// of a compact JWT within bounds, and what it refuses is ErrMalformed.
func FuzzExtract(f *testing.F) {
	fx, _ := fuzzFixture(f)
	f.Fuzz(func(t *testing.T, input string) {
		tok, err := fx.p.Extract(input)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Extract refused with %v", err)
			}
			return
		}
		if len(input) > maxInputLen {
			t.Fatal("Extract accepted over-long input")
		}
		if len(tok) > wire.MaxTokenLen || strings.Count(tok, ".") != 2 || tokenShape(tok) != nil {
			t.Fatalf("Extract returned %q", tok)
		}
	})
}

// FuzzCanonical checks the identity canonicalizers on arbitrary input:
// canonical forms are fixed points and errors are ErrRequest.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"Ann@Example.org", " ab-12 34 ", "ÅSE@x.dk", "@", "a@b@c", "\xff", "İ@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		for name, canon := range map[string]func(string) (string, error){"email": CanonicalEmail, "number": CanonicalNumber} {
			c, err := canon(input)
			if err != nil {
				if !errors.Is(err, ErrRequest) {
					t.Fatalf("%s: error %v", name, err)
				}
				continue
			}
			again, err := canon(c)
			if err != nil || again != c {
				t.Fatalf("%s: canonical form %q is not a fixed point: %q, %v", name, c, again, err)
			}
		}
	})
}

// FuzzParseInspect signs arbitrary header and claims with the ring's key
// and hands the token to both readers: golang-jwt's path (Parse) and the
// send guard's (Inspect) accept exactly the same tokens, and read the same
// claims from them.
func FuzzParseInspect(f *testing.F) {
	key := hmacKey(f, "k1")
	fx := setup(f, key)
	l := fx.mint(f, login)
	claims := payload(f, l.Token)
	header := `{"alg":"HS256","kid":"k1","typ":"oncelink+jwt"}`
	f.Add(header, claims)
	f.Add(`{"typ":"oncelink+jwt","kid":"k1","alg":"HS256"}`, " "+claims+"\n")
	f.Add(header, strings.Replace(claims, `"sub":`, `"Sub":`, 1))
	f.Add(header, strings.Replace(claims, `{`, `{"sub":"x",`, 1))
	f.Add(`{"alg":"HS256","kid":"k1","typ":"oncelink+jwt","typ":"oncelink+jwt"}`, claims)
	f.Add(`{"ALG":"HS256","KID":"k1","TYP":"oncelink+jwt"}`, claims)
	f.Add(header, strings.Replace(claims, `"bat"`, `"b\u0061t"`, 1))
	f.Fuzz(func(t *testing.T, h, c string) {
		if len(h)+len(c) > wire.MaxTokenLen {
			return
		}
		tok := signRaw(t, key.hmac, h, c)
		pv, perr := fx.p.Parse(tok, "")
		iv, ierr := fx.p.Inspect(tok)
		if (perr == nil) != (ierr == nil) {
			t.Fatalf("Parse: %v; Inspect: %v\nheader %q\nclaims %q", perr, ierr, h, c)
		}
		if perr == nil && (pv.Claims != iv.Claims || pv.secretHash != iv.secretHash || pv.email != iv.email || pv.number != iv.number) {
			t.Fatalf("Parse read %+v, Inspect %+v", pv.Claims, iv.Claims)
		}
	})
}
