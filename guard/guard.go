package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/oncelink/oncelink/internal/hook"
	"github.com/oncelink/oncelink/internal/mailscan"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Bounds of the send guard, for the mail scanner: a message of at most 25
// MiB, 256 MIME entities (the message, its parts, attached messages and
// their parts) nested at most 8 deep, 64 distinct links, and 8 decodings
// of one text (HTML, percent-encoding, JavaScript escapes, base64 inside
// links). Reaching any of them is a refusal.
const (
	maxMessage   = 25 << 20
	maxLinks     = 64
	maxParts     = 256
	maxDepth     = 8
	maxDecodings = 8
)

// Guard is the send guard of one send (a batch, or single messages): it
// reads every rendered message whole before it leaves, decoding what mail
// clients and browsers decode, finds every oncelink link in it, and refuses
// the message unless it has one recipient, each link is bound to that
// recipient (and member), has not gone out in a message to anyone else,
// and the message carries a link when it should. Whatever it cannot read
// whole is a refusal; see the package documentation. The binding check
// needs no store round trip. A refusal is sticky: the guard refuses everything after
// it, freezes the batch, and records the refusal in the ledger.
//
// A mailer that renders a batch of messages should check them all with
// [Guard.CheckAll] before it sends any: then a mis-rendered batch sends
// nothing. A Guard is safe for concurrent use; it remembers the links it
// passed (a few dozen bytes each) for its lifetime.
type Guard struct {
	p      *token.Parser
	st     store.Store
	batch  string
	logger *slog.Logger

	mu      sync.Mutex
	sent    map[string]string // token id -> key of the message it went out in
	checks  uint64
	blocked *BlockedError
}

// New returns a send guard for links parsed by p (the issuer's parser),
// that freezes and records in st. [WithBatch] names the batch being sent,
// which every link must belong to and which is frozen if a message is
// refused; without it the guard checks single messages.
func New(p *token.Parser, st store.Store, opts ...Option) (*Guard, error) {
	if p == nil || st == nil {
		return nil, fmt.Errorf("%w: nil parser or store", token.ErrConfig)
	}
	g := &Guard{p: p, st: st, sent: map[string]string{}}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", token.ErrConfig)
		}
		if err := o(g); err != nil {
			return nil, err
		}
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	return g, nil
}

// Check checks one message; see [Guard.CheckAll].
func (g *Guard) Check(ctx context.Context, m Mail) error {
	return g.CheckAll(ctx, []Mail{m})
}

// CheckAll checks messages as one unit: it returns nil only if every one of
// them may be sent, and then remembers their links as sent. On the first
// refusal it returns a [*BlockedError], remembers nothing of this call,
// blocks the guard, freezes the batch and records the refusal.
func (g *Guard) CheckAll(ctx context.Context, msgs []Mail) error {
	g.mu.Lock()
	blocked := g.blocked
	g.mu.Unlock()
	if blocked != nil {
		return &BlockedError{Reason: "blocked", Batch: blocked.Batch, Err: blocked}
	}
	var pending []sentLink
	for i := range msgs {
		var be *BlockedError
		if pending, be = g.check(i, &msgs[i], pending); be != nil {
			return g.block(ctx, be)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blocked != nil { // blocked concurrently
		return &BlockedError{Reason: "blocked", Batch: g.blocked.Batch, Err: g.blocked}
	}
	for _, p := range pending {
		if prev, ok := g.sent[p.id]; ok && prev != p.key {
			g.mu.Unlock()
			err := g.block(ctx, &BlockedError{Reason: "duplicate link", TokenID: p.id})
			g.mu.Lock()
			return err
		}
	}
	for _, p := range pending {
		g.sent[p.id] = p.key
	}
	return nil
}

// sentLink is a link passed in a CheckAll call, with the key of its message.
type sentLink struct{ id, key string }

// check checks one message against the links already passed and the ones
// pending in this call. It returns the pending links with this message's,
// or the refusal.
func (g *Guard) check(i int, m *Mail, pending []sentLink) ([]sentLink, *BlockedError) {
	refuse := func(reason, id string) ([]sentLink, *BlockedError) {
		return pending, &BlockedError{Reason: reason, Recipient: m.To, TokenID: id, Index: i}
	}
	to, err := token.CanonicalEmail(m.To)
	if err != nil {
		return refuse("bad recipient", "")
	}
	if len(m.Raw) > maxMessage {
		return refuse("too large", "")
	}
	msg, err := mailscan.Scan(m.Raw, scanLimits, false)
	if err != nil {
		return refuse(scanReason(err), "")
	}
	if len(msg.Tokens) == 0 {
		if !m.NoLink {
			return refuse("no link", "")
		}
		return pending, nil
	}
	if reason := oneRecipient(to, m.Envelope, msg.Recipients); reason != "" {
		return refuse(reason, "")
	}
	key := g.messageKey(m, msg.MessageID)
	for _, raw := range msg.Tokens {
		vt, err := g.p.Inspect(raw)
		switch {
		case errors.Is(err, token.ErrExpired):
			return refuse("expired link", "")
		case err != nil:
			return refuse("broken link", "")
		}
		if !vt.BoundEmail {
			return refuse("unbound link", vt.ID)
		}
		if _, match := vt.Confirm(token.KindEmail, to); !match {
			return refuse("foreign link", vt.ID)
		}
		switch {
		case m.Member != "" && vt.Member != m.Member:
			return refuse("other member", vt.ID)
		case g.batch != "" && vt.Batch != g.batch:
			return refuse("other batch", vt.ID)
		}
		g.mu.Lock()
		prev, seen := g.sent[vt.ID]
		g.mu.Unlock()
		if seen && prev != key {
			return refuse("duplicate link", vt.ID)
		}
		for _, p := range pending {
			if p.id == vt.ID && p.key != key {
				return refuse("duplicate link", vt.ID)
			}
		}
		pending = append(pending, sentLink{vt.ID, key})
	}
	return pending, nil
}

// oneRecipient checks that a message carrying a link goes to one
// recipient, to: every address the envelope and the header name (and
// every address a reader could see in a display name) must be to. It
// returns the refusal reason, or "".
func oneRecipient(to string, envelope, header []string) string {
	for _, list := range [][]string{envelope, header} {
		for _, a := range list {
			if t := strings.TrimSpace(a); strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">") {
				a = t[1 : len(t)-1]
			}
			c, err := token.CanonicalEmail(a)
			if err != nil {
				return "bad recipient"
			}
			if c != to {
				return "other recipient"
			}
		}
	}
	return ""
}

// scanLimits are the send guard's bounds, for the mail scanner.
var scanLimits = mailscan.Limits{
	MaxSize: maxMessage, MaxParts: maxParts, MaxDepth: maxDepth,
	MaxLinks: maxLinks, MaxRounds: maxDecodings,
}

// scanReason is the refusal reason for an error of the mail scanner.
func scanReason(err error) string {
	for _, r := range []struct {
		err    error
		reason string
	}{
		{mailscan.ErrHeader, "unreadable header"},
		{mailscan.ErrPart, "unreadable part"},
		{mailscan.ErrBrokenToken, "broken link"},
		{mailscan.ErrTooLarge, "too large"},
		{mailscan.ErrTooManyParts, "too many parts"},
		{mailscan.ErrTooDeep, "too deep"},
		{mailscan.ErrTooManyLinks, "too many links"},
		{mailscan.ErrTooManyDecodings, "too many decodings"},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "unreadable part"
}

// messageKey identifies a message: its ID, its Message-ID header, or a new
// key for every check.
func (g *Guard) messageKey(m *Mail, messageID string) string {
	if m.ID != "" {
		return "id:" + m.ID
	}
	if messageID != "" {
		return "mid:" + messageID
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checks++
	return fmt.Sprintf("check:%d", g.checks)
}

// block makes the refusal sticky, freezes the batch and records it.
func (g *Guard) block(ctx context.Context, be *BlockedError) error {
	g.mu.Lock()
	if g.blocked == nil {
		g.blocked = be
	}
	g.mu.Unlock()
	be.Batch = g.batch
	g.logger.ErrorContext(ctx, "oncelink: outgoing message blocked", "reason", be.Reason, "batch", g.batch, "token_id", be.TokenID)
	now := hook.ParserNow(g.p)
	if g.batch != "" {
		h := store.Hold{Scope: store.ScopeBatch, Key: g.batch, Since: now, Reason: "send guard: " + be.Reason}
		if err := g.st.Freeze(ctx, h); err != nil {
			be.Err = fmt.Errorf("the batch could not be frozen: %w", err)
		}
	}
	ev := store.Event{At: now, Kind: store.EventBlocked, Reason: be.Reason, TokenID: be.TokenID, Batch: g.batch,
		Actor: "send guard", Detail: store.CleanText("message to "+be.Recipient, store.MaxDetailLen)}
	if err := g.st.Append(ctx, ev); err != nil {
		g.logger.ErrorContext(ctx, "oncelink: blocked message not recorded", "error", err)
	}
	return be
}
