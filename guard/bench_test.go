package guard

import (
	"fmt"
	"testing"

	"github.com/oncelink/oncelink/token"
)

// html20k renders a 20 KB HTML invitation carrying url twice (the button and
// the pasted address), as mailers do.
func html20k(name, url string) []byte {
	var b []byte
	b = append(b, "<!doctype html><html><head><style>td{font-family:Georgia,serif;color:#222}</style></head><body><table>"...)
	filler := "<tr><td><p>The union has a new member site: your membership, your insurance, your courses and your newsletter settings, all in one place.</p></td></tr>\n"
	for len(b) < 9*1024 {
		b = append(b, filler...)
	}
	b = append(b, "<tr><td><p>Dear "+name+",</p><p><a href=\""+url+"\" style=\"background:#c00;color:#fff\">Log in</a></p></td></tr>\n"...)
	for len(b) < 19*1024 {
		b = append(b, filler...)
	}
	b = append(b, "<tr><td><p>Or paste this address into your browser: "+url+"</p></td></tr></table></body></html>\n"...)
	return b
}

// BenchmarkCheck measures the send guard on one 20 KB HTML message with
// its link twice. Target: under 25 µs a message.
func BenchmarkCheck(b *testing.B) {
	const n = 1000 // distinct messages; a new guard every n checks
	f := setup(b, nil, nil)
	reqs := make([]token.Request, n)
	for i := range reqs {
		reqs[i] = token.Request{Member: fmt.Sprint("m", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)}
	}
	links, err := f.iss.MintBatch(ctx, "bench", reqs)
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]Mail, n)
	for i := range msgs {
		msgs[i] = Mail{To: reqs[i].Recipient, Raw: html20k(reqs[i].Member, links[i].URL)}
	}
	p, _ := f.iss.Parser()
	var g *Guard
	b.SetBytes(int64(len(msgs[0].Raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%n == 0 {
			b.StopTimer()
			g, _ = New(p, f.st, WithBatch("bench"))
			b.StartTimer()
		}
		if err := g.Check(ctx, msgs[i%n]); err != nil {
			b.Fatal(err)
		}
	}
}
