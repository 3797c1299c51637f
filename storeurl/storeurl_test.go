package storeurl

import (
	"runtime"
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

// TestPoolSize: PostgreSQL and MariaDB pools are sized from the machine
// unless the URL sets their size.
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
