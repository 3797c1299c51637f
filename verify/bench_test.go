package verify

import (
	"fmt"
	"testing"

	"github.com/oncelink/oncelink/internal/floor"
	"github.com/oncelink/oncelink/token"
)

// BenchmarkConsume measures a whole verification on the memory store:
// parse, identity confirmation and the atomic consume. Its floor is
// golang-jwt's HS256 parse and validate with the hash of the secret, the
// part no verifier can skip.
func BenchmarkConsume(b *testing.B) {
	b.Run("oncelink/memory", func(b *testing.B) {
		f := setup(b, nil, nil)
		reqs := make([]token.Request, b.N)
		for i := range reqs {
			reqs[i] = token.Request{Member: fmt.Sprint("m", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)}
		}
		links, err := f.iss.MintBatch(ctx, "bench", reqs)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.v.Consume(ctx, login(links[i].URL, Identity{Email: reqs[i].Recipient})); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor", floor.BenchParse)
}
