package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/redisstore"
	"github.com/oncelink/oncelink/store/storetest"
	"github.com/oncelink/oncelink/storeurl"
)

// TestClusterURL opens a store on a Redis Cluster through its URL, with
// two seed nodes, and consumes a link on it once.
func TestClusterURL(t *testing.T) {
	seeds := redisstore.ClusterSeeds(t)
	ctx := context.Background()
	raw := "redis+cluster://" + strings.Join(seeds[:2], ",") + "/?oncelink_prefix=" + randomPrefix(t)
	if _, _, err := storeurl.Open(ctx, raw); err == nil {
		t.Fatal("Open of a prefix without a store succeeded")
	}
	st, closeStore, err := storeurl.Open(ctx, raw, storeurl.WithCreate())
	if err != nil {
		t.Fatalf("Open(%s): %v", raw, err)
	}
	defer closeStore()
	if n := st.(*redisstore.Store).ReplicaAcks(); n != 1 {
		t.Fatalf("a store on a cluster with replicas waits for %d replicas, want 1", n)
	}
	l := storetest.NewLink(t, "ann")
	if err := st.Insert(ctx, []store.Record{l.Record}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Consume(ctx, l.Request(time.Now())); err != nil {
		t.Fatalf("Consume on the cluster: %v", err)
	}
	if _, err := st.Consume(ctx, l.Request(time.Now())); err == nil {
		t.Fatal("a link was consumed twice on the cluster")
	}
}
