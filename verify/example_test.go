package verify_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/oncelink/oncelink/store/memory"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// Consume a link once; the replay is refused.
func ExampleVerifier_Consume() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memory.New()
	iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	parser, _ := iss.Parser()
	v, _ := verify.New(parser, st)

	link, _ := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org"})

	req := verify.Request{
		Link:     link.URL,
		Purpose:  token.PurposeLogin,
		Identity: verify.Identity{Email: "Ann@Example.org"},
		Session:  "session-1",
	}
	res, err := v.Consume(ctx, req)
	fmt.Println(res.Claims.Member, res.Identity, err)

	_, err = v.Consume(ctx, req)
	fmt.Println(errors.Is(err, verify.ErrUsed), verify.Message(err))
	// Output:
	// m-17 email:ann@example.org <nil>
	// true This link cannot be used. Please request a new one.
}

// A link opened by someone else is refused and stays usable for its owner.
func ExampleVerifier_Consume_mismatch() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memory.New()
	iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	parser, _ := iss.Parser()
	v, _ := verify.New(parser, st)
	link, _ := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org"})

	_, err := v.Consume(ctx, verify.Request{Link: link.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: "bob@example.org"}})
	fmt.Println(errors.Is(err, verify.ErrMismatch))
	_, err = v.Consume(ctx, verify.Request{Link: link.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: "ann@example.org"}})
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}
