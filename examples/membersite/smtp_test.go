package main

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/verify"
)

// recording remembers the bytes handed to the transport.
type recording struct {
	Transport
	mu   sync.Mutex
	sent map[string][]byte
}

func (r *recording) Deliver(ctx context.Context, to, subject string, raw []byte) error {
	r.mu.Lock()
	r.sent[to] = bytes.Clone(raw)
	r.mu.Unlock()
	return r.Transport.Deliver(ctx, to, subject, raw)
}

// TestSMTPInvite sends the invitations through a real SMTP server: every
// member's message arrives with exactly the bytes the send guard checked,
// and carries that member's link.
func TestSMTPInvite(t *testing.T) {
	mp := startMailpit(t)
	site, _ := startSite(t, SMTPConfig{Addr: mp.SMTP})
	rec := &recording{Transport: site.mail, sent: map[string][]byte{}}
	site.mail = rec
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := site.Invite(ctx)
	if err != nil || res.Blocked != nil || res.Sent != len(site.members) {
		t.Fatalf("invite: %+v %v", res, err)
	}
	for _, m := range site.members[:5] {
		_, text, raw := mp.waitMessage(t, m.Email, 1)
		if !bytes.HasSuffix(raw, rec.sent[m.Email]) {
			t.Fatalf("%s: the server got other bytes than the guard checked:\n%s\nwant\n%s", m.Email, raw, rec.sent[m.Email])
		}
		link := linkRE.FindString(text)
		if _, err := site.v.Consume(ctx, verify.Request{Link: link, Purpose: "login", Identity: verify.Identity{Email: m.Email}}); err != nil {
			t.Fatalf("%s's link from the server: %v", m.Email, err)
		}
	}
}
