package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oncelink/oncelink/guard"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

type member struct {
	id, name, email string
}

// newMembers returns n members. Their ids carry the run's tag, so that a
// replay on a store that holds an earlier one counts confirmation attempts
// (the member limit) of its own members only.
func newMembers(n int, tag string) []member {
	members := make([]member, n)
	for i := range members {
		members[i] = member{id: fmt.Sprintf("%s-m%05d", tag, i+1), name: fmt.Sprintf("Member %d", i+1), email: fmt.Sprintf("m%05d@members.example", i+1)}
	}
	return members
}

// message is the mail object of the site's mailer.
type message struct {
	to, subject, body string
}

// mailAction renders a member's invitation into its message. The site
// reuses one action per batch, and rendering fills only a message that is
// still empty: the first member's message, tokens replaced, goes to every
// member of the batch ("causing 10 people to receive identical emails").
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
		url + "\r\n\r\nWhen asked, confirm with your email address.\r\n"
}

func rfc5322(msg message) []byte {
	return []byte("From: The union <noreply@union.example>\r\nTo: <" + msg.to + ">\r\nSubject: " + msg.subject +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + msg.body)
}

// Outcome is what one send did.
type Outcome struct {
	Batch    string
	Sent     int // messages that left
	Foreign  int // of them, messages carrying another member's link
	Distinct int // distinct links in the messages that left
	Blocked  *guard.BlockedError
	// Holder[i] is the member whose link member i received, for the
	// messages that left.
	Holder []int
	links  []*token.Link // secrets: the links, by member
}

// send mints one link per member in one batch and mails them in batches of
// size: each batch is rendered, checked by the guard as a whole when
// guarded, then sent.
func send(ctx context.Context, iss *token.Issuer, parser *token.Parser, st store.Store, members []member, size int, prefix string, buggy, guarded bool) (Outcome, error) {
	out := Outcome{Batch: prefix + "-" + strings.TrimPrefix(token.NewBatchID(), "b-")}
	reqs := make([]token.Request, len(members))
	for i, m := range members {
		reqs[i] = token.Request{Member: m.id, Purpose: token.PurposeLogin, Recipient: m.email}
	}
	links, err := iss.MintBatch(ctx, out.Batch, reqs)
	if err != nil {
		return out, err
	}
	out.links = links
	g, err := guard.New(parser, st, guard.WithBatch(out.Batch))
	if err != nil {
		return out, err
	}
	owner := make(map[string]int, len(links))
	for i, l := range links {
		owner[l.Token] = i
	}
	distinct := map[int]bool{}
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
			holder := -1
			for j := start; j < end; j++ {
				if strings.Contains(string(m.Raw), links[j].Token) {
					holder = owner[links[j].Token]
					distinct[holder] = true
				}
			}
			out.Sent++
			out.Holder = append(out.Holder, holder)
			if holder != start+i {
				out.Foreign++
			}
		}
	}
	out.Distinct = len(distinct)
	return out, nil
}
