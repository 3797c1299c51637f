package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/oncelink/oncelink/storeurl"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

func main() {
	storeURL := flag.String("store", os.Getenv("ONCELINK_STORE"), "store URL (default: SQLite in a temporary directory)")
	flag.Parse()
	if *storeURL == "" {
		dir, err := os.MkdirTemp("", "oncelink-quickstart")
		if err != nil {
			fmt.Fprintln(os.Stderr, "quickstart:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		*storeURL = "sqlite:" + filepath.Join(dir, "quickstart.db")
	}
	if err := run(*storeURL); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(storeURL string) error {
	ctx := context.Background()
	st, closeStore, err := storeurl.Open(ctx, storeURL, storeurl.WithCreate())
	if err != nil {
		return err
	}
	defer closeStore()
	fmt.Printf("store: %s\n", storeurl.Redact(storeURL))

	// One key, one store, one issuer, one verifier.
	key, err := token.GenerateHMACKey("2026-11")
	if err != nil {
		return err
	}
	keys, err := token.NewKeyring(key)
	if err != nil {
		return err
	}
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		return err
	}
	parser, err := iss.Parser()
	if err != nil {
		return err
	}
	v, err := verify.New(parser, st)
	if err != nil {
		return err
	}

	// Mint a link for Ann, bound to her address and member number.
	link, err := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org", Number: "10442"})
	if err != nil {
		return err
	}
	fmt.Printf("minted %v\n", link) // a Link prints without its token
	fmt.Printf("the link Ann receives (a secret):\n  %s\n\n", link.URL)

	// GET: a confirmation page; nothing is consumed, so a mail scanner's
	// prefetch cannot burn the link.
	peek, err := v.Peek(ctx, verify.Request{Link: link.URL, Purpose: token.PurposeLogin})
	if err != nil {
		return err
	}
	fmt.Printf("peek: link valid; the page asks for: %s\n", describe(peek.Needs))

	// Someone else got the link and types their own address: refused,
	// nothing consumed, the attempt recorded.
	stranger := verify.Request{Link: link.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: "bob@example.org"}, IP: "198.51.100.7"}
	_, err = v.Consume(ctx, stranger)
	fmt.Printf("bob presents the link: refused (%s): %v\n", verify.Reason(err), errors.Is(err, verify.ErrMismatch))

	// POST: Ann confirms her address; the link is consumed once.
	ann := verify.Request{Link: link.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: " Ann@Example.org "}, IP: "192.0.2.10", Session: "sess-ann-1"}
	res, err := v.Consume(ctx, ann)
	if err != nil {
		return fmt.Errorf("Ann could not log in: %w", err)
	}
	fmt.Printf("ann presents the link: logged in as %s (confirmed by %s)\n", res.Claims.Member, res.Identity)

	// The same link again: refused, and the person sees one generic message.
	_, err = v.Consume(ctx, ann)
	if !errors.Is(err, verify.ErrUsed) {
		return fmt.Errorf("replay was not refused as used: %v", err)
	}
	fmt.Printf("ann presents it again: refused (%s); the page says %q\n", verify.Reason(err), verify.Message(err))
	return nil
}

func describe(c verify.Confirm) string {
	switch {
	case c&verify.ConfirmTyped == verify.ConfirmTyped:
		return "email address or member number"
	case c&verify.ConfirmEmail != 0:
		return "email address"
	case c&verify.ConfirmNumber != 0:
		return "member number"
	}
	return "nothing"
}
