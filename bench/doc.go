// Command bench runs oncelink's benchmarks together with their floors (raw
// golang-jwt sign and parse, the engines' raw single operations and bulk
// inserts) and its peers (the consume patterns of Ory Kratos, Supabase Auth
// and Keycloak, on the same server and the same table) in the same run,
// and prints one report: first every target, met or missed, with the
// reason a missed one is missed; then each section, with the median of at
// least three runs (five by default) of each benchmark and its ratio to
// its floor or peer; then the scaling table and the raw samples.
//
//	go run ./bench                      # everything: six to eight minutes on two cores
//	go run ./bench -o BENCHMARKS.md     # and write the file
//	go run ./bench -only peers,mixed    # some groups only: a short run
//
// The groups are mint, guard, peers, mixed, consume, insert, revoke,
// scaling and send (the usage message lists them). The benchmarks of this
// package are BenchmarkPeers (oncelink's whole verification against each
// peer, PostgreSQL and Redis, 1 and 16 goroutines), BenchmarkMixed (the
// verifier's throughput when every link is presented three times and one
// presentation in five carries another address, against one right
// presentation a link, on PostgreSQL, SQLite and Redis) and BenchmarkSend
// (minting, guarding and recording a whole send).
//
// A missed target is reported with a short profile line and its reason,
// from the reasons map of rows.go; fill it from a profile of the run that
// missed, and leave no missed target without one.
//
// PostgreSQL, MariaDB and Redis are found as the tests find them
// (ONCELINK_TEST_POSTGRES_URL, ONCELINK_TEST_MYSQL_URL,
// ONCELINK_TEST_REDIS_URL, else this project's local servers).
//
// # Security considerations
//
// The benchmarks create and drop their own schemas, key prefixes and files
// on the test servers; point them at nothing else.
package main
