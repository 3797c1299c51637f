// Package storetest is the conformance suite every [store.Store] runs, and
// the kit to test a store with. It needs the standard library and the
// store package only, so that the author of a store outside this module
// can run it as it is.
//
// A store's test calls [Run] with a function that returns a new, empty and
// isolated store for each subtest (its own schema, key prefix or file) and
// registers its cleanup with t.Cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newIsolatedStore(t) })
//	}
//
// The suite uses real time for expiry (records expire an hour or more after
// the test starts), so stores that expire records natively can run it.
//
// # The kit
//
// The store's own tests build links with [NewLink] (a valid record with
// the secret of its token; [Link.Request] presents it) or many at once
// with [Tokens], and check with [WantUnavailable] that an operation on an
// engine that cannot answer fails with [store.ErrUnavailable] within its
// deadline. [BenchConsume], [BenchInsert], [Parallel] and [Shuffled]
// measure a store against the floor its benchmarks set beside it.
//
// The suite tests itself as testing/fstest does: its own tests run it
// against stores that each break one rule (a wrong outcome, two winners
// of one link, a hold ignored, a cut-off rounded down, a canceled context
// ignored) and check that it reports each.
//
// # Security considerations
//
// The suite is the proof behind the store contract: single use under
// concurrency (64 goroutines, one winner), the order of the refusals, that
// no refusal changes a record but the count of a mismatch, that a token's
// claims must be its record's (a re-signed token is refused as a secret
// mismatch), that mismatches count whatever the record's state and once
// each under concurrency, that Peek and Consume answer what [store.Check]
// says from the record, the watermarks and the holds for requests of every
// confirmation, that a watermark taken now covers every record recorded
// before it whatever its issue time (minting clocks five minutes ahead and
// behind), that bounds finer than a microsecond (filter windows,
// watermarks, event windows, Purge's cut-off) are compared exactly, that
// every method refuses a canceled context and changes nothing, that text
// which is not bounded UTF-8 without NUL is refused with store.ErrInvalid
// by every method, that the windowed counters ([store.Counters], which
// every store must have) count each concurrent hit once, and that the
// optional [store.Tallier] and [store.BatchLister] agree with the
// records. A store that does not pass it must not be used.
package storetest
