package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/oncelink/oncelink/guard"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// BenchmarkSend mints and sends a whole invitation: MintStream in chunks of
// 10,000, each message rendered and checked by the send guard in mail
// batches of ten, then dropped (the mail transfer is not oncelink's). It
// reports the wall time of the whole send and links per second.
func BenchmarkSend(b *testing.B) {
	for _, be := range []struct {
		name string
		open func(testing.TB) (store.Store, string)
	}{{"sqlite", teststores.SQLite}, {"postgres", teststores.Postgres}} {
		for _, n := range []int{18000, 1000000} {
			b.Run(fmt.Sprintf("%s/links=%d", be.name, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					st, _ := be.open(b)
					b.StartTimer()
					send(b, st, n)
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/send")
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "links/s")
			})
		}
	}
}

func send(b *testing.B, st store.Store, n int) {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("send")
	keys, _ := token.NewKeyring(key)
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		b.Fatal(err)
	}
	parser, _ := iss.Parser()
	batch := token.NewBatchID()
	g, err := guard.New(parser, st, guard.WithBatch(batch))
	if err != nil {
		b.Fatal(err)
	}
	reqs := func(yield func(token.Request) bool) {
		for i := 0; i < n; i++ {
			if !yield(token.Request{Member: fmt.Sprintf("m-%07d", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("m-%07d@members.example", i)}) {
				return
			}
		}
	}
	sent := 0
	_, err = iss.MintStream(ctx, batch, reqs, 10000, func(links []*token.Link) error {
		for start := 0; start < len(links); start += 10 {
			mails := make([]guard.Mail, 0, 10)
			for _, l := range links[start:min(start+10, len(links))] {
				mails = append(mails, guard.Mail{To: l.Recipient, Member: l.Claims.Member, Raw: message(l)})
			}
			if err := g.CheckAll(ctx, mails); err != nil {
				return err
			}
			sent += len(mails)
		}
		return nil
	})
	if err != nil || sent != n {
		b.Fatalf("sent %d of %d: %v", sent, n, err)
	}
}

func message(l *token.Link) []byte {
	return []byte("From: The union <noreply@union.example>\r\nTo: <" + l.Recipient + ">\r\nSubject: Your new member site\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDear member,\r\n\r\nLog in with your own link:\r\n\r\n" +
		l.URL + "\r\n\r\nYou will be asked for your email address.\r\n")
}
