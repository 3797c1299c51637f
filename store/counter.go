package store

import (
	"context"
	"fmt"
	"math/bits"
	"time"
)

// Counters is a capability every oncelink store has: counters of hits in a
// sliding window, kept in the store so that every process that shares it
// counts together. The verifier throttles confirmations per member with it
// (NIST SP 800-63B 5.2.2); a site throttles its own requests with the same
// calls, such as a "send me a login link" page limited per address and per
// client address:
//
//	c := st.(store.Counters)
//	n, err := c.Hit(ctx, "link-request/addr/"+canonicalAddress, time.Hour, time.Now())
//	if err != nil || n > 5 {
//		// refuse: a store failure is a refusal too
//	}
//
// Keys are the caller's: prefix them with what they count, so that two
// uses never share a key. Every store in this module has counters, and the
// verifier refuses a store without them.
type Counters interface {
	// Hit records one hit on key at `at` and returns the number of hits on
	// key in the window of the given length that ends at `at`, this one
	// included, as [HitCount] estimates it from the hits of the fixed
	// window `at` falls in ([HitBucket]) and of the one before. Every hit
	// of concurrent callers is counted exactly once. The key is 1 to
	// [MaxKeyLen] bytes of text ([ValidText]) and the window 1 second to
	// [MaxWindow]; anything else is refused with [ErrInvalid]. Keys count
	// apart per window length. [Tokens.Purge] deletes the counts of windows
	// that ended before its cut-off; a store may forget them sooner.
	Hit(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error)
}

// Bounds of [Counters.Hit].
const (
	MaxKeyLen = 512
	MaxWindow = 31 * 24 * time.Hour
)

// ValidateHit checks the arguments of [Counters.Hit]; the error wraps
// [ErrInvalid]. Stores call it before anything else.
func ValidateHit(key string, window time.Duration, at time.Time) error {
	switch {
	case key == "" || !ValidText(key, MaxKeyLen):
		return fmt.Errorf("%w: counter key must be 1 to %d bytes of text", ErrInvalid, MaxKeyLen)
	case window < time.Second || window > MaxWindow:
		return fmt.Errorf("%w: counter window outside 1s to %v", ErrInvalid, MaxWindow)
	case at.IsZero() || at.UnixMicro() <= 0:
		return fmt.Errorf("%w: counter hit needs a time after 1970", ErrInvalid)
	}
	return nil
}

// HitBucket returns the fixed window a hit at `at` falls in: windows of the
// given length, counted from the Unix epoch in microseconds. Stores keep a
// count per key and bucket.
func HitBucket(window time.Duration, at time.Time) int64 {
	return at.UnixMicro() / window.Microseconds()
}

// HitCount estimates the hits in the sliding window that ends at `at` from
// the count of the bucket `at` falls in (cur, this hit included) and of the
// bucket before (prev): cur, plus prev weighted by the share of the
// previous bucket the sliding window still covers, rounded down. It is
// exact when the previous bucket's hits were spread evenly, and at bucket
// boundaries. Every store computes the count with it, so that they agree.
func HitCount(cur, prev int64, window time.Duration, at time.Time) int64 {
	w := uint64(window.Microseconds())
	elapsed := uint64(at.UnixMicro()) % w
	if prev <= 0 {
		return cur
	}
	hi, lo := bits.Mul64(uint64(prev), w-elapsed)
	q, _ := bits.Div64(hi, lo, w)
	return cur + int64(q)
}
