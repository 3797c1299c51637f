package flow

import (
	"context"
	"fmt"

	"github.com/oncelink/oncelink/guard"
	"github.com/oncelink/oncelink/internal/hook"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// enqueue hands q to the workers without waiting, and reports whether it
// was taken.
func (rf *Requests) enqueue(q Query) bool {
	rf.mu.RLock()
	defer rf.mu.RUnlock()
	if rf.closed {
		return false
	}
	select {
	case rf.jobs <- q:
		return true
	default:
		return false
	}
}

// Close stops taking requests and waits until the queued ones are sent,
// or ctx ends; then it abandons what is left and returns ctx's error.
// Requests after Close are answered as usual and dropped (logged).
func (rf *Requests) Close(ctx context.Context) error {
	rf.mu.Lock()
	if !rf.closed {
		rf.closed = true
		close(rf.jobs)
	}
	rf.mu.Unlock()
	done := make(chan struct{})
	go func() {
		rf.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		rf.cancel()
		return nil
	case <-ctx.Done():
		rf.cancel()
		return ctx.Err()
	}
}

func (rf *Requests) work() {
	defer rf.wg.Done()
	for q := range rf.jobs {
		if rf.ctx.Err() != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(rf.ctx, rf.queue.SendTimeout)
		rf.send(ctx, q)
		cancel()
	}
}

// send looks the member up, mints a link, renders the message, checks the
// rendered bytes with the send guard and sends those bytes. Every failure
// is logged; a message the guard refuses is not sent and its link is
// revoked.
func (rf *Requests) send(ctx context.Context, q Query) {
	log := rf.logger
	var a Addressee
	var found bool
	err := safely("lookup", func() (err error) {
		a, found, err = rf.lookup(ctx, q)
		return err
	})
	switch {
	case err != nil:
		log.ErrorContext(ctx, "oncelink: requested link not sent: lookup failed", "address", rf.fingerprint(q), "error", err)
		return
	case !found:
		log.InfoContext(ctx, "oncelink: link requested for no member", "address", rf.fingerprint(q))
		return
	case a.Recipient == "":
		log.ErrorContext(ctx, "oncelink: requested link not minted: the member has no address", "member", a.Member)
		return
	}
	link, err := rf.iss.Mint(ctx, token.Request{Member: a.Member, Purpose: rf.purpose, Recipient: a.Recipient,
		Number: a.Number, TTL: rf.ttl})
	if err != nil {
		log.ErrorContext(ctx, "oncelink: requested link not minted", "member", a.Member, "error", err)
		return
	}
	var raw []byte
	err = safely("render", func() (err error) {
		raw, err = rf.mailer.Render(ctx, a, link)
		return err
	})
	if err == nil {
		err = rf.guard(ctx, a, raw)
	}
	if err != nil {
		log.ErrorContext(ctx, "oncelink: requested link not sent", "token", link.Claims, "error", err)
		rf.revoke(ctx, link)
		return
	}
	if err := safely("send", func() error { return rf.mailer.Send(ctx, a, raw) }); err != nil {
		log.ErrorContext(ctx, "oncelink: requested link not sent: the mailer failed", "token", link.Claims, "error", err)
		return
	}
	log.InfoContext(ctx, "oncelink: requested link sent", "token", link.Claims)
}

// guard checks one rendered message with a send guard of its own: each
// message carries a new link of its own member, so nothing is shared
// between requests but the parser and the store.
func (rf *Requests) guard(ctx context.Context, a Addressee, raw []byte) error {
	g, err := guard.New(rf.p, rf.st, guard.WithLogger(rf.logger))
	if err != nil {
		return err
	}
	return g.Check(ctx, guard.Mail{To: a.Recipient, Member: a.Member, Raw: raw})
}

// revoke revokes a link that was minted and not sent.
func (rf *Requests) revoke(ctx context.Context, link *token.Link) {
	if _, err := rf.st.Revoke(ctx, store.Filter{IDs: []string{link.Claims.ID}}, hook.ParserNow(rf.p)); err != nil {
		rf.logger.ErrorContext(ctx, "oncelink: unsent link not revoked", "token", link.Claims, "error", err)
	}
}

// safely calls f, turning a panic into an error.
func safely(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panicked: %v", what, p)
		}
	}()
	return f()
}
