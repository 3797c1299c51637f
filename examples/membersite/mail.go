package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTPConfig names the SMTP server the site sends through. With no Addr
// the site keeps every message in its outbox instead.
type SMTPConfig struct {
	// Addr is host:port, such as 127.0.0.1:1025 for Mailpit.
	Addr string
	// From is the sender's address.
	From string
	// User and Password authenticate, when the server asks for it.
	User, Password string
}

// Transport delivers a rendered message, exactly its bytes, to one
// recipient.
type Transport interface {
	Deliver(ctx context.Context, to, subject string, raw []byte) error
	// Where says where messages go, for the pages.
	Where() string
}

const defaultFrom = "noreply@members.example"

// render renders one plain-text message with go-mail and returns the bytes
// it writes: the bytes the send guard checks and the transport sends.
func render(from string, m Member, subject, body string) ([]byte, error) {
	msg := mail.NewMsg()
	if err := msg.FromFormat("The member site", from); err != nil {
		return nil, err
	}
	if err := msg.AddToFormat(m.Name, m.Email); err != nil {
		return nil, err
	}
	msg.Subject(subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, body)
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// smtpTransport sends through an SMTP server with go-mail's client: it
// dials, says MAIL FROM and RCPT TO, and writes the rendered bytes as
// they are, so that what the send guard checked is what the server gets.
type smtpTransport struct {
	client *mail.Client
	from   string
	addr   string
}

// newSMTP makes the transport. TLS is required, but for a server on a
// loopback address (a development server such as Mailpit), where it is
// used when offered.
func newSMTP(c SMTPConfig) (*smtpTransport, error) {
	host, portText, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP address %q: want host:port", c.Addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("SMTP address %q: bad port", c.Addr)
	}
	policy := mail.TLSMandatory
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		policy = mail.TLSOpportunistic
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTLSPolicy(policy), mail.WithTimeout(15 * time.Second)}
	if c.User != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(c.User), mail.WithPassword(c.Password))
	}
	client, err := mail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP client: %w", err)
	}
	from := c.From
	if from == "" {
		from = defaultFrom
	}
	return &smtpTransport{client: client, from: from, addr: c.Addr}, nil
}

func (t *smtpTransport) Where() string { return "the SMTP server at " + t.addr }

// Deliver sends raw to one recipient in one SMTP transaction.
func (t *smtpTransport) Deliver(ctx context.Context, to, _ string, raw []byte) error {
	sc, err := t.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("SMTP connect: %w", err)
	}
	defer t.client.CloseWithSMTPClient(sc)
	// go-mail's SMTP client takes the paths as the commands carry them.
	if err := sc.Mail("<" + t.from + ">"); err != nil {
		return fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	if err := sc.Rcpt("<" + to + ">"); err != nil {
		return fmt.Errorf("SMTP RCPT TO: %w", err)
	}
	w, err := sc.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		w.Close()
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	return nil
}
