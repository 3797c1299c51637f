// Package testenv finds the real servers the store tests run against.
//
// PostgreSQL and Redis tests read ONCELINK_TEST_POSTGRES_URL and
// ONCELINK_TEST_REDIS_URL. When a variable is unset the test is skipped with
// a message saying so, unless ONCELINK_REQUIRE_SERVICES=1, which turns the
// skip into a failure: CI sets it, so that no store test can silently skip.
//
// # Security considerations
//
// Test URLs point at throwaway servers on loopback; tests never wipe what a
// URL points at, each uses its own schema, key prefix or file.
package testenv
