package teststores

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	links "github.com/oncelink/oncelink/token"
)

// BenchMintBatch measures minting n links in one Issuer.MintBatch call
// into s: signing every link, binding it to its recipient, and recording
// the batch in one store call. It reports records per second.
func BenchMintBatch(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	key, err := links.GenerateHMACKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := links.NewKeyring(key)
	iss, err := links.NewIssuer(keys, s, links.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]links.Request, n)
	for i := range reqs {
		reqs[i] = links.Request{Member: fmt.Sprintf("m-%d", i), Purpose: links.PurposeLogin, Recipient: fmt.Sprintf("m-%d@example.org", i)}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		minted, err := iss.MintBatch(ctx, fmt.Sprintf("mint-%d-%d", time.Now().UnixNano(), i), reqs)
		if err != nil {
			b.Fatal(err)
		}
		if len(minted) != n {
			b.Fatalf("minted %d links", len(minted))
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
