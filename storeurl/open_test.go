package storeurl_test

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
	"github.com/oncelink/oncelink/storeurl"
)

// TestOpenNeverCreates: without Create, Open creates nothing where there is
// no store; memory: is refused unless allowed.
func TestOpenNeverCreates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "onceink.db")
	if _, _, err := storeurl.Open(ctx, "sqlite:"+path); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("Open of a missing file: %v, want ErrNoStore", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created the file: %v", err)
	}
	if _, _, err := storeurl.Open(ctx, "memory:"); !errors.Is(err, storeurl.ErrURL) {
		t.Fatalf("Open(memory:): %v, want storeurl.ErrURL", err)
	}
	if _, closer, err := storeurl.Open(ctx, "memory:", storeurl.WithMemory()); err != nil {
		t.Fatal(err)
	} else {
		closer()
	}
	_, closer, err := storeurl.Open(ctx, "sqlite:"+path, storeurl.WithCreate())
	if err != nil {
		t.Fatal(err)
	}
	closer()
	if _, closer, err = storeurl.Open(ctx, "sqlite:"+path); err != nil {
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
	if _, _, err := storeurl.Open(ctx, loadingURL); err == nil || !goredis.HasErrorPrefix(err, "LOADING") {
		t.Fatalf("Open without waiting: %v, want the LOADING error", err)
	}
	st, closer, err := storeurl.Open(ctx, loadingURL, storeurl.WithWaitLoading(time.Minute))
	if err != nil {
		t.Fatalf("Open waiting for the server to load: %v", err)
	}
	defer closer()
	if _, err := st.Holds(ctx); err != nil {
		t.Fatal(err)
	}
}
