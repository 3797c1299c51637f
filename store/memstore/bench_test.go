package memstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// rawMap is the raw single operation of an in-process store: a map of
// records under a mutex, consumed by setting a flag.
type rawMap struct {
	mu sync.Mutex
	m  map[string]*rawRec
}

type rawRec struct {
	secret   [32]byte
	consumed bool
}

func (r *rawMap) consume(id string, secret [32]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.m[id]
	if !ok || rec.secret != secret || rec.consumed {
		return store.ErrUsed
	}
	rec.consumed = true
	return nil
}

// BenchmarkConsume compares the memory store's Consume, with every check,
// with a map lookup and flag under a mutex.
func BenchmarkConsume(b *testing.B) {
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("oncelink/goroutines=%d", g), func(b *testing.B) {
			storetest.BenchConsume(b, memstore.New(), g)
		})
		b.Run(fmt.Sprintf("raw/goroutines=%d", g), func(b *testing.B) {
			recs, reqs := storetest.Tokens(b, b.N, "raw")
			r := &rawMap{m: make(map[string]*rawRec, len(recs))}
			for i := range recs {
				r.m[recs[i].ID] = &rawRec{secret: recs[i].SecretHash}
			}
			reqs = storetest.Shuffled(reqs)
			storetest.Parallel(b, g, func(i int) error { return r.consume(reqs[i].ID, reqs[i].SecretHash) })
		})
	}
}

// BenchmarkInsert100k compares inserting 100k records with assigning them
// to a map.
func BenchmarkInsert100k(b *testing.B) {
	const n = 100000
	b.Run("oncelink", func(b *testing.B) { storetest.BenchInsert(b, memstore.New(), n) })
	b.Run("mintbatch", func(b *testing.B) { teststores.BenchMintBatch(b, memstore.New(), n) })
	b.Run("raw", func(b *testing.B) {
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			recs, _ := storetest.Tokens(b, n, "raw")
			m := make(map[string]*store.Record)
			b.StartTimer()
			for j := range recs {
				m[recs[j].ID] = &recs[j]
			}
			b.StopTimer()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkBytesPerToken reports the heap one outstanding token costs in
// the memory store, at 1M tokens (member, recipient and batch included).
func BenchmarkBytesPerToken(b *testing.B) {
	const n = 1000000
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := memstore.New()
		for done := 0; done < n; done += 100000 {
			// Each chunk of input is released once inserted: what remains
			// is what the store keeps.
			recs, _ := storetest.Tokens(b, 100000, "bytes")
			if err := s.Insert(context.Background(), recs); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.Len() != n {
			b.Fatalf("store holds %d", s.Len())
		}
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "B/token")
		runtime.KeepAlive(s)
	}
}

// BenchmarkWatermark times one Watermark call with 10k and 1M outstanding
// tokens: constant work, whatever the number.
func BenchmarkWatermark(b *testing.B) {
	for _, size := range []int{10000, 1000000} {
		s := memstore.New()
		for done := 0; done < size; done += 100000 {
			recs, _ := storetest.Tokens(b, min(100000, size-done), "wm")
			if err := s.Insert(context.Background(), recs); err != nil {
				b.Fatal(err)
			}
		}
		name := "tokens=10k"
		if size == 1000000 {
			name = "tokens=1M"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := s.Watermark(context.Background(), fmt.Sprintf("m-%d", i%size), time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
