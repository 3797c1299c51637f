package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/oncelink/oncelink/flow"
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

// The site's own parts, which the quickstart only prints about.
type (
	sessions struct{}
	mailer   struct{}
)

func (sessions) NewReference(*http.Request) (string, error) { return "sess-1", nil }
func (sessions) Start(http.ResponseWriter, *http.Request, string, *verify.Result) error {
	return nil
}
func (mailer) Render(_ context.Context, a flow.Addressee, l *token.Link) ([]byte, error) {
	return []byte("To: " + a.Recipient + "\r\nSubject: Your login link\r\n\r\n" + l.URL + "\r\n"), nil
}
func (mailer) Send(context.Context, flow.Addressee, []byte) error { return nil }

func noMember(context.Context, flow.Query) (flow.Addressee, bool, error) {
	return flow.Addressee{}, false, nil
}

func run(storeURL string) error {
	ctx := context.Background()
	st, closeStore, err := storeurl.Open(ctx, storeURL, storeurl.WithCreate())
	if err != nil {
		return err
	}
	defer closeStore()
	fmt.Printf("store: %s\n", storeurl.Redact(storeURL))
	s, err := newSite(st, sessions{}, noMember, mailer{})
	if err != nil {
		return err
	}
	defer s.requests.Close(ctx)

	// Mint a link for Ann, bound to her address and member number.
	link, err := s.iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org", Number: "10442"})
	if err != nil {
		return err
	}
	fmt.Printf("minted %v\n", link) // a Link prints without its token
	fmt.Printf("the link Ann receives (a secret):\n  %s\n\n", link.URL)

	// GET: a confirmation page; nothing is consumed, so a mail scanner's
	// prefetch cannot burn the link.
	peek, err := s.v.Peek(ctx, verify.Request{Link: link.URL, Purpose: token.PurposeLogin})
	if err != nil {
		return err
	}
	fmt.Printf("peek: link valid; the page asks for: %s\n", describe(peek.Needs))

	// Someone else got the link and types their own address: refused,
	// nothing consumed, the attempt recorded.
	stranger := verify.Request{Link: link.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: "bob@example.org"}, IP: "198.51.100.7"}
	_, err = s.v.Consume(ctx, stranger)
	fmt.Printf("bob presents the link: refused (%s): %v\n", verify.Reason(err), errors.Is(err, verify.ErrMismatch))

	// POST: Ann confirms her address; the link is consumed once.
	ann := verify.Request{Link: link.URL, Purpose: token.PurposeLogin, Identity: verify.Identity{Email: " Ann@Example.org "}, IP: "192.0.2.10", Session: "sess-ann-1"}
	res, err := s.v.Consume(ctx, ann)
	if err != nil {
		return fmt.Errorf("Ann could not log in: %w", err)
	}
	fmt.Printf("ann presents the link: logged in as %s (confirmed by %s)\n", res.Claims.Member, res.Identity)

	// The same link again: refused, and the person sees one generic message.
	_, err = s.v.Consume(ctx, ann)
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
