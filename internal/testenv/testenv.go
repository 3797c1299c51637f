package testenv

import (
	"os"
	"testing"
)

// Names of the environment variables.
const (
	PostgresEnv = "ONCELINK_TEST_POSTGRES_URL"
	RedisEnv    = "ONCELINK_TEST_REDIS_URL"
	RequireEnv  = "ONCELINK_REQUIRE_SERVICES"
)

// Required reports whether the services are required (ONCELINK_REQUIRE_SERVICES=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// PostgresURL returns the PostgreSQL URL for tests, or skips (fails when
// services are required) if none is set.
func PostgresURL(t testing.TB) string { return lookup(t, PostgresEnv, "PostgreSQL") }

// RedisURL returns the Redis URL for tests, or skips (fails when services
// are required) if none is set.
func RedisURL(t testing.TB) string { return lookup(t, RedisEnv, "Redis") }

func lookup(t testing.TB, env, what string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if Required() {
		t.Fatalf("%s is required (%s=1) but %s is not set", what, RequireEnv, env)
	}
	t.Skipf("skipping: %s not set, so there is no %s server to test against (see DEVELOPERS.md)", env, what)
	return ""
}
