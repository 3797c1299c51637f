package verify

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

// ErrBlocked: the send guard refused an outgoing message. Every later
// message checked by the same guard is refused too, and the batch is
// frozen: stop the send and look at [BlockedError].
var ErrBlocked = errors.New("oncelink: outgoing message blocked")

// Bounds of the send guard.
const (
	// MaxMessage bounds the size of one message the guard reads.
	MaxMessage = 25 << 20
	// MaxLinksPerMessage bounds the distinct oncelink links one message
	// may carry.
	MaxLinksPerMessage = 64
	// MaxParts bounds the MIME entities of one message: the message, its
	// parts, attached messages and their parts.
	MaxParts = 256
	// MaxDepth bounds how deep parts and attached messages nest.
	MaxDepth = 8
	// MaxDecodings bounds how many times over a text is decoded (HTML,
	// percent-encoding, JavaScript escapes, base64 inside links).
	MaxDecodings = 8
)

// Mail is one rendered message about to be sent. Its Raw content carries
// links, which are secrets: fmt and slog print a Mail without it.
type Mail struct {
	// To is the address the message will be delivered to: its one
	// recipient when it carries a link.
	To string
	// Member is the member the message is for; when set, every link in it
	// must be that member's.
	Member string
	// Raw is the rendered message: a header block and a body (text, HTML,
	// MIME, in any transfer encoding and charset), or the body alone. A
	// body alone starts with an empty line, or with a first line that is
	// not a header field; see the package documentation.
	Raw []byte
	// NoLink says the message carries no oncelink link on purpose. Without
	// it, a message with no link is refused: a message that should carry a
	// member's link and does not is a mailer bug.
	NoLink bool
	// Envelope lists the SMTP envelope recipients (the RCPT TO addresses,
	// with or without angle brackets) the mailer will deliver the message
	// to, when it sets them apart from the header. A message that carries
	// a link is refused unless each of them is To.
	Envelope []string
	// ID identifies the message, so that checking it again (a retry after a
	// failed delivery) is not taken for a second message carrying the same
	// link. When empty, the Message-ID header is used; without one, every
	// check is a new message.
	ID string
}

// String describes the message without its content, which carries links:
// recipient, member, envelope, size and ID.
func (m Mail) String() string {
	return fmt.Sprintf("verify.Mail{to: %q, member: %q, envelope: %q, raw: %d bytes, id: %q}", m.To, m.Member, m.Envelope, len(m.Raw), m.ID)
}

// GoString describes the message without its content, for %#v.
func (m Mail) GoString() string { return m.String() }

// Format prints [Mail.String] for every verb.
func (m Mail) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }

// LogValue logs the message's recipient, member, size and ID, never its
// content.
func (m Mail) LogValue() slog.Value {
	return slog.GroupValue(slog.String("to", m.To), slog.String("member", m.Member), slog.Int("bytes", len(m.Raw)), slog.String("id", m.ID))
}

// BlockedError describes a refused message. It matches [ErrBlocked].
type BlockedError struct {
	// Reason is a short code:
	//   - recipients: "bad recipient" (To, an envelope or header address
	//     that is not an address), "other recipient" (a message with a
	//     link names or is delivered to someone else as well);
	//   - reading: "unreadable header" (a header block the guard cannot
	//     read whole, or that readers could read differently),
	//     "unreadable part" (a part's structure, transfer encoding or
	//     charset the guard cannot read), "too large", "too many parts",
	//     "too deep", "too many links", "too many decodings" (a cap);
	//   - links: "foreign link" (bound to another recipient), "other
	//     member", "unbound link", "other batch", "duplicate link" (went
	//     out in another message), "no link", "broken link" (the start of
	//     a token that is not a whole, authentic one), "expired link";
	//   - "blocked" for a message checked after the guard blocked.
	Reason string
	// Recipient is the message's recipient.
	Recipient string
	// TokenID is the link at fault, if any.
	TokenID string
	// Batch is the batch that was frozen, if any.
	Batch string
	// Index is the position of the message in the CheckAll call.
	Index int
	// Err is the first refusal when Reason is "blocked", or why the batch
	// could not be frozen.
	Err error
}

// Error describes the refusal: reason, message, link and frozen batch.
func (e *BlockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oncelink: outgoing message blocked: %s (message %d to %s", e.Reason, e.Index, e.Recipient)
	if e.TokenID != "" {
		fmt.Fprintf(&b, ", link %s", e.TokenID)
	}
	b.WriteString(")")
	if e.Batch != "" {
		fmt.Fprintf(&b, "; batch %s frozen", e.Batch)
	}
	b.WriteString("; send nothing more from this guard")
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Unwrap returns the underlying error, if any.
func (e *BlockedError) Unwrap() error { return e.Err }

// Outgoing is the send guard of one send (a batch, or single messages): it
// reads every rendered message whole before it leaves, decoding what mail
// clients and browsers decode, finds every oncelink link in it, and refuses
// the message unless it has one recipient, each link is bound to that
// recipient (and member), has not gone out in a message to anyone else,
// and the message carries a link when it should. Whatever it cannot read
// whole is a refusal; see the package documentation. The binding check needs no
// store round trip. A refusal is sticky: the guard refuses everything after
// it, freezes the batch, and records the refusal in the ledger.
//
// A mailer that renders a batch of messages should check them all with
// [Outgoing.CheckAll] before it sends any: then a mis-rendered batch sends
// nothing. Outgoing is safe for concurrent use; it remembers the links it
// passed (a few dozen bytes each) for its lifetime.
type Outgoing struct {
	p      *token.Parser
	st     store.Store
	batch  string
	logger *slog.Logger

	mu      sync.Mutex
	sent    map[string]string // token id -> key of the message it went out in
	checks  uint64
	blocked *BlockedError
}

// NewOutgoing returns a send guard for links parsed by p (the issuer's
// parser). batch is the batch being sent, frozen if a message is refused;
// "" for single messages. logger may be nil.
func NewOutgoing(p *token.Parser, st store.Store, batch string, logger *slog.Logger) (*Outgoing, error) {
	if p == nil || st == nil {
		return nil, fmt.Errorf("%w: nil parser or store", ErrConfig)
	}
	if len(batch) > store.MaxBatchLen {
		return nil, fmt.Errorf("%w: batch id too long", ErrConfig)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Outgoing{p: p, st: st, batch: batch, logger: logger, sent: map[string]string{}}, nil
}

// Check checks one message; see [Outgoing.CheckAll].
func (o *Outgoing) Check(ctx context.Context, m Mail) error {
	return o.CheckAll(ctx, []Mail{m})
}

// CheckAll checks messages as one unit: it returns nil only if every one of
// them may be sent, and then remembers their links as sent. On the first
// refusal it returns a [*BlockedError], remembers nothing of this call,
// blocks the guard, freezes the batch and records the refusal.
func (o *Outgoing) CheckAll(ctx context.Context, msgs []Mail) error {
	o.mu.Lock()
	blocked := o.blocked
	o.mu.Unlock()
	if blocked != nil {
		return &BlockedError{Reason: "blocked", Batch: blocked.Batch, Err: blocked}
	}
	var pending []sentLink
	for i := range msgs {
		var be *BlockedError
		if pending, be = o.check(i, &msgs[i], pending); be != nil {
			return o.block(ctx, be)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.blocked != nil { // blocked concurrently
		return &BlockedError{Reason: "blocked", Batch: o.blocked.Batch, Err: o.blocked}
	}
	for _, p := range pending {
		if prev, ok := o.sent[p.id]; ok && prev != p.key {
			o.mu.Unlock()
			err := o.block(ctx, &BlockedError{Reason: "duplicate link", TokenID: p.id})
			o.mu.Lock()
			return err
		}
	}
	for _, p := range pending {
		o.sent[p.id] = p.key
	}
	return nil
}

// sentLink is a link passed in a CheckAll call, with the key of its message.
type sentLink struct{ id, key string }

// check checks one message against the links already passed and the ones
// pending in this call. It returns the pending links with this message's,
// or the refusal.
func (o *Outgoing) check(i int, m *Mail, pending []sentLink) ([]sentLink, *BlockedError) {
	refuse := func(reason, id string) ([]sentLink, *BlockedError) {
		return pending, &BlockedError{Reason: reason, Recipient: m.To, TokenID: id, Index: i}
	}
	to, err := token.CanonicalEmail(m.To)
	if err != nil {
		return refuse("bad recipient", "")
	}
	if len(m.Raw) > MaxMessage {
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
	key := o.messageKey(m, msg.MessageID)
	for _, raw := range msg.Tokens {
		vt, err := o.p.Inspect(raw)
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
		case o.batch != "" && vt.Batch != o.batch:
			return refuse("other batch", vt.ID)
		}
		o.mu.Lock()
		prev, seen := o.sent[vt.ID]
		o.mu.Unlock()
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
	MaxSize: MaxMessage, MaxParts: MaxParts, MaxDepth: MaxDepth,
	MaxLinks: MaxLinksPerMessage, MaxRounds: MaxDecodings,
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
func (o *Outgoing) messageKey(m *Mail, messageID string) string {
	if m.ID != "" {
		return "id:" + m.ID
	}
	if messageID != "" {
		return "mid:" + messageID
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checks++
	return fmt.Sprintf("check:%d", o.checks)
}

// block makes the refusal sticky, freezes the batch and records it.
func (o *Outgoing) block(ctx context.Context, be *BlockedError) error {
	o.mu.Lock()
	if o.blocked == nil {
		o.blocked = be
	}
	o.mu.Unlock()
	be.Batch = o.batch
	o.logger.ErrorContext(ctx, "oncelink: outgoing message blocked", "reason", be.Reason, "batch", o.batch, "token_id", be.TokenID)
	now := hook.ParserNow(o.p)
	if o.batch != "" {
		h := store.Hold{Scope: store.ScopeBatch, Key: o.batch, Since: now, Reason: "send guard: " + be.Reason}
		if err := o.st.Freeze(ctx, h); err != nil {
			be.Err = fmt.Errorf("the batch could not be frozen: %w", err)
		}
	}
	ev := store.Event{At: now, Kind: store.EventBlocked, Reason: be.Reason, TokenID: be.TokenID, Batch: o.batch,
		Actor: "send guard", Detail: store.CleanText("message to "+be.Recipient, store.MaxDetailLen)}
	if err := o.st.Append(ctx, ev); err != nil {
		o.logger.ErrorContext(ctx, "oncelink: blocked message not recorded", "error", err)
	}
	return be
}
