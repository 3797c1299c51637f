// Package loadtest drives a verifier over a store the way a member site's
// busy hour does, for the stores' benchmarks: logins by their owners, and
// the replays and wrong identities that come with them.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// presentation is one request of the load: the link's index and whether
// the identity typed is the owner's.
type presentation struct {
	link  int
	right bool
}

// BenchConsume presents links to a verifier on st from the given number of
// goroutines; one op is one presentation. Clean (presentations 1, wrong 0)
// is every link presented once by its owner. Mixed presents each link
// presentations times, in random order across the links, each with the
// probability wrong of a wrong identity: the owner's first presentation
// logs in, the ones after it are replays refused as used, and every wrong
// identity is a mismatch; each refusal is written to the ledger. The
// circuit breaker is off, so that the wrong identities do not freeze the
// batch the logins come from. It reports logins/s and presentations/s.
func BenchConsume(b *testing.B, st store.Store, goroutines, presentations int, wrong float64) {
	ctx := context.Background()
	key, err := token.GenerateHMACKey("load")
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := token.NewKeyring(key)
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		b.Fatal(err)
	}
	p, _ := iss.Parser()
	v, err := verify.New(p, st, verify.WithoutBreaker(), verify.WithMemberLimit(1000, time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	nlinks := (b.N + presentations - 1) / presentations
	var links []*token.Link
	for done := 0; done < nlinks; done += 10000 {
		reqs := make([]token.Request, min(10000, nlinks-done))
		for i := range reqs {
			m := done + i
			reqs[i] = token.Request{Member: fmt.Sprintf("m-%d", m), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("m-%d@example.org", m)}
		}
		got, err := iss.MintBatch(ctx, "", reqs)
		if err != nil {
			b.Fatal(err)
		}
		links = append(links, got...)
	}
	plan := make([]presentation, b.N)
	for i := range plan {
		plan[i] = presentation{link: i % nlinks, right: mrand.Float64() >= wrong}
	}
	mrand.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	var logins atomic.Int64
	storetest.Parallel(b, goroutines, func(i int) error {
		pr := plan[i]
		l := links[pr.link]
		id := verify.Identity{Email: l.Recipient}
		if !pr.right {
			id.Email = "someone.else@example.net"
		}
		_, err := v.Consume(ctx, verify.Request{Link: l.URL, Purpose: token.PurposeLogin, Identity: id,
			IP: "192.0.2.1", UserAgent: "load", Session: fmt.Sprintf("s-%d", i)})
		switch {
		case err == nil:
			logins.Add(1)
			return nil
		case errors.Is(err, verify.ErrUsed), errors.Is(err, verify.ErrMismatch) && !pr.right,
			errors.Is(err, verify.ErrRevoked) && presentations > 1:
			return nil // a replay, a wrong identity, a link its failures revoked
		}
		return fmt.Errorf("presentation %d (right identity %v): %w", i, pr.right, err)
	})
	b.ReportMetric(float64(logins.Load())/b.Elapsed().Seconds(), "logins/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "presentations/s")
}
