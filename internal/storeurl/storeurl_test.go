package storeurl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
)

// TestClientTimeouts: every client Open builds bounds its calls, unless
// the URL says otherwise.
func TestClientTimeouts(t *testing.T) {
	ropt, _, err := redisOptions("redis://127.0.0.1:6379/0?oncelink_prefix=p")
	if err != nil {
		t.Fatal(err)
	}
	if !ropt.ContextTimeoutEnabled || ropt.DialTimeout != ConnectTimeout || ropt.ReadTimeout != ReadTimeout || ropt.WriteTimeout != ReadTimeout {
		t.Fatalf("redis options: context %v, dial %v, read %v, write %v", ropt.ContextTimeoutEnabled, ropt.DialTimeout, ropt.ReadTimeout, ropt.WriteTimeout)
	}
	ropt, _, err = redisOptions("redis://127.0.0.1:6379/0?read_timeout=10s")
	if err != nil || ropt.ReadTimeout != 10*time.Second || !ropt.ContextTimeoutEnabled {
		t.Fatalf("a URL's own read timeout: %v, %v", ropt.ReadTimeout, err)
	}
	pcfg, _, err := postgresConfig("postgres://u@127.0.0.1:5432/test?oncelink_schema=s")
	if err != nil || pcfg.ConnConfig.ConnectTimeout != ConnectTimeout {
		t.Fatalf("postgres connect timeout: %v, %v", pcfg.ConnConfig.ConnectTimeout, err)
	}
}

// TestOpenNeverCreates: without Create, Open creates nothing where there is
// no store; memory: is refused unless allowed.
func TestOpenNeverCreates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "onceink.db")
	if _, _, err := Open(ctx, "sqlite:"+path, Options{}); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("Open of a missing file: %v, want ErrNoStore", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created the file: %v", err)
	}
	if _, _, err := Open(ctx, "memory:", Options{}); !errors.Is(err, ErrURL) {
		t.Fatalf("Open(memory:): %v, want ErrURL", err)
	}
	if _, closer, err := Open(ctx, "memory:", Options{AllowMemory: true}); err != nil {
		t.Fatal(err)
	} else {
		closer()
	}
	_, closer, err := Open(ctx, "sqlite:"+path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	closer()
	if _, closer, err = Open(ctx, "sqlite:"+path, Options{}); err != nil {
		t.Fatalf("Open of the created store: %v", err)
	}
	closer()
}

// TestOpenWaitsForLoading: a Redis server still loading its data answers
// LOADING; Open waits for it, within its bound, instead of failing at once.
func TestOpenWaitsForLoading(t *testing.T) {
	ctx := context.Background()
	_, url := teststores.Redis(t)
	opt, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := teststores.LoadingRedis(t, opt.Addr, 40)
	loadingURL := strings.Replace(url, opt.Addr, addr, 1)
	if _, _, err := Open(ctx, loadingURL, Options{}); err == nil || !goredis.HasErrorPrefix(err, "LOADING") {
		t.Fatalf("Open without waiting: %v, want the LOADING error", err)
	}
	st, closer, err := Open(ctx, loadingURL, Options{WaitLoading: time.Minute})
	if err != nil {
		t.Fatalf("Open waiting for the server to load: %v", err)
	}
	defer closer()
	if _, err := st.Holds(ctx); err != nil {
		t.Fatal(err)
	}
}
