// Command bench runs oncelink's benchmarks together with their floors (raw
// golang-jwt sign and parse, the engines' raw single operations and bulk
// inserts) in the same run, and prints one table: the median of at least
// five runs of each, and the ratio to its floor. It also prints the scaling
// table: memory per token, PostgreSQL bytes per token, and the time to mint
// and send 18,000 and 1,000,000 links.
//
//	go run ./bench                      # about five minutes on two cores
//	go run ./bench -o BENCHMARKS.md     # and write the file
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
