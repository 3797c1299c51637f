package token

import (
	"context"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/store/memstore"
)

// mintToken mints one token with key k.
func mintToken(t testing.TB, k *Key) (*Parser, string) {
	t.Helper()
	kr, _ := NewKeyring(k)
	iss, err := NewIssuer(kr, memstore.New(), WithBaseURL("https://members.example.org/login"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := iss.Mint(context.Background(), Request{Member: "m", Purpose: PurposeLogin, Recipient: "a@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := iss.Parser()
	return p, l.Token
}

func TestSpan(t *testing.T) {
	hk, _ := GenerateHMACKey("h")
	ek, _ := GenerateEd25519Key("e")
	var toks []string
	for _, k := range []*Key{hk, ek} {
		_, tok := mintToken(t, k)
		toks = append(toks, tok)
	}
	other := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	for _, tok := range toks {
		cases := []struct {
			name string
			in   string
			n    int
			kind SpanKind
		}{
			{"whole", tok, len(tok), Whole},
			{"text after", tok + "abc.def", len(tok), Whole},
			{"signature cut", tok[:len(tok)-1], 0, Partial},
			{"no signature", tok[:strings.LastIndexByte(tok, '.')+1], 0, Partial},
			{"header only", tok[:strings.IndexByte(tok, '.')], 0, Partial},
			{"header begun", tok[:12], 0, Partial},
			{"too short to tell", tok[:9], 0, NotToken},
			{"another JWT", other, 0, NotToken},
			{"another JWT's header", other[:strings.IndexByte(other, '.')], 0, NotToken},
			{"not a JWT", "eyJust words", 0, NotToken},
			{"no start", tok[1:], 0, NotToken},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				n, kind := Span([]byte(tc.in))
				if n != tc.n || kind != tc.kind {
					t.Fatalf("Span = %d, %v; want %d, %v", n, kind, tc.n, tc.kind)
				}
			})
		}
	}
}

// FuzzSpan checks Span against the parser: a whole span that Inspect
// accepts is the token, and nothing Span calls NotToken is an oncelink
// token that Inspect accepts.
func FuzzSpan(f *testing.F) {
	k, _ := GenerateHMACKey("h")
	p, tok := mintToken(f, k)
	f.Add([]byte(tok))
	f.Add([]byte(tok + "xyz"))
	f.Add([]byte(tok[:40]))
	f.Add([]byte("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, kind := Span(b)
		switch kind {
		case Whole:
			if n <= 0 || n > len(b) || tokenShape(string(b[:n])) != nil {
				t.Fatalf("whole span %d of %q is not a token's shape", n, b)
			}
		case Partial, NotToken:
			if n != 0 {
				t.Fatalf("kind %v with length %d", kind, n)
			}
			if _, err := p.Inspect(string(b)); err == nil && kind == NotToken {
				t.Fatalf("Inspect accepts what Span calls no token: %q", b)
			}
		}
	})
}
