// Package memstore is an in-process [store.Store]: for tests, examples and a
// single process whose links may die with it.
//
// Records live in a compact table (about 200 bytes an outstanding token,
// member and recipient included); revocation by watermark and holds are
// constant-time; revocation by filter, queries and purge scan the table under
// the store's lock. The ledger keeps appended events in memory and derives
// issued and consumed entries from the records.
//
// # Security considerations
//
// The memory store keeps what every store keeps (hashes of secrets, never
// tokens) and loses it all when the process ends: every link minted before
// is then refused as not found. It serves one process; two processes with
// their own memory stores would each accept a link once.
package memstore
