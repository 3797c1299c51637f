package mailscan

import (
	"bytes"
	"fmt"
	"strings"
)

// Limits bound the work the scanner does for one message. Reaching any of
// them is an error, never a reason to stop looking and pass.
type Limits struct {
	// MaxSize bounds the message, in bytes.
	MaxSize int
	// MaxParts bounds the entities (the message, its parts, attached
	// messages and their parts) read.
	MaxParts int
	// MaxDepth bounds how deep parts and attached messages nest.
	MaxDepth int
	// MaxLinks bounds the distinct tokens one message may carry.
	MaxLinks int
	// MaxRounds bounds how many times over a text is decoded (HTML,
	// percent-encoding, JavaScript escapes, base64 inside links).
	MaxRounds int
}

// DefaultLimits are the send guard's limits.
var DefaultLimits = Limits{MaxSize: 25 << 20, MaxParts: 256, MaxDepth: 8, MaxLinks: 64, MaxRounds: 8}

// workFactor bounds the bytes the scanner reads over all the texts it
// makes of a message, as a multiple of the message's size (plus
// workSlack): every reading, decoding and round counts.
const (
	workFactor = 48
	workSlack  = 1 << 20
)

// Message is what a scan found.
type Message struct {
	// HasHeader reports whether the message has a header block.
	HasHeader bool
	// Recipients are the addresses the header names in recipient fields
	// (To, Cc, Bcc, Resent-To, Resent-Cc, Resent-Bcc and the delivery
	// fields), as written, and the addresses a reader could see in their
	// display names and comments. Attached messages' fields are not.
	Recipients []string
	// MessageID is the Message-ID field's value, "" without one.
	MessageID string
	// Tokens are the distinct whole tokens found, in the order found.
	Tokens []string
	// Texts are the decoded texts of the leaf parts (after the transfer
	// encoding and the charset), when the scan was asked to keep them.
	Texts [][]byte
	// Work is the number of bytes read over every text made of the
	// message.
	Work int
}

type scanner struct {
	lim        Limits
	msg        Message
	seen       map[string]struct{}
	parts      int
	budget     int
	boundaries map[string]bool
	suspicious []string
	keep       bool
	buf        []byte
	deferred   []string // partial tokens a later reading may complete
	careful    bool     // no fast path: every reading of every text
}

// Scan reads a rendered message (a header block and a body, or a body
// alone; see [SplitHeader]) whole and returns its recipients and the
// oncelink tokens it carries, wherever a mail client or a browser would
// find them. What it cannot read whole, or a limit reached, is an error.
// keepTexts keeps the decoded leaf texts in [Message.Texts].
func Scan(raw []byte, lim Limits, keepTexts bool) (*Message, error) {
	if len(raw) > lim.MaxSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxSize)
	}
	s := &scanner{lim: lim, budget: workFactor*len(raw) + workSlack, keep: keepTexts}
	fields, body, hasHeader, err := SplitHeader(raw)
	if err != nil {
		return nil, err
	}
	s.msg.HasHeader = hasHeader
	if hasHeader {
		if err := s.envelope(fields); err != nil {
			return nil, err
		}
		err = s.entity(fields, body, 0)
	} else {
		err = s.bodyOnly(body)
	}
	if err == nil {
		err = s.checkSuspicious()
	}
	if err != nil {
		return nil, err
	}
	return &s.msg, nil
}

// envelope reads the top-level recipients and Message-ID.
func (s *scanner) envelope(fields []Field) error {
	for _, f := range fields {
		if !isRecipientField(f.Name) {
			continue
		}
		addrs, err := Addresses(f.Value)
		if err != nil {
			return fmt.Errorf("%w (%s)", err, f.Name)
		}
		s.msg.Recipients = append(s.msg.Recipients, addrs...)
	}
	mid, _, err := Get(fields, "Message-ID")
	if err != nil {
		return err
	}
	s.msg.MessageID = strings.TrimSpace(string(mid))
	return nil
}

// bodyOnly reads a message without a header block: a body the mailer adds
// a header to. It is read as text, quoted-printable decoded (a body handed
// over already encoded), and, when it is nothing but base64, decoded from
// base64 too. A body holding MIME part headers is [ErrPart]: without the
// header block nobody can say how its parts are decoded.
func (s *scanner) bodyOnly(body []byte) error {
	if mimeLines(body) {
		return fmt.Errorf("%w: a message without a header block holds MIME part headers", ErrPart)
	}
	texts := [][]byte{decodeQP(body)}
	if onlyBase64(body) {
		texts = append(texts, decodeBase64(body)...)
	}
	return s.leaf(texts, "")
}

// mimeLines reports whether a line of b starts with a Content-Type or
// Content-Transfer-Encoding field (in any case, white space before the
// colon allowed). It looks only at the hyphens of b.
func mimeLines(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '-')
		if j < 0 {
			return false
		}
		d := i + j
		i = d + 1
		s := d - len("content")
		if s < 0 || s > 0 && b[s-1] != '\n' || !bytes.EqualFold(b[s:d], []byte("content")) {
			continue
		}
		for _, name := range []string{"type", "transfer-encoding"} {
			e := d + 1 + len(name)
			if e > len(b) || !bytes.EqualFold(b[d+1:e], []byte(name)) {
				continue
			}
			for e < len(b) && (b[e] == ' ' || b[e] == '\t') {
				e++
			}
			if e < len(b) && b[e] == ':' {
				return true
			}
		}
	}
}

// onlyBase64 reports whether b is base64 text: at least 16 characters of
// the alphabet, white space, and padding, nothing else.
func onlyBase64(b []byte) bool {
	n := 0
	for _, c := range b {
		switch {
		case b64val[c] < 64 || c == '-' || c == '_':
			n++
		case c == '=' || c == '\r' || c == '\n' || c == ' ' || c == '\t':
		default:
			return false
		}
	}
	return n >= 16
}

// entity reads one entity (the message, a part, an attached message) at
// depth: its header fields' texts, then its body by its media type.
func (s *scanner) entity(fields []Field, body []byte, depth int) error {
	if depth > s.lim.MaxDepth {
		return fmt.Errorf("%w: deeper than %d", ErrTooDeep, s.lim.MaxDepth)
	}
	if s.parts++; s.parts > s.lim.MaxParts {
		return fmt.Errorf("%w: more than %d", ErrTooManyParts, s.lim.MaxParts)
	}
	if err := s.headerText(fields); err != nil {
		return err
	}
	ctv, _, err := Get(fields, "Content-Type")
	if err != nil {
		return err
	}
	ct, err := parseContentType(ctv)
	if err != nil {
		return err
	}
	cte, _, err := Get(fields, "Content-Transfer-Encoding")
	if err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(ct.media, "multipart/"):
		if e := strings.ToLower(strings.TrimSpace(string(cte))); e != "" && e != "7bit" && e != "8bit" && e != "binary" {
			return fmt.Errorf("%w: a multipart in a transfer encoding", ErrPart)
		}
		if ct.boundary == "" {
			return fmt.Errorf("%w: a multipart without a boundary", ErrPart)
		}
		return s.multipart(body, ct.boundary, depth)
	case strings.HasPrefix(ct.media, "message/"):
		texts, err := transferTexts(body, string(cte))
		if err != nil {
			return err
		}
		for _, t := range texts {
			f, b, _, err := SplitHeader(t)
			if err != nil {
				return err
			}
			if err := s.entity(f, b, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	texts, err := transferTexts(body, string(cte))
	if err != nil {
		return err
	}
	return s.leaf(texts, ct.charset)
}

// leaf reads the transfer-decoded texts of a leaf part in charset.
func (s *scanner) leaf(texts [][]byte, charset string) error {
	for _, t := range texts {
		cs, err := charsetTexts(t, charset)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if s.keep {
				s.msg.Texts = append(s.msg.Texts, c)
			}
			if err := s.text(c, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// headerText reads the texts of header fields, with their encoded-words
// decoded: a client shows a Subject, and a link may hide in any field.
func (s *scanner) headerText(fields []Field) error {
	if len(fields) == 0 {
		return nil
	}
	var b []byte
	for _, f := range fields {
		b = append(b, f.Value...)
		b = append(b, 0)
		if bytes.Contains(f.Value, []byte("=?")) {
			d, err := decodeWords(string(f.Value))
			if err != nil {
				return err
			}
			b = append(b, d...)
			b = append(b, 0)
		}
	}
	return s.text(b, 0)
}

// checkSuspicious checks the lines that began with a delimiter and more:
// each must be the delimiter of another boundary of the message.
func (s *scanner) checkSuspicious() error {
	for _, l := range s.suspicious {
		l = strings.TrimRight(l, " \t")
		if !s.boundaries[l] && !s.boundaries[strings.TrimSuffix(l, "--")] {
			return fmt.Errorf("%w: a line that starts with a boundary delimiter and goes on", ErrPart)
		}
	}
	return nil
}
