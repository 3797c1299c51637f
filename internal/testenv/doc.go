// Package testenv finds the real servers the store tests run against.
//
// A test asks for a server's URL ([PostgresURL], [RedisURL], [MySQLURL]).
// When its variable (ONCELINK_TEST_POSTGRES_URL, ONCELINK_TEST_REDIS_URL,
// ONCELINK_TEST_MYSQL_URL) is set, that URL is used as it is. When it is
// unset, the test process tries the server's default loopback address once,
// with a bounded connect and ping ([PostgresDefault], [RedisDefault],
// [MySQLDefault]), and uses it if the server answers. Only when nothing
// answers is the test skipped, unless ONCELINK_REQUIRE_SERVICES=1, which
// turns the skip into a failure: CI sets it, so that no store test can
// silently skip.
//
// A skip is told once per package and server, in one line, to the
// controlling terminal when there is one (go test hides a passing package's
// output unless -v is given), else to standard error, which go test shows
// with -v, with -json or for a failing package. A run that skipped for want
// of a server is not cached by go test: a later run finds the server once it
// answers.
//
// # Security considerations
//
// Test URLs point at throwaway servers on loopback; tests never wipe what a
// URL points at, each uses its own schema, database, key prefix or file.
package testenv
