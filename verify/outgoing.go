package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"sync"

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
	// MaxLinksPerMessage bounds the oncelink links one message may carry.
	MaxLinksPerMessage = 64
)

// Mail is one rendered message about to be sent.
type Mail struct {
	// To is the address the message will be delivered to.
	To string
	// Member is the member the message is for; when set, every link in it
	// must be that member's.
	Member string
	// Raw is the rendered message: headers and body (text, HTML, MIME,
	// quoted-printable or base64 parts), or the body alone.
	Raw []byte
	// NoLink says the message carries no oncelink link on purpose. Without
	// it, a message with no link is refused: a message that should carry a
	// member's link and does not is a mailer bug.
	NoLink bool
	// ID identifies the message, so that checking it again (a retry after a
	// failed delivery) is not taken for a second message carrying the same
	// link. When empty, the Message-ID header is used; without one, every
	// check is a new message.
	ID string
}

// BlockedError describes a refused message. It matches [ErrBlocked].
type BlockedError struct {
	// Reason is a short code: "foreign link", "other member", "unbound link",
	// "duplicate link", "no link", "broken link", "expired link",
	// "other batch", "to header", "too large", "too many links",
	// "bad recipient", or "blocked" for a message checked after the guard
	// blocked.
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
// reads every rendered message before it leaves, finds every oncelink link
// in it, and refuses the message unless each link is bound to the message's
// recipient (and member), has not gone out in a message to anyone else, and
// the message carries a link when it should. The binding check needs no
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
	if !toHeaderAgrees(m.Raw, to) {
		return refuse("to header", "")
	}
	toks, broken := findTokens(m.Raw)
	if broken {
		return refuse("broken link", "")
	}
	if len(toks) > MaxLinksPerMessage {
		return refuse("too many links", "")
	}
	if len(toks) == 0 && !m.NoLink {
		return refuse("no link", "")
	}
	key := o.messageKey(m)
	for _, raw := range toks {
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

// messageKey identifies a message: its ID, its Message-ID header, or a new
// key for every check.
func (o *Outgoing) messageKey(m *Mail) string {
	if m.ID != "" {
		return "id:" + m.ID
	}
	if end := headerEnd(m.Raw); end > 0 {
		if hdr, err := textproto.NewReader(newBufReader(m.Raw[:end])).ReadMIMEHeader(); err == nil || errors.Is(err, io.EOF) {
			if mid := strings.TrimSpace(hdr.Get("Message-Id")); mid != "" {
				return "mid:" + mid
			}
		}
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
	now := o.p.Now()
	if o.batch != "" {
		h := store.Hold{Scope: store.ScopeBatch, Key: o.batch, Since: now, Reason: "send guard: " + be.Reason}
		if err := o.st.Freeze(ctx, h); err != nil {
			be.Err = fmt.Errorf("the batch could not be frozen: %w", err)
		}
	}
	ev := store.Event{At: now, Kind: store.EventBlocked, Reason: be.Reason, TokenID: be.TokenID, Batch: o.batch,
		Actor: "send guard", Detail: "message to " + clip(be.Recipient, 256)}
	if err := o.st.Append(ctx, ev); err != nil {
		o.logger.ErrorContext(ctx, "oncelink: blocked message not recorded", "error", err)
	}
	return be
}

// toHeaderAgrees reports whether the message's To header, if it has one,
// names the recipient. A message that is only a body agrees.
func toHeaderAgrees(raw []byte, to string) bool {
	end := headerEnd(raw)
	if end < 0 {
		return true
	}
	hdr, err := textproto.NewReader(newBufReader(raw[:end])).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return true // not a header block: a body that happens to contain a colon
	}
	values := hdr.Values("To")
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		addrs, err := mail.ParseAddressList(v)
		if err != nil {
			return false
		}
		for _, a := range addrs {
			if c, err := token.CanonicalEmail(a.Address); err == nil && c == to {
				return true
			}
		}
	}
	return false
}

// headerEnd returns the length of the header block at the start of raw
// (through the blank line), or -1 if raw does not start with one.
func headerEnd(raw []byte) int {
	// A header block starts with a field name and a colon.
	colon := bytes.IndexByte(raw, ':')
	if colon <= 0 || colon > 76 || bytes.ContainsAny(raw[:colon], " \t\r\n<>\"") {
		return -1
	}
	limit := raw[:min(len(raw), 256<<10)]
	if i := bytes.Index(limit, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(limit, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return -1
}

// findTokens returns the distinct oncelink tokens in a message: in the raw
// text (across quoted-printable soft breaks and hard-wrapped lines), and in
// base64-encoded MIME parts. broken reports an oncelink token that is cut
// short.
func findTokens(raw []byte) (toks []string, broken bool) {
	add := func(body []byte) bool {
		ts, br := scanTokens(body)
		for _, t := range ts {
			if !slices.Contains(toks, t) {
				toks = append(toks, t)
			}
		}
		return br
	}
	broken = add(raw)
	if hasBase64Part(raw) {
		for _, part := range base64Parts(raw) {
			broken = add(part) || broken
		}
	}
	return toks, broken
}

// hasBase64Part reports whether raw may have a base64-encoded MIME part:
// "base64" in any case. It searches for the rare byte '6', without copying.
func hasBase64Part(raw []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(raw[i:], '6')
		if j < 0 {
			return false
		}
		k := i + j
		if k >= 4 && k+1 < len(raw) && raw[k+1] == '4' && bytes.EqualFold(raw[k-4:k], []byte("base")) {
			return true
		}
		i = k + 1
	}
}

func isB64(c byte) bool { return b64chars[c] }

// b64chars marks the base64url alphabet.
var b64chars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// scanTokens finds oncelink tokens in text. A token starts with "eyJ" (a
// JSON header) and is read across "=\r\n" soft breaks and, while a segment
// is incomplete, across hard line breaks.
func scanTokens(body []byte) (toks []string, broken bool) {
	var buf []byte
	i := 0
	for len(toks) <= MaxLinksPerMessage {
		// Every JWT starts with "eyJ" ('{"'); 'J' is rare in text.
		j := bytes.IndexByte(body[i:], 'J')
		if j < 0 {
			break
		}
		k := i + j
		i = k + 1
		// "eyJ", possibly cut by quoted-printable soft breaks.
		y := back(body, k)
		e := back(body, y)
		if y < 0 || e < 0 || body[y] != 'y' || body[e] != 'e' {
			continue
		}
		start := e
		if p := back(body, start); p >= 0 && (isB64(body[p]) || body[p] == '.') && !(p >= 2 && body[p] == 'D' && body[p-1] == '3' && body[p-2] == '=') {
			continue // inside another word (but "=3D" is a quoted-printable "=")
		}
		tok, end, complete := readToken(body, start, buf[:0])
		i = max(i, end)
		if !token.IsToken(string(tok)) {
			continue // another JWT, or not a JWT at all
		}
		if !complete {
			broken = true
			continue
		}
		toks = append(toks, string(tok))
		buf = tok[:0]
	}
	return toks, broken
}

// readToken reads one token from body at start into buf. complete reports
// whether it has three segments and a signature of the length its
// algorithm gives.
func readToken(body []byte, start int, buf []byte) (tok []byte, end int, complete bool) {
	// Most links sit on one line: slice them out of the message.
	i, dots, first := start, 0, 0
	for i < len(body) {
		c := body[i]
		if b64chars[c] {
			i++
			continue
		}
		if c == '.' && dots < 2 {
			dots++
			if dots == 1 {
				first = i
			}
			i++
			continue
		}
		break
	}
	if dots == 2 {
		if want := signatureLen(body[start:first]); want > 0 {
			sig := i - 1 - bytes.LastIndexByte(body[start:i], '.') - start
			if sig == want && (i == len(body) || lineBreak(body[i:]) == 0) {
				return body[start:i], i, true
			}
			if sig > want {
				return body[start : i-(sig-want)], i - (sig - want), true
			}
		}
	}
	return readWrapped(body, start, buf)
}

// readWrapped reads a token that line breaks cut, into buf.
func readWrapped(body []byte, start int, buf []byte) (tok []byte, end int, complete bool) {
	dots := 0
	sigLen := 0
	want := 0
	i := start
	for i < len(body) {
		c := body[i]
		switch {
		case isB64(c):
			buf = append(buf, c)
			if dots == 2 {
				sigLen++
				if want > 0 && sigLen == want {
					return buf, i + 1, true
				}
			}
			i++
			continue
		case c == '.' && dots < 2:
			dots++
			if dots == 1 {
				want = signatureLen(buf)
			}
			buf = append(buf, c)
			i++
			continue
		}
		// A soft break (quoted-printable) or a hard wrap inside a token.
		if n := lineBreak(body[i:]); n > 0 && i+n < len(body) && (isB64(body[i+n]) || body[i+n] == '.') && !(dots == 2 && want > 0 && sigLen >= want) {
			i += n
			continue
		}
		break
	}
	return buf, i, dots == 2 && want > 0 && sigLen == want
}

// back returns the position of the character before pos, stepping back
// over quoted-printable soft breaks; -1 at the start.
func back(b []byte, pos int) int {
	p := pos - 1
	for p >= 0 && b[p] == '\n' {
		switch {
		case p >= 2 && b[p-1] == '\r' && b[p-2] == '=':
			p -= 3
		case p >= 1 && b[p-1] == '=':
			p -= 2
		default:
			return p
		}
	}
	return p
}

// lineBreak returns the length of a line break at the start of b: "=\r\n",
// "=\n", "\r\n" or "\n"; 0 if there is none.
func lineBreak(b []byte) int {
	switch {
	case bytes.HasPrefix(b, []byte("=\r\n")):
		return 3
	case bytes.HasPrefix(b, []byte("=\n")), bytes.HasPrefix(b, []byte("\r\n")):
		return 2
	case bytes.HasPrefix(b, []byte("\n")):
		return 1
	}
	return 0
}

// signatureLen returns the length of the base64url signature for the
// header seg, by its algorithm; 0 when unknown.
func signatureLen(seg []byte) int {
	hb, err := base64.RawURLEncoding.DecodeString(string(seg))
	if err != nil {
		return 0
	}
	switch {
	case bytes.Contains(hb, []byte(`"alg":"HS256"`)):
		return 43
	case bytes.Contains(hb, []byte(`"alg":"EdDSA"`)):
		return 86
	}
	return 0
}

// base64Parts decodes the base64 parts of a MIME message, recursively, to a
// bounded depth.
func base64Parts(raw []byte) [][]byte {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	var out [][]byte
	walkPart(textproto.MIMEHeader(msg.Header), msg.Body, 0, &out)
	return out
}

func walkPart(h textproto.MIMEHeader, body io.Reader, depth int, out *[][]byte) {
	if depth > 8 || len(*out) > 64 {
		return
	}
	mt, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walkPart(p.Header, p, depth+1, out)
		}
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("Content-Transfer-Encoding")), "base64") {
		dec, err := io.ReadAll(io.LimitReader(base64.NewDecoder(base64.StdEncoding, newLineStripper(body)), MaxMessage))
		if err == nil || len(dec) > 0 {
			*out = append(*out, dec)
		}
	}
}
