// Package teststores opens a fresh, isolated store of every kind for tests
// that must prove a capability on every engine: the memory store, SQLite in
// a temporary file, PostgreSQL in a schema of its own, MariaDB in a
// database of its own, Redis under a key prefix of its own. The servers are
// found by [testenv] ([testenv.PostgresURL], [testenv.MySQLURL],
// [testenv.RedisURL]); when one does not answer, its backend skips, or
// fails when services are required.
//
// [BenchMintBatch] measures minting a batch into a store: the stores'
// benchmarks call it here, since it needs the token package and
// store/storetest needs the standard library and store only.
//
// # Security considerations
//
// Every store is isolated and removed at the end of its test: a schema or
// a database dropped, a key prefix deleted, a temporary file.
package teststores
