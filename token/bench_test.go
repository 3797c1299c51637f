package token

import (
	"crypto/rand"
	"testing"

	"github.com/oncelink/oncelink/internal/floor"
)

// BenchmarkMint compares minting a link (without the store) with its floor:
// golang-jwt HS256 sign + random secret + hash.
func BenchmarkMint(b *testing.B) {
	b.Run("oncelink", func(b *testing.B) {
		f := setup(b, hmacKey(b, "k1"))
		key := f.keys.snapshot().active
		now := f.clk.now()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := f.iss.mint(ctx, login, "", now, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor", func(b *testing.B) {
		key := make([]byte, 32)
		rand.Read(key)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := floor.Mint(key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParse compares verifying a token (without the store) with its
// floor: golang-jwt HS256 parse and validate + hash of the secret.
func BenchmarkParse(b *testing.B) {
	b.Run("oncelink", func(b *testing.B) {
		f := setup(b, hmacKey(b, "k1"))
		l := f.mint(b, login)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.p.Parse(l.URL, PurposeLogin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor", floor.BenchParse)
}
