package guard

import (
	"fmt"
	"log/slog"
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
	return fmt.Sprintf("guard.Mail{to: %q, member: %q, envelope: %q, raw: %d bytes, id: %q}", m.To, m.Member, m.Envelope, len(m.Raw), m.ID)
}

// Format prints [Mail.String] for every verb.
func (m Mail) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }

// LogValue logs the message's recipient, member, size and ID, never its
// content.
func (m Mail) LogValue() slog.Value {
	return slog.GroupValue(slog.String("to", m.To), slog.String("member", m.Member), slog.Int("bytes", len(m.Raw)), slog.String("id", m.ID))
}
