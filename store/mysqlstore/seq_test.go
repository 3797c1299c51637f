package mysqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// span is when a call began and when it returned, by this process's
// monotonic clock.
type span struct{ start, end time.Time }

// TestWatermarkNowRace races Inserts, of one record and of more than one
// chunk, from several connections with watermarks taken now: an Insert
// that returned before a WatermarkNow began has a lower number than its
// mark, and is covered; one that began after it returned has a higher one,
// and is not; the records of one Insert share one number, and no number is
// given to two Inserts.
func TestWatermarkNowRace(t *testing.T) {
	s, _ := newStore(t, adminDB(t), true)
	ctx := context.Background()
	type insert struct {
		span
		first, last string
	}
	var (
		mu      sync.Mutex
		inserts []insert
		wg      sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				n := 1
				if i%10 == 9 {
					n = 501 // the transactional path
				}
				recs, _ := storetest.Tokens(t, n, fmt.Sprintf("race-%d", w))
				start := time.Now()
				if err := s.Insert(ctx, recs); err != nil {
					t.Errorf("Insert: %v", err)
					return
				}
				in := insert{span{start, time.Now()}, recs[0].ID, recs[n-1].ID}
				mu.Lock()
				inserts = append(inserts, in)
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	type mark struct {
		span
		seq int64
	}
	var marks []mark
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(5 * time.Millisecond):
		}
		start := time.Now()
		m, err := s.WatermarkNow(ctx, "")
		if err != nil {
			t.Fatalf("WatermarkNow: %v", err)
		}
		marks = append(marks, mark{span{start, time.Now()}, m.Seq})
	}
	seqs := map[int64]bool{}
	var covered, after int
	for _, in := range inserts {
		first, last := seqOf(t, s, in.first), seqOf(t, s, in.last)
		if first <= 0 || first != last || seqs[first] {
			t.Fatalf("an Insert's records have numbers %d and %d (given before: %v)", first, last, seqs[first])
		}
		seqs[first] = true
		for _, m := range marks {
			if in.end.Before(m.start) {
				covered++
				if first >= m.seq {
					t.Fatalf("an Insert that returned before a watermark began has number %d, not below its %d", first, m.seq)
				}
			}
			if in.start.After(m.end) {
				after++
				if first <= m.seq {
					t.Fatalf("an Insert that began after a watermark returned has number %d, not above its %d", first, m.seq)
				}
			}
		}
	}
	for i := 1; i < len(marks); i++ {
		if marks[i].seq <= marks[i-1].seq {
			t.Fatalf("watermark %d has number %d after %d", i, marks[i].seq, marks[i-1].seq)
		}
	}
	if covered == 0 || after == 0 {
		t.Fatalf("no Insert came before or after a watermark: %d and %d", covered, after)
	}
	t.Logf("%d inserts, %d watermarks: %d pairs with the Insert before, %d with it after", len(inserts), len(marks), covered, after)
}

// seqOf returns the sequence number of the record id.
func seqOf(t *testing.T, s store.Store, id string) int64 {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Seq
}
