package token_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
)

// Mint a link for a member and read it back.
func ExampleIssuer_Mint() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memstore.New()
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		panic(err)
	}
	link, err := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org"})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(link.URL, "https://members.example.org/login?t="))
	fmt.Println(link.Claims.Member, link.Claims.Purpose, link.Claims.BoundEmail)
	fmt.Println("recorded:", st.Len())
	// Output:
	// true
	// m-17 login true
	// recorded: 1
}

// Rotate keys: links of the old key verify until it is removed.
func ExampleKeyring_Rotate() {
	ctx := context.Background()
	old, _ := token.GenerateHMACKey("2026-10")
	keys, _ := token.NewKeyring(old)
	iss, _ := token.NewIssuer(keys, memstore.New(), token.WithBaseURL("https://members.example.org/login"))
	parser, _ := iss.Parser()
	before, _ := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin})

	next, _ := token.GenerateHMACKey("2026-11")
	if err := keys.Rotate(next); err != nil {
		panic(err)
	}
	after, _ := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin})
	fmt.Println("new links signed by", after.Claims.KeyID)

	_, err := parser.Parse(before.URL, token.PurposeLogin)
	fmt.Println("old link before removal:", err)

	_ = keys.Remove("2026-10")
	_, err = parser.Parse(before.URL, token.PurposeLogin)
	fmt.Println("old link after removal refused:", errors.Is(err, token.ErrSignature))
	// Output:
	// new links signed by 2026-11
	// old link before removal: <nil>
	// old link after removal refused: true
}

// Canonical addresses join what is one mailbox and nothing else.
func ExampleCanonicalEmail() {
	for _, typed := range []string{" Ann@Example.ORG ", "a\u030ase@eksempel.dk", "\u00c5se@EKSEMPEL.dk", "\u212Aim@example.org"} {
		c, err := token.CanonicalEmail(typed)
		fmt.Printf("%q %v\n", c, err != nil)
	}
	// Output:
	// "ann@example.org" false
	// "åse@eksempel.dk" false
	// "Åse@eksempel.dk" false
	// "" true
}

// A pasted link or any other text that is not an identity is recorded as a
// keyed fingerprint, never as it was typed.
func ExampleParser_Fingerprint() {
	key, _ := token.NewHMACKey("2026-11", []byte("an example secret of 32 bytes or more, from a vault"))
	keys, _ := token.NewKeyring(key)
	parser, _ := token.NewParser(keys, token.WithIssuer("https://members.example.org"))
	a := parser.Fingerprint("https://members.example.org/login?t=eyJ...")
	b := parser.Fingerprint("https://members.example.org/login?t=eyJ...")
	fmt.Println(strings.HasPrefix(a, "~2026-11:"), len(a), a == b, strings.Contains(a, "eyJ"))
	// Output:
	// true 25 true false
}
