package main

import (
	"context"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/internal/teststores"
)

// TestStartsWhileRedisLoads: a site started while Redis is still loading
// its data (it answers LOADING) waits for it, within a bound, instead of
// exiting.
func TestStartsWhileRedisLoads(t *testing.T) {
	_, url := teststores.Redis(t)
	opt, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := teststores.LoadingRedis(t, opt.Addr, 40)
	site, err := NewSite(context.Background(), Config{BaseURL: "http://127.0.0.1:1", StoreURL: strings.Replace(url, opt.Addr, addr, 1), DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the site did not wait for Redis to load: %v", err)
	}
	defer site.Close()
	res, err := site.Invite(context.Background())
	if err != nil || res.Sent != len(site.members) {
		t.Fatalf("Invite = %+v, %v", res, err)
	}
}
