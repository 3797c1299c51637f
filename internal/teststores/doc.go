// Package teststores opens a fresh, isolated store of every kind for tests
// that must prove a capability on every engine: the memory store, SQLite in
// a temporary file, PostgreSQL in a schema of its own, Redis under a key
// prefix of its own. PostgreSQL and Redis need their test URLs
// ([testenv.PostgresURL], [testenv.RedisURL]); without them those backends
// skip, or fail when services are required.
//
// # Security considerations
//
// Every store is isolated and removed at the end of its test: a schema
// dropped, a key prefix deleted, a temporary file.
package teststores
