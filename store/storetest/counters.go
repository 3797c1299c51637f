package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

func counters(t *testing.T, s store.Store) store.Counters {
	t.Helper()
	c, ok := s.(store.Counters)
	if !ok {
		t.Fatalf("%T does not implement store.Counters", s)
	}
	return c
}

func hit(t *testing.T, c store.Counters, key string, w time.Duration, at time.Time) int64 {
	t.Helper()
	n, err := c.Hit(ctx, key, w, at)
	if err != nil {
		t.Fatalf("Hit(%q, %v, %v): %v", key, w, at, err)
	}
	return n
}

// testCounters checks the arguments and that keys count apart.
func testCounters(t *testing.T, s store.Store) {
	c := counters(t, s)
	n := now()
	for name, tc := range map[string]struct {
		key string
		w   time.Duration
		at  time.Time
	}{
		"empty key":        {"", time.Minute, n},
		"long key":         {strings.Repeat("k", store.MaxKeyLen+1), time.Minute, n},
		"key not UTF-8":    {"k\xff", time.Minute, n},
		"key with NUL":     {"k\x00", time.Minute, n},
		"short window":     {"k", time.Millisecond, n},
		"long window":      {"k", store.MaxWindow + time.Second, n},
		"no time":          {"k", time.Minute, time.Time{}},
		"time before 1970": {"k", time.Minute, time.Unix(-5, 0)},
	} {
		_, err := c.Hit(ctx, tc.key, tc.w, tc.at)
		wantErr(t, "Hit with "+name, err, store.ErrInvalid)
	}
	for i := int64(1); i <= 5; i++ {
		if got := hit(t, c, "a/åse", time.Hour, n); got != i {
			t.Fatalf("hit %d on a/åse counted %d", i, got)
		}
	}
	if got := hit(t, c, "a/ase", time.Hour, n); got != 1 {
		t.Fatalf("another key counted %d", got)
	}
	if got := hit(t, c, "a/åse", time.Minute, n); got != 1 {
		t.Fatalf("the same key with another window counted %d: windows of different lengths count apart", got)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Hit(cctx, "a/åse", time.Hour, n); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Hit with a canceled context: %v", err)
	}
	if got := hit(t, c, "a/åse", time.Hour, n); got != 6 {
		t.Fatalf("the hit after a canceled one counted %d", got)
	}
}

// testCountersWindow checks the sliding estimate on a clock aligned to the
// windows, and that a purge forgets old windows.
func testCountersWindow(t *testing.T, s store.Store) {
	c := counters(t, s)
	const w = time.Minute
	base := now().Truncate(w).Add(-time.Hour) // the start of a window
	for i := int64(1); i <= 4; i++ {
		if got := hit(t, c, "w", w, base); got != i {
			t.Fatalf("hit %d counted %d", i, got)
		}
	}
	cases := []struct {
		name string
		at   time.Duration
		want int64
	}{
		{"at the start of the next window, the previous one whole", w, 1 + 4},
		{"half way through it, half the previous one", w + w/2, 2 + 2},
		{"two windows later, nothing before", 3 * w, 1},
	}
	for _, tc := range cases {
		if got := hit(t, c, "w", w, base.Add(tc.at)); got != tc.want {
			t.Fatalf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if _, err := s.Purge(ctx, base.Add(10*w)); err != nil {
		t.Fatal(err)
	}
	if got := hit(t, c, "w", w, base.Add(4*w)); got != 1+0 {
		t.Fatalf("after a purge, the window before counted: %d", got)
	}
}

// testConcurrentHits: 64 concurrent hits on one key are each counted once.
func testConcurrentHits(t *testing.T, s store.Store) {
	c := counters(t, s)
	const racers = 64
	n := now()
	got := make([]int64, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			got[i], errs[i] = c.Hit(ctx, "race", time.Hour, n)
		}(i)
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		wantErr(t, "Hit", err, nil)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("concurrent hits counted %v, want 1 to %d once each", got, racers)
		}
	}
	if v := hit(t, c, "race", time.Hour, n); v != racers+1 {
		t.Fatalf("the hit after the race counted %d", v)
	}
}

// testCountersSubMicrosecondPurge checks that a cut-off of Purge finer than
// a microsecond is compared exactly with the end of a counter's window: a
// window that ended at E is kept by a cut-off at E and forgotten by one
// half a microsecond later.
func testCountersSubMicrosecondPurge(t *testing.T, s store.Store) {
	c := counters(t, s)
	const w = time.Minute
	start := now().Truncate(w).Add(-time.Hour) // the start of a window
	end := start.Add(w)
	hit(t, c, "sub", w, start)
	_, err := s.Purge(ctx, end)
	wantErr(t, "Purge at the end of a window", err, nil)
	if got := hit(t, c, "sub", w, end); got != 1+1 {
		t.Fatalf("a purge at the end of a window forgot it: the next window counted %d, want 2", got)
	}
	_, err = s.Purge(ctx, end.Add(500*time.Nanosecond))
	wantErr(t, "Purge half a microsecond after the end of a window", err, nil)
	if got := hit(t, c, "sub", w, end); got != 2+0 {
		t.Fatalf("a purge half a microsecond after the end of a window kept it: the next window counted %d, want 2", got)
	}
}
