package wire_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
)

// mintToken mints one token with key k.
func mintToken(t testing.TB, k *token.Key) (*token.Parser, string) {
	t.Helper()
	kr, _ := token.NewKeyring(k)
	iss, err := token.NewIssuer(kr, memstore.New(), token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := iss.Mint(context.Background(), token.Request{Member: "m", Purpose: token.PurposeLogin, Recipient: "a@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := iss.Parser()
	return p, l.Token
}

func TestSpan(t *testing.T) {
	hk, _ := token.GenerateHMACKey("h")
	ek, _ := token.GenerateEd25519Key("e")
	var toks []string
	for _, k := range []*token.Key{hk, ek} {
		_, tok := mintToken(t, k)
		toks = append(toks, tok)
	}
	other := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	for _, tok := range toks {
		cases := []struct {
			name string
			in   string
			n    int
			kind wire.Kind
		}{
			{"whole", tok, len(tok), wire.Whole},
			{"text after", tok + "abc.def", len(tok), wire.Whole},
			{"signature cut", tok[:len(tok)-1], 0, wire.Partial},
			{"no signature", tok[:strings.LastIndexByte(tok, '.')+1], 0, wire.Partial},
			{"header only", tok[:strings.IndexByte(tok, '.')], 0, wire.Partial},
			{"header begun", tok[:12], 0, wire.Partial},
			{"too short to tell", tok[:9], 0, wire.NotToken},
			{"another JWT", other, 0, wire.NotToken},
			{"another JWT's header", other[:strings.IndexByte(other, '.')], 0, wire.NotToken},
			{"not a JWT", "eyJust words", 0, wire.NotToken},
			{"no start", tok[1:], 0, wire.NotToken},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				n, kind := wire.Span([]byte(tc.in))
				if n != tc.n || kind != tc.kind {
					t.Fatalf("Span = %d, %v; want %d, %v", n, kind, tc.n, tc.kind)
				}
			})
		}
	}
}

// FuzzSpan checks Span against the parser: a whole span that Inspect
// accepts is the token, and nothing Span calls wire.NotToken is an oncelink
// token that Inspect accepts.
func FuzzSpan(f *testing.F) {
	k, _ := token.GenerateHMACKey("h")
	p, tok := mintToken(f, k)
	f.Add([]byte(tok))
	f.Add([]byte(tok + "xyz"))
	f.Add([]byte(tok[:40]))
	f.Add([]byte("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, kind := wire.Span(b)
		switch kind {
		case wire.Whole:
			if n <= 0 || n > len(b) || wire.Shape(string(b[:n])) != nil {
				t.Fatalf("whole span %d of %q is not a token's shape", n, b)
			}
		case wire.Partial, wire.NotToken:
			if n != 0 {
				t.Fatalf("kind %v with length %d", kind, n)
			}
			if _, err := p.Inspect(string(b)); err == nil && kind == wire.NotToken {
				t.Fatalf("Inspect accepts what Span calls no token: %q", b)
			}
		}
	})
}
