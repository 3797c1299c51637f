package admin_test

import (
	"context"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
)

// The timeline of a batch: refusals recorded by the verifier and a freeze
// by the breaker, counted per minute.
func ExampleAdmin_Timeline() {
	st := memstore.New()
	a, _ := admin.New(st)
	t0 := time.Date(2026, 10, 3, 12, 47, 10, 0, time.UTC)
	st.Append(context.Background(),
		store.Event{At: t0, Kind: store.EventRefused, Reason: "mismatch", Batch: "invite-42"},
		store.Event{At: t0.Add(20 * time.Second), Kind: store.EventRefused, Reason: "mismatch", Batch: "invite-42"},
		store.Event{At: t0.Add(80 * time.Second), Kind: store.EventRefused, Reason: "used", Batch: "invite-42"},
		store.Event{At: t0.Add(90 * time.Second), Kind: store.EventBreaker, Batch: "invite-42", Detail: "breaker: 2 shared links"},
	)
	tl, err := a.Timeline(context.Background(), admin.TimelineQuery{Batch: "invite-42"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range tl.Buckets {
		fmt.Printf("%s clicks %d, mismatches %d, other refusals %d, freezes %d\n",
			b.At.Format("15:04"), b.Clicks, b.Mismatches, b.Refusals, b.Freezes)
	}
	fmt.Println(tl.Describe())
	// Output:
	// 12:47 clicks 2, mismatches 2, other refusals 0, freezes 0
	// 12:48 clicks 1, mismatches 0, other refusals 1, freezes 1
	// From 2026-10-03 12:47:00 to 2026-10-03 12:49:00 UTC, per minute: 0 links issued; 3 clicks: 0 logins, 2 mismatches, 1 other refusals; 0 messages blocked; 1 freezes, 0 thaws, 0 revocations. Most clicks in one step: 2 at 12:47:00 (2 mismatches).
}
