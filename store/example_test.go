package store_test

import (
	"context"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
)

// Clean a client's user agent before it reaches a store: every store
// refuses text that is not bounded UTF-8 without NUL.
func ExampleCleanText() {
	ua := "Mozilla/5.0 \xff\x00(X11)"
	fmt.Println(store.ValidText(ua, store.MaxUserAgentLen))
	clean := store.CleanText(ua, store.MaxUserAgentLen)
	fmt.Printf("%+q %v\n", clean, store.ValidText(clean, store.MaxUserAgentLen))
	// Output:
	// false
	// "Mozilla/5.0 \ufffd\ufffd(X11)" true
}

// Limit a "send me a login link" page to three requests per address an
// hour, shared by every process that uses the store.
func ExampleCounters() {
	ctx := context.Background()
	var st store.Store = memstore.New()
	counters := st.(store.Counters)
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 4; i++ {
		n, err := counters.Hit(ctx, "link-request/addr/ann@example.org", time.Hour, now.Add(time.Duration(i)*time.Minute))
		fmt.Println(n, err == nil && n <= 3)
	}
	// Output:
	// 1 true
	// 2 true
	// 3 true
	// 4 false
}
