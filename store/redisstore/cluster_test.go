package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// testCluster is a Redis Cluster of the test's own: masters and one
// replica each, every node a redis-server on free loopback ports, stopped
// by its PID when the test ends. A master may sit behind a proxy that its
// replica replicates through (see replicationProxy), so that a test can
// hold its replication back.
type testCluster struct {
	masters, replicas []*redisServer
	ids               []string            // node ids, masters first
	proxies           []*replicationProxy // per master, nil without one
	direct            map[string]string   // announced address -> real address
}

// freeClusterPort returns a free port whose cluster bus port (+10000) is
// free too.
func freeClusterPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// startCluster starts a cluster of n masters, each with one replica. With
// proxied, each master announces a proxy in front of it, through which its
// replica replicates; clients of clusterClient go to the master directly.
func startCluster(t testing.TB, n int, proxied bool) *testCluster {
	t.Helper()
	tc := &testCluster{direct: map[string]string{}}
	common := []string{"cluster-enabled yes", "cluster-node-timeout 1000", "cluster-replica-validity-factor 0",
		"cluster-require-full-coverage yes", "repl-diskless-sync yes", "repl-diskless-sync-delay 0"}
	for i := 0; i < 2*n; i++ {
		port := freeClusterPort(t)
		conf := append([]string{fmt.Sprintf("cluster-config-file nodes-%d.conf", port)}, common...)
		var p *replicationProxy
		if proxied && i < n {
			p = newReplicationProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
			conf = append(conf, fmt.Sprintf("cluster-announce-port %d", p.port()),
				fmt.Sprintf("cluster-announce-bus-port %d", port+10000))
			tc.direct[p.addr()] = fmt.Sprintf("127.0.0.1:%d", port)
		}
		srv := startOwnServerOn(t, port, conf...)
		if i < n {
			tc.masters = append(tc.masters, srv)
			tc.proxies = append(tc.proxies, p)
		} else {
			tc.replicas = append(tc.replicas, srv)
		}
	}
	tc.form(t)
	return tc
}

// nodes returns the masters then the replicas.
func (tc *testCluster) nodes() []*redisServer {
	return append(append([]*redisServer{}, tc.masters...), tc.replicas...)
}

// form assigns the slots, joins the nodes and attaches the replicas,
// waiting for each step with a bounded loop.
func (tc *testCluster) form(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	nodes := tc.nodes()
	clients := make([]*goredis.Client, len(nodes))
	for i, srv := range nodes {
		clients[i] = srv.client(t)
		id, err := clients[i].ClusterMyID(ctx).Result()
		if err != nil {
			t.Fatalf("CLUSTER MYID: %v", err)
		}
		tc.ids = append(tc.ids, id)
	}
	n := len(tc.masters)
	for i := 0; i < n; i++ {
		lo, hi := i*16384/n, (i+1)*16384/n-1
		if err := clients[i].Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
		}
	}
	for i := 1; i < len(nodes); i++ {
		if err := clients[0].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(nodes[i].port)).Err(); err != nil {
			t.Fatalf("CLUSTER MEET: %v", err)
		}
	}
	waitFor(t, "every node to know every other", func() bool {
		for _, c := range clients {
			s, err := c.ClusterNodes(ctx).Result()
			if err != nil || strings.Count(s, "connected") < len(nodes) || strings.Contains(s, "handshake") {
				return false
			}
		}
		return true
	})
	for i, c := range clients[n:] {
		if err := c.ClusterReplicate(ctx, tc.ids[i]).Err(); err != nil {
			t.Fatalf("CLUSTER REPLICATE: %v", err)
		}
	}
	waitFor(t, "the cluster to be ok with every replica in sync", func() bool {
		for i, c := range clients {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
			if i >= n {
				r, err := c.Info(ctx, "replication").Result()
				if err != nil || !strings.Contains(r, "master_link_status:up") {
					return false
				}
			}
		}
		return true
	})
}

// waitFor polls cond every 50 ms for at most 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// client is a cluster client of tc, closed when the test ends. It reaches
// a proxied master directly.
func (tc *testCluster) client(t testing.TB) *goredis.ClusterClient {
	t.Helper()
	var d net.Dialer
	c := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs:                 []string{tc.masters[0].addr()},
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if real, ok := tc.direct[addr]; ok {
				addr = real
			}
			return d.DialContext(ctx, network, addr)
		},
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// replicationProxy forwards connections to a master; a replica whose
// master announces the proxy replicates through it. hold stops the bytes
// from the master to the replica, as a slow or broken network would: the
// master acknowledges writes to its clients that its replica never sees.
type replicationProxy struct {
	l      net.Listener
	target string

	mu   sync.Mutex
	held bool
	cond *sync.Cond
}

func newReplicationProxy(t testing.TB, target string) *replicationProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replicationProxy{l: l, target: target}
	p.cond = sync.NewCond(&p.mu)
	t.Cleanup(func() { l.Close(); p.release() })
	go p.serve()
	return p
}

func (p *replicationProxy) port() int    { return p.l.Addr().(*net.TCPAddr).Port }
func (p *replicationProxy) addr() string { return p.l.Addr().String() }

func (p *replicationProxy) serve() {
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		go func() { io.Copy(out, in); out.Close() }()
		go func() { p.copyHeld(in, out); in.Close() }()
	}
}

// copyHeld copies from the master to the replica, waiting while held.
func (p *replicationProxy) copyHeld(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.held {
			p.cond.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *replicationProxy) hold() { p.mu.Lock(); p.held = true; p.mu.Unlock() }

func (p *replicationProxy) release() {
	p.mu.Lock()
	p.held = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// TestClusterConformance runs the conformance suite, the 64 concurrent
// consumers of one link among it, on a Redis Cluster of three masters and
// three replicas: each subtest's store under a prefix of its own, so in a
// slot of its own, on whichever master serves it.
func TestClusterConformance(t *testing.T) {
	tc := startCluster(t, 3, false)
	c := tc.client(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := New(context.Background(), c, WithPrefix(testPrefix(t)))
		if err != nil {
			t.Fatalf("New on the cluster: %v", err)
		}
		return s
	})
}

// masterOf returns the index of the master that serves the store's slot.
func (tc *testCluster) masterOf(t testing.TB, prefix string) int {
	t.Helper()
	slot, err := tc.masters[0].client(t).ClusterKeySlot(context.Background(), "{"+prefix+"}").Result()
	if err != nil {
		t.Fatal(err)
	}
	return int(slot) * len(tc.masters) / 16384
}

// failoverRun is what a failover test saw: how often each link was
// accepted, and the refusals while replication was held.
type failoverRun struct {
	accepted map[string]int
	held     []error // the outcomes of the consumes while replication was held
	s        *Store
	links    []storetest.Link
}

// failover inserts links on a proxied cluster, consumes some, holds the
// replication of the master that serves the store, consumes more while
// that master is killed by its PID, waits until its replica has taken
// over, and presents every link again.
func failover(t *testing.T, opts ...Option) failoverRun {
	ctx := context.Background()
	tc := startCluster(t, 3, true)
	c := tc.client(t)
	prefix := testPrefix(t)
	s, err := New(ctx, c, append([]Option{WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ls := newLinks(t, 120, "failover")
	if err := s.Insert(ctx, records(ls)); err != nil {
		t.Fatal(err)
	}
	run := failoverRun{accepted: map[string]int{}, s: s, links: ls}
	var mu sync.Mutex
	consume := func(l storetest.Link) error {
		_, err := s.Consume(ctx, l.Request(time.Now()))
		if err == nil {
			mu.Lock()
			run.accepted[l.ID]++
			mu.Unlock()
		}
		return err
	}
	for _, l := range ls[:40] {
		if err := consume(l); err != nil {
			t.Fatalf("Consume before the failover: %v", err)
		}
	}
	m := tc.masterOf(t, prefix)
	tc.proxies[m].hold()
	// Consumes run on 8 goroutines while the master is killed.
	var wg sync.WaitGroup
	next := make(chan storetest.Link)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range next {
				err := consume(l)
				mu.Lock()
				run.held = append(run.held, err)
				mu.Unlock()
			}
		}()
	}
	for i, l := range ls[40:80] {
		if i == 30 {
			tc.masters[m].stop(t, syscall.SIGKILL)
		}
		next <- l
	}
	close(next)
	wg.Wait()
	replica := tc.replicas[m].client(t)
	waitFor(t, "the replica to take over", func() bool {
		info, err := replica.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "role:master")
	})
	// The killed master comes back as a replica of the one that took over,
	// so that consumptions can be confirmed again.
	tc.masters[m].start(t)
	back := tc.masters[m].client(t)
	waitFor(t, "the killed master to replicate the new one", func() bool {
		info, err := back.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	waitFor(t, "the store to answer again", func() bool {
		_, err := s.Peek(ctx, ls[100].Request(time.Now()))
		return err == nil
	})
	for _, l := range ls {
		// A consumption the new replica did not confirm in time is refused,
		// and consumed on the master: presenting it again says ErrUsed.
		for i := 0; i < 3 && errors.Is(consume(l), ErrNotReplicated); i++ {
			t.Logf("link %s: no replica confirmed the consumption in time", l.ID)
		}
	}
	return run
}

// TestClusterFailover: Redis replicates asynchronously, so a master can
// acknowledge a consumption and die before its replica has it; the replica
// that takes over then holds the link as outstanding. With the replica
// acknowledgement the store refuses a consumption no replica confirmed,
// and no link is ever accepted twice.
func TestClusterFailover(t *testing.T) {
	run := failover(t, WithReplicaAcks(1, time.Second))
	for id, n := range run.accepted {
		if n > 1 {
			t.Errorf("link %s accepted %d times across the failover", id, n)
		}
	}
	for _, err := range run.held {
		if err == nil {
			t.Errorf("a consumption was accepted while no replica could confirm it")
		} else if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a consumption no replica confirmed: %v, want ErrUnavailable", err)
		}
	}
	if len(run.accepted) != 120 {
		for i, l := range run.links {
			if run.accepted[l.ID] == 0 {
				_, err := run.s.Consume(context.Background(), l.Request(time.Now()))
				t.Logf("link %d never accepted: %v", i, err)
			}
		}
		t.Errorf("%d of 120 links accepted once in all; want every link once", len(run.accepted))
	}
}

// TestClusterFailoverUnsafe shows what the acknowledgement guards against:
// without it, a link consumed while its master's replication lagged is
// accepted a second time after the failover.
func TestClusterFailoverUnsafe(t *testing.T) {
	run := failover(t, UnsafeWithoutReplicaAcks())
	twice := 0
	for _, n := range run.accepted {
		if n > 1 {
			twice++
		}
	}
	t.Logf("without replica acknowledgements, %d links were accepted twice", twice)
	if twice == 0 {
		t.Fatal("no link was accepted twice: the failover lost no acknowledged write, so TestClusterFailover proves nothing")
	}
}
