package storetest

import (
	"testing"

	"github.com/oncelink/oncelink/store"
)

// NewStore returns a new, empty store for one test, isolated from every
// other, and cleans it up through t.Cleanup.
type NewStore func(t *testing.T) store.Store

// cases are the suite's tests that run on a store of their own, by area.
var cases = []struct {
	name string
	fn   func(*testing.T, store.Store)
}{
	// Tokens: insert, get, peek, consume, fail (tokens.go, mismatch.go).
	{"InsertGet", testInsertGet},
	{"InsertEmpty", testInsertEmpty},
	{"InsertInvalid", testInsertInvalid},
	{"InsertDuplicate", testInsertDuplicate},
	{"InsertLarge", testInsertLarge},
	{"GetNotFound", testGetNotFound},
	{"ConsumeOnce", testConsumeOnce},
	{"ConsumeNotFound", testConsumeNotFound},
	{"ConsumeSecret", testConsumeSecret},
	{"ConsumeClaims", testConsumeClaims},
	{"Expiry", testExpiry},
	{"Peek", testPeek},
	{"Order", testOrder},
	{"State", testState},
	{"Fail", testFail},
	{"Mismatch", testMismatch},
	{"MismatchSettled", testMismatchSettled},
	{"ConfirmedRefusal", testConfirmedRefusal},
	// Revocation: by filter, by time and by sequence (revocation.go).
	{"RevokeConsumed", testRevokeConsumed},
	{"RevokeInvalid", testRevokeInvalid},
	{"WatermarkGlobal", testWatermarkGlobal},
	{"WatermarkMember", testWatermarkMember},
	{"Seq", testSeq},
	{"WatermarkNowSkew", testWatermarkNowSkew},
	// Holds (holds.go).
	{"Freeze", testFreeze},
	{"FreezeScopes", testFreezeScopes},
	// Selection: records, count, purge, batches (selection.go).
	{"Records", testRecords},
	{"Count", testCount},
	{"Purge", testPurge},
	{"SubMicrosecondBounds", testSubMicrosecondBounds},
	{"SubMicrosecondPurge", testSubMicrosecondPurge},
	{"Batches", testBatches},
	// The ledger (ledger.go).
	{"Ledger", testLedger},
	{"LedgerPaging", testLedgerPaging},
	{"LedgerDerived", testLedgerDerived},
	{"LedgerMixedPaging", testLedgerMixedPaging},
	{"SubMicrosecondWindow", testSubMicrosecondWindow},
	// Counters (counters.go).
	{"Counters", testCounters},
	{"CountersWindow", testCountersWindow},
	{"CountersSubMicrosecondPurge", testCountersSubMicrosecondPurge},
	// Concurrency (concurrency.go).
	{"ConcurrentConsume", testConcurrentConsume},
	{"ConcurrentFail", testConcurrentFail},
	{"ConcurrentRevoke", testConcurrentRevoke},
	{"ConcurrentMismatch", testConcurrentMismatch},
	{"ConcurrentHits", testConcurrentHits},
	// What every store refuses: a canceled context, invalid requests and
	// text (context.go, refusals.go).
	{"CanceledContext", testCanceledContext},
	{"InvalidRequest", testInvalidRequest},
	{"InvalidText", testInvalidText},
	// Peek, Consume and Tally against store.Check and store.Decide
	// (decide.go).
	{"PeekDecides", testPeekDecides},
	// Streamed inserts, the store's own or through Insert (stream.go).
	{"InsertSeq", testInsertSeq},
}

// Run runs the whole conformance suite against stores made by newStore,
// each case as a subtest of t with a store of its own.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
	// Cases that need a store each.
	t.Run("RevokeFilters", func(t *testing.T) { testRevokeFilters(t, newStore) })
}
