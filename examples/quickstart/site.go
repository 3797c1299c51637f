package main

import (
	"context"
	"net/http"

	"github.com/oncelink/oncelink/flow"
	"github.com/oncelink/oncelink/guard"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// site is oncelink wired into a member site.
type site struct {
	iss      *token.Issuer    // mints links and records them in the store
	parser   *token.Parser    // reads them back, for the verifier and the send guard
	v        *verify.Verifier // checks a link and consumes it once
	st       store.Store      // SQLite, PostgreSQL, MariaDB, Redis or memory
	requests *flow.Requests   // the page where a member asks for a link
	mux      *http.ServeMux   // serves /login and /login/request
}

// newSite wires oncelink into a site that brings its sessions, its member
// directory and its mailer. Close s.requests when the site stops: it waits
// for the messages it queued.
func newSite(st store.Store, sessions flow.Sessions, findMember flow.Lookup, mailer flow.Mailer) (*site, error) {
	key, err := token.GenerateHMACKey("2026-11") // or token.NewHMACKey(id, secretFromVault)
	if err != nil {
		return nil, err
	}
	keys, err := token.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	s := &site{st: st, mux: http.NewServeMux()}
	s.iss, err = token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		return nil, err
	}
	if s.parser, err = s.iss.Parser(); err != nil {
		return nil, err
	}
	if s.v, err = verify.New(s.parser, st); err != nil {
		return nil, err
	}
	// The login page, at the base URL's path: GET moves the token out of
	// the URL and asks the person to confirm who they are; POST consumes
	// the link and opens the session.
	login, err := flow.NewLogin("/login", s.v, sessions, flow.WithRequestPath("/login/request"))
	if err != nil {
		return nil, err
	}
	// The page where a member types an address or number: the same answer
	// for members and strangers, the send after it, through a send guard.
	s.requests, err = flow.NewRequest("/login/request", s.iss, st, findMember, mailer)
	if err != nil {
		return nil, err
	}
	s.mux.Handle("/login", login)
	s.mux.Handle("/login/request", s.requests)
	return s, nil
}

// invite mails every member a link of one new batch. The send guard reads
// each rendered message before any leaves: a message with someone else's
// link stops the whole send and freezes the batch.
func (s *site) invite(ctx context.Context, members []token.Request, render func(*token.Link) []byte,
	send func(ctx context.Context, to string, raw []byte) error) error {
	batch := token.NewBatchID()
	links, err := s.iss.MintBatch(ctx, batch, members) // recorded before they are returned
	if err != nil {
		return err
	}
	g, err := guard.New(s.parser, s.st, guard.WithBatch(batch))
	if err != nil {
		return err
	}
	mails := make([]guard.Mail, len(links))
	for i, l := range links {
		// l.URL is a secret: it goes into the member's message and nowhere
		// else (a Link prints and logs without it).
		mails[i] = guard.Mail{To: l.Recipient, Member: l.Claims.Member, Raw: render(l)}
	}
	if err := g.CheckAll(ctx, mails); err != nil {
		return err // a *guard.BlockedError: nothing was sent
	}
	for _, m := range mails {
		if err := send(ctx, m.To, m.Raw); err != nil {
			return err
		}
	}
	return nil
}
