package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/verify"
)

// mixedGoroutines is how many presentations run at once: members clicking
// on the morning of a send.
const mixedGoroutines = 16

// BenchmarkMixed measures verification throughput (presentations a second,
// the verifier's Consume on the real store) on two days:
//
//   - clean: every link presented once, by its member, with the address it
//     was sent to;
//   - mixed: every link presented three times (a second click, a forwarded
//     mail), and one presentation in five with another address: the first
//     matching presentation consumes the link, the others are refused
//     (used, or mismatch) and recorded in the ledger.
//
// Its figure is the mixed day's throughput against the clean day's, on the
// same store. The circuit breaker is off: one wrong address in five on a
// batch is the incident's pattern, which the breaker freezes within
// seconds, and then every presentation is refused as frozen; this measures
// what refusals cost, not the breaker.
func BenchmarkMixed(b *testing.B) {
	for _, be := range []struct {
		name string
		open func(testing.TB) store.Store
	}{
		{"postgres", func(tb testing.TB) store.Store { _, st, _ := pgStore(tb); return st }},
		{"sqlite", func(tb testing.TB) store.Store { st, _ := teststores.SQLite(tb); return st }},
		{"redis", func(tb testing.TB) store.Store { _, st, _ := redisStore(tb); return st }},
	} {
		b.Run(be.name, func(b *testing.B) {
			s := newSite(b, be.open(b), verify.WithoutBreaker())
			b.Run("clean", func(b *testing.B) { present(b, s, 1, 0) })
			b.Run("mixed", func(b *testing.B) { present(b, s, 3, 5) })
		})
	}
}

// present makes b.N presentations of ceil(b.N/times) links, each link
// presented times times, in rounds (every link once, in a random order,
// then again), every wrongEvery-th presentation with another address (none
// when 0). A presentation may be accepted, or refused as used or as a
// mismatch; anything else fails the benchmark.
func present(b *testing.B, s *site, times, wrongEvery int) {
	ctx := context.Background()
	links := s.invite(b, (b.N+times-1)/times)
	order := make([]verify.Request, 0, len(links)*times)
	for range times {
		for _, k := range rand.Perm(len(links)) {
			order = append(order, links[k])
		}
	}
	for i := range order {
		if wrongEvery > 0 && i%wrongEvery == wrongEvery-1 {
			order[i].Identity.Email = fmt.Sprintf("someone-else-%d@members.example", i)
		}
	}
	timed(b, mixedGoroutines, func(i int) error {
		_, err := s.v.Consume(ctx, order[i])
		if times > 1 && (errors.Is(err, verify.ErrUsed) || errors.Is(err, verify.ErrMismatch)) {
			return nil
		}
		return err
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "presentations/s")
}
