package storeurl

import (
	"errors"
	"runtime"
	"slices"
	"strings"
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

// TestRedisClusterURL: a cluster URL names its seed nodes, separated by
// commas; a mistyped one is an error that repeats no password.
func TestRedisClusterURL(t *testing.T) {
	copt, opts, err := redisClusterOptions("redis+cluster://u:secret@10.0.0.1:7001,10.0.0.2:7002,[::1]:7003/?oncelink_prefix=p&read_timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.1:7001", "10.0.0.2:7002", "[::1]:7003"}; !slices.Equal(copt.Addrs, want) {
		t.Fatalf("seed nodes %v, want %v", copt.Addrs, want)
	}
	if copt.Username != "u" || copt.Password != "secret" || copt.TLSConfig != nil {
		t.Fatalf("user %q, password %q, TLS %v", copt.Username, copt.Password, copt.TLSConfig != nil)
	}
	if !copt.ContextTimeoutEnabled || copt.ReadTimeout != 3*time.Second || copt.DialTimeout != connectTimeout || len(opts) != 1 {
		t.Fatalf("context %v, read %v, dial %v, %d store options", copt.ContextTimeoutEnabled, copt.ReadTimeout, copt.DialTimeout, len(opts))
	}
	copt, _, err = redisClusterOptions("rediss+cluster://node.example:7001")
	if err != nil || copt.TLSConfig == nil || copt.TLSConfig.ServerName != "node.example" || len(copt.Addrs) != 1 {
		t.Fatalf("TLS cluster URL: %+v, %v", copt, err)
	}
	for _, tc := range []struct{ name, url string }{
		{"a database", "redis+cluster://h:7001/1"},
		{"no port", "redis+cluster://h1:7001,h2"},
		{"empty node", "redis+cluster://h1:7001,,h2:7002"},
		{"no node", "redis+cluster:///?oncelink_prefix=p"},
		{"unknown parameter", "redis+cluster://u:secret@h:7001?bogus=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := redisClusterOptions(tc.url)
			if !errors.Is(err, ErrURL) {
				t.Fatalf("%s: %v, want ErrURL", tc.url, err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestRedactClusterURL(t *testing.T) {
	if r := Redact("redis+cluster://u:secret@h1:7001,h2:7002/?oncelink_prefix=p"); strings.Contains(r, "secret") {
		t.Fatalf("Redact = %q", r)
	}
}

func TestPoolSize(t *testing.T) {
	if PoolSize() < 16 || PoolSize() < 4*runtime.GOMAXPROCS(0) {
		t.Fatalf("PoolSize() = %d on %d cores", PoolSize(), runtime.GOMAXPROCS(0))
	}
	pcfg, _, err := postgresConfig("postgres://u@127.0.0.1:5432/test")
	if err != nil || int(pcfg.MaxConns) != PoolSize() {
		t.Fatalf("postgres pool: %d connections, %v; want %d", pcfg.MaxConns, err, PoolSize())
	}
	pcfg, _, err = postgresConfig("postgres://u@127.0.0.1:5432/test?pool_max_conns=3")
	if err != nil || pcfg.MaxConns != 3 {
		t.Fatalf("postgres pool_max_conns=3: %d connections, %v", pcfg.MaxConns, err)
	}
}
