package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/oncelink/oncelink/guard"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/storeurl"
	"github.com/oncelink/oncelink/token"
)

func main() {
	members := flag.Int("members", 18000, "members to invite")
	size := flag.Int("batch", 10, "messages per mail batch")
	storeURL := flag.String("store", os.Getenv("ONCELINK_STORE"), "store URL (default: SQLite in a temporary directory)")
	flag.Parse()
	if *storeURL == "" {
		dir, err := os.MkdirTemp("", "oncelink-crisis")
		if err != nil {
			fmt.Fprintln(os.Stderr, "crisis:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		*storeURL = "sqlite:" + filepath.Join(dir, "crisis.db")
	}
	if _, err := run(context.Background(), os.Stdout, *storeURL, *members, *size); err != nil {
		fmt.Fprintln(os.Stderr, "crisis:", err)
		os.Exit(1)
	}
}

// Outcome is what one send did.
type Outcome struct {
	Sent     int // messages that left
	Foreign  int // of them, messages carrying another member's link
	Distinct int // distinct links in the messages that left
	Blocked  *guard.BlockedError
}

// Summary is the three sends.
type Summary struct {
	Unguarded, Guarded, Correct Outcome
}

type member struct {
	id, name, email string
}

// message is the mail object of the site's mailer.
type message struct {
	to, subject, body string
}

// mailAction renders a member's invitation into its message. The site
// reuses one action per batch; rendering only fills a message that is
// still empty: the bug that sent ten members the first one's mail.
type mailAction struct {
	msg message
}

func (a *mailAction) render(m member, link *token.Link) message {
	a.msg.to = m.email
	if a.msg.body == "" {
		a.msg.subject = "Your new member site"
		a.msg.body = invitation(m, link.URL)
	}
	return a.msg
}

func invitation(m member, url string) string {
	return "Dear " + m.name + ",\r\n\r\nYour union's new member site is open. Log in with your own link:\r\n\r\n" +
		url + "\r\n\r\nWhen asked, confirm with your email address (" + m.email + ").\r\n"
}

func rfc5322(msg message) []byte {
	return []byte("From: The union <noreply@union.example>\r\nTo: <" + msg.to + ">\r\nSubject: " + msg.subject +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + msg.body)
}

func run(ctx context.Context, w io.Writer, storeURL string, n, size int) (*Summary, error) {
	st, closeStore, err := storeurl.Open(ctx, storeURL, storeurl.WithCreate())
	if err != nil {
		return nil, err
	}
	defer closeStore()
	key, err := token.GenerateHMACKey("crisis")
	if err != nil {
		return nil, err
	}
	keys, _ := token.NewKeyring(key)
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.union.example/login"))
	if err != nil {
		return nil, err
	}
	parser, _ := iss.Parser()
	members := make([]member, n)
	for i := range members {
		members[i] = member{id: fmt.Sprintf("m%05d", i+1), name: fmt.Sprintf("Member %d", i+1), email: fmt.Sprintf("m%05d@members.example", i+1)}
	}
	fmt.Fprintf(w, "oncelink crisis replay: %d members, links mailed in batches of %d (store: %s)\n\n", n, size, storeurl.Redact(storeURL))

	var sum Summary
	fmt.Fprintln(w, "1. the incident: a mailer that reuses one mail action per batch, no send guard")
	if sum.Unguarded, err = send(ctx, iss, parser, st, members, size, true, false); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "   sent %d messages; %d carried another member's link\n\n", sum.Unguarded.Sent, sum.Unguarded.Foreign)

	fmt.Fprintln(w, "2. the same mailer, with oncelink's send guard")
	if sum.Guarded, err = send(ctx, iss, parser, st, members, size, true, true); err != nil {
		return nil, err
	}
	if b := sum.Guarded.Blocked; b != nil {
		fmt.Fprintf(w, "   batch 1 refused: %s (message %d of the batch, to %s); none of it was sent\n", b.Reason, b.Index+1, b.Recipient)
		fmt.Fprintf(w, "   sent %d messages; the send's links are frozen (hold on batch %s)\n\n", sum.Guarded.Sent, b.Batch)
	} else {
		fmt.Fprintf(w, "   sent %d messages; the guard refused nothing\n\n", sum.Guarded.Sent)
	}

	fmt.Fprintln(w, "3. a mailer with a new mail action per message, with the send guard")
	if sum.Correct, err = send(ctx, iss, parser, st, members, size, false, true); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "   sent %d messages; %d distinct links; %d carried another member's link\n", sum.Correct.Sent, sum.Correct.Distinct, sum.Correct.Foreign)
	return &sum, nil
}

// send mints one link per member in one batch and mails them in batches of
// size: each batch is rendered, checked by the guard as a whole, then sent.
func send(ctx context.Context, iss *token.Issuer, parser *token.Parser, st store.Store, members []member, size int, buggy, guarded bool) (Outcome, error) {
	var out Outcome
	reqs := make([]token.Request, len(members))
	for i, m := range members {
		reqs[i] = token.Request{Member: m.id, Purpose: token.PurposeLogin, Recipient: m.email}
	}
	links, err := iss.MintBatch(ctx, "", reqs)
	if err != nil {
		return out, err
	}
	g, err := guard.New(parser, st, guard.WithBatch(links[0].Claims.Batch))
	if err != nil {
		return out, err
	}
	distinct := map[string]bool{}
	for start := 0; start < len(members); start += size {
		end := min(start+size, len(members))
		action := &mailAction{}
		batch := make([]guard.Mail, 0, end-start)
		for i := start; i < end; i++ {
			if !buggy {
				action = &mailAction{}
			}
			msg := action.render(members[i], links[i])
			batch = append(batch, guard.Mail{To: msg.to, Member: members[i].id, Raw: rfc5322(msg)})
		}
		if guarded {
			if err := g.CheckAll(ctx, batch); err != nil {
				var be *guard.BlockedError
				if !errors.As(err, &be) {
					return out, err
				}
				out.Blocked = be
				return out, nil
			}
		}
		for i, m := range batch {
			out.Sent++
			tok := links[start+i].Token
			if !strings.Contains(string(m.Raw), tok) {
				out.Foreign++
			}
			for j := start; j < end; j++ {
				if strings.Contains(string(m.Raw), links[j].Token) {
					distinct[links[j].Claims.ID] = true
				}
			}
		}
	}
	out.Distinct = len(distinct)
	return out, nil
}
