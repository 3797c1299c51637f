package storeurl

import (
	"testing"
	"time"
)

// TestClientTimeouts: every client Open builds bounds its calls, unless
// the URL says otherwise.
func TestClientTimeouts(t *testing.T) {
	ropt, _, err := redisOptions("redis://127.0.0.1:6379/0?oncelink_prefix=p")
	if err != nil {
		t.Fatal(err)
	}
	if !ropt.ContextTimeoutEnabled || ropt.DialTimeout != connectTimeout || ropt.ReadTimeout != readTimeout || ropt.WriteTimeout != readTimeout {
		t.Fatalf("redis options: context %v, dial %v, read %v, write %v", ropt.ContextTimeoutEnabled, ropt.DialTimeout, ropt.ReadTimeout, ropt.WriteTimeout)
	}
	ropt, _, err = redisOptions("redis://127.0.0.1:6379/0?read_timeout=10s")
	if err != nil || ropt.ReadTimeout != 10*time.Second || !ropt.ContextTimeoutEnabled {
		t.Fatalf("a URL's own read timeout: %v, %v", ropt.ReadTimeout, err)
	}
	pcfg, _, err := postgresConfig("postgres://u@127.0.0.1:5432/test?oncelink_schema=s")
	if err != nil || pcfg.ConnConfig.ConnectTimeout != connectTimeout {
		t.Fatalf("postgres connect timeout: %v, %v", pcfg.ConnConfig.ConnectTimeout, err)
	}
}
