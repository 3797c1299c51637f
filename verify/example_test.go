package verify_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// Consume a link once; the replay is refused.
func ExampleVerifier_Consume() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memstore.New()
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
	st := memstore.New()
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

// A batch that shows the incident's pattern is frozen: each group of ten
// members received the first member's message, and the others type their
// own addresses.
func ExampleWithBreaker() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memstore.New()
	iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	parser, _ := iss.Parser()
	v, _ := verify.New(parser, st, verify.WithBreaker(verify.Breaker{OnTrip: func(_ context.Context, t verify.Trip) {
		fmt.Println("frozen:", t.Batch, "-", t.Rule)
	}}))
	var reqs []token.Request
	for i := 0; i < 30; i++ {
		reqs = append(reqs, token.Request{Member: fmt.Sprint("m", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)})
	}
	links, _ := iss.MintBatch(ctx, "invite-7", reqs)
	present := func(i int, link *token.Link) error {
		_, err := v.Consume(ctx, verify.Request{Link: link.URL, Purpose: token.PurposeLogin,
			Identity: verify.Identity{Email: fmt.Sprintf("m%d@example.org", i)},
			IP:       fmt.Sprint("198.51.100.", i), UserAgent: fmt.Sprint("browser of m", i)})
		return err
	}
	for g := 0; g < 3; g++ {
		present(10*g+1, links[10*g])
		present(10*g+2, links[10*g])
	}
	fmt.Println("member 5 with their own link:", verify.Reason(present(5, links[5])))
	// Output:
	// frozen: invite-7 - 3 links each presented with mismatching identities by several people (threshold 3)
	// member 5 with their own link: frozen
}

// Confirmation attempts on one member's links are capped across links and
// instances: past the cap even the right address is refused for a while.
func ExampleWithMemberLimit() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memstore.New()
	iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	parser, _ := iss.Parser()
	v, _ := verify.New(parser, st, verify.WithMemberLimit(3, time.Hour))
	for _, typed := range []string{"a@example.org", "b@example.org", "c@example.org", "ann@example.org"} {
		link, _ := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org"})
		_, err := v.Consume(ctx, verify.Request{Link: link.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: typed}})
		fmt.Println(typed, verify.Reason(err))
	}
	// Output:
	// a@example.org mismatch
	// b@example.org mismatch
	// c@example.org mismatch
	// ann@example.org throttled
}
