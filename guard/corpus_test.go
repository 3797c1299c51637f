package guard

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/token"
)

// TestHostileCorpusRefused checks every message of testdata/hostile, each
// with a fresh guard: every one is refused.
func TestHostileCorpusRefused(t *testing.T) {
	f, links, _ := guardFixture(t, nil)
	p, _ := f.iss.Parser()
	corpus := loadCorpus(t, "hostile", newCorpusLinks(links))
	if len(corpus) < 40 {
		t.Fatalf("the hostile corpus has %d messages, want at least 40", len(corpus))
	}
	for _, cm := range corpus {
		t.Run(cm.name, func(t *testing.T) {
			g, _ := New(p, f.st, WithBatch("invite"))
			err := g.Check(ctx, cm.mail)
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("passed a message that hides %s (err %v)", cm.hides, err)
			}
			t.Logf("refused: %s", reasonOf(err))
		})
	}
}

// TestHonestCorpusPasses checks every message of testdata/honest, each with
// a fresh guard: mail a real mailer writes passes.
func TestHonestCorpusPasses(t *testing.T) {
	f, links, _ := guardFixture(t, nil)
	p, _ := f.iss.Parser()
	for _, cm := range loadCorpus(t, "honest", newCorpusLinks(links)) {
		t.Run(cm.name, func(t *testing.T) {
			g, _ := New(p, f.st, WithBatch("invite"))
			if err := g.Check(ctx, cm.mail); err != nil {
				t.Fatalf("refused an honest message (%s): %v", cm.hides, err)
			}
		})
	}
}

func reasonOf(err error) string {
	var be *BlockedError
	if errors.As(err, &be) {
		return be.Reason
	}
	return fmt.Sprint(err)
}

// TestIncidentAccumulatedRecipients is the incident's mailer one step
// further: one mail object per batch whose recipient list grows, so member
// i's message is addressed to members 0..i. CheckAll refuses the batch.
func TestIncidentAccumulatedRecipients(t *testing.T) {
	f := setup(t, nil, nil)
	const n = 10
	var reqs []token.Request
	for i := 0; i < n; i++ {
		reqs = append(reqs, token.Request{Member: fmt.Sprint("m", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("member%d@example.org", i)})
	}
	links, err := f.iss.MintBatch(ctx, "invite", reqs)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := f.iss.Parser()
	render := func(to []string, own string, link string) Mail {
		raw := "From: The union <noreply@union.example>\r\nTo: " + strings.Join(to, ", ") +
			"\r\nSubject: Your new member site\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLog in: " + link + "\r\n"
		return Mail{To: own, Raw: []byte(raw)}
	}
	t.Run("accumulated recipients", func(t *testing.T) {
		g, _ := New(p, f.st)
		var to []string
		var mails []Mail
		for i := 0; i < n; i++ {
			to = append(to, reqs[i].Recipient)
			mails = append(mails, render(to, reqs[i].Recipient, links[i].URL))
		}
		be := wantBlocked(t, g.CheckAll(ctx, mails), "other recipient")
		if be.Index != 1 {
			t.Fatalf("refused message %d, want 1 (the first with two recipients)", be.Index)
		}
	})
	t.Run("reused body", func(t *testing.T) {
		g, _ := New(p, f.st)
		var mails []Mail
		for i := 0; i < n; i++ {
			mails = append(mails, render([]string{reqs[i].Recipient}, reqs[i].Recipient, links[0].URL))
		}
		be := wantBlocked(t, g.CheckAll(ctx, mails), "foreign link")
		if be.Index != 1 {
			t.Fatalf("refused message %d, want 1", be.Index)
		}
	})
}
