package token_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

var ctx = context.Background()

// TestMintBatchStreamed mints batches larger than a signing block into
// every store, streamed where the store takes records as they come: the
// links keep request order and are all recorded, a bad request anywhere
// records none, and a store that fails records none and returns no link.
func TestMintBatchStreamed(t *testing.T) {
	const n = 1553 // three signing blocks and some
	reqs := make([]token.Request, n)
	for i := range reqs {
		reqs[i] = token.Request{Member: fmt.Sprint("m", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)}
	}
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			key, _ := token.GenerateHMACKey("k")
			keys, _ := token.NewKeyring(key)
			iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
			if err != nil {
				t.Fatal(err)
			}
			count := func(batch string) int64 {
				t.Helper()
				c, err := st.Count(ctx, store.Filter{Batches: []string{batch}})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			links, err := iss.MintBatch(ctx, "whole", reqs)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range links {
				if l.Claims.Member != reqs[i].Member || l.Recipient != reqs[i].Recipient {
					t.Fatalf("link %d is %v, for request %v", i, l, reqs[i])
				}
			}
			if c := count("whole"); c != n {
				t.Fatalf("recorded %d of %d links", c, n)
			}
			for _, at := range []int{0, 515, n - 1} {
				bad := append([]token.Request(nil), reqs...)
				bad[at].Recipient = ""
				batch := fmt.Sprint("bad-", at)
				if links, err := iss.MintBatch(ctx, batch, bad); !errors.Is(err, token.ErrRequest) || links != nil {
					t.Fatalf("request %d without a recipient: %d links, %v; want token.ErrRequest", at, len(links), err)
				}
				if c := count(batch); c != 0 {
					t.Fatalf("a refused batch (bad request %d) recorded %d links", at, c)
				}
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if links, err := iss.MintBatch(cctx, "canceled", reqs); err == nil || links != nil {
				t.Fatalf("a batch with a canceled context: %d links, %v", len(links), err)
			}
			if c := count("canceled"); c != 0 {
				t.Fatalf("a canceled batch recorded %d links", c)
			}
		})
	}
}
