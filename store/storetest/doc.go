// Package storetest is the conformance suite every [store.Store] runs.
//
// A backend's test calls [Run] with a function that returns a new, empty and
// isolated store for each subtest (its own schema, key prefix or file) and
// registers its cleanup with t.Cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newIsolatedStore(t) })
//	}
//
// The suite uses real time for expiry (records expire an hour or more after
// the test starts), so backends that expire records natively can run it.
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
// behind), that text which is not bounded UTF-8 without NUL is refused
// with store.ErrInvalid by every method, that the windowed counters
// ([store.Counters], which every backend must have) count each concurrent
// hit once, and that the optional [store.Tallier] and [store.BatchLister]
// agree with the records. A backend that does not pass it must not be
// used.
package storetest
