package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Tokens makes n records for batch (members "m-0" ... "m-<n-1>"), issued now
// and expiring in two hours, with the consume requests that succeed on them.
// It is for benchmarks and load tests.
func Tokens(tb testing.TB, n int, batch string) ([]store.Record, []store.ConsumeRequest) {
	tb.Helper()
	recs := make([]store.Record, n)
	reqs := make([]store.ConsumeRequest, n)
	secrets := make([]byte, 32*n)
	if _, err := rand.Read(secrets); err != nil {
		tb.Fatal(err)
	}
	at := now()
	for i := range recs {
		h := sha256.Sum256(secrets[32*i : 32*i+32])
		recs[i] = store.Record{
			ID: newID(), Member: fmt.Sprintf("m-%d", i), Purpose: "login", Batch: batch,
			Recipient: fmt.Sprintf("m-%d@example.org", i), SecretHash: h,
			IssuedAt: at, ExpiresAt: at.Add(2 * time.Hour),
		}
		reqs[i] = store.ConsumeRequest{ID: recs[i].ID, SecretHash: h, At: at,
			Member: recs[i].Member, Purpose: recs[i].Purpose, Batch: batch, Confirmation: store.Confirmed,
			Presentation: store.Presentation{Identity: "member:x", IP: "192.0.2.1", UserAgent: "bench", Session: "s"}}
	}
	return recs, reqs
}

// BenchConsume measures Consume of distinct, valid tokens with the given
// number of goroutines. Tokens are inserted before the timer starts. Every
// consume must succeed.
func BenchConsume(b *testing.B, s store.Store, goroutines int) {
	recs, reqs := Tokens(b, b.N, fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	ctx := context.Background()
	for i := 0; i < len(recs); i += 10000 {
		if err := s.Insert(ctx, recs[i:min(i+10000, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
	reqs = Shuffled(reqs)
	Parallel(b, goroutines, func(i int) error {
		_, err := s.Consume(ctx, reqs[i])
		return err
	})
}

// Shuffled returns reqs in a random order: people click their links in no
// particular order, not in the order the links were inserted, and
// consume benchmarks, oncelink's and raw alike, should not measure the
// contention of neighbouring rows updated at once.
func Shuffled(reqs []store.ConsumeRequest) []store.ConsumeRequest {
	out := slices.Clone(reqs)
	mrand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Parallel runs op(i) for i in [0, b.N) on the given number of goroutines,
// with the timer running only around the calls, and fails the benchmark on
// the first error.
func Parallel(b *testing.B, goroutines int, op func(i int) error) {
	var next atomic.Int64
	var failed atomic.Value
	done := make(chan struct{})
	b.ResetTimer()
	for g := 0; g < goroutines; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if err := op(i); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	for g := 0; g < goroutines; g++ {
		<-done
	}
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// BenchInsert measures inserting n records in one Insert call; each
// iteration inserts a fresh set. It reports records per second.
func BenchInsert(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		recs, _ := Tokens(b, n, fmt.Sprintf("bulk-%d-%d", time.Now().UnixNano(), i))
		b.StartTimer()
		if err := s.Insert(ctx, recs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
