package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Outbox captures every message the site sends: one .eml file per message,
// so nothing leaves the machine.
type Outbox struct {
	dir  string
	mu   sync.Mutex
	seq  int
	sent []Sent
}

// Sent is one captured message.
type Sent struct {
	N       int
	To      string
	Subject string
	At      time.Time
	File    string
}

// NewOutbox opens the outbox directory, keeping what earlier runs sent.
func NewOutbox(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	o := &Outbox{dir: dir}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	sort.Strings(files)
	for _, f := range files {
		var n int
		var to string
		base := filepath.Base(f)
		if _, err := fmt.Sscanf(base, "%06d-", &n); err != nil {
			continue
		}
		to = strings.TrimSuffix(base[7:], ".eml")
		info, _ := os.Stat(f)
		subject := ""
		if raw, err := os.ReadFile(f); err == nil {
			if m, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
				subject, _ = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			}
		}
		o.sent = append(o.sent, Sent{N: n, To: to, Subject: subject, At: info.ModTime(), File: f})
		o.seq = max(o.seq, n)
	}
	return o, nil
}

// Where says where messages go.
func (o *Outbox) Where() string { return "the outbox" }

// Deliver writes a message to the outbox.
func (o *Outbox) Deliver(_ context.Context, to, subject string, raw []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	name := fmt.Sprintf("%06d-%s.eml", o.seq, strings.NewReplacer("/", "_", "\\", "_").Replace(to))
	path := filepath.Join(o.dir, name)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return err
	}
	o.sent = append(o.sent, Sent{N: o.seq, To: to, Subject: subject, At: time.Now(), File: path})
	return nil
}

// List returns the captured messages, newest first.
func (o *Outbox) List() []Sent {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Sent, len(o.sent))
	for i := range o.sent {
		out[len(o.sent)-1-i] = o.sent[i]
	}
	return out
}

// Read returns message n.
func (o *Outbox) Read(n int) (Sent, []byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.sent {
		if s.N == n {
			raw, err := os.ReadFile(s.File)
			return s, raw, err == nil
		}
	}
	return Sent{}, nil, false
}

// Body returns the decoded text of a plain-text message (quoted-printable
// or base64 as the mailer encoded it), as a mail client shows it.
func Body(raw []byte) (string, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	var r io.Reader = m.Body
	switch strings.ToLower(strings.TrimSpace(m.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	return string(b), err
}
