package redisstore

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
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
func freeClusterPort(t *testing.T) int {
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
func startCluster(t *testing.T, n int, proxied bool) *testCluster {
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
func (tc *testCluster) form(t *testing.T) {
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
func waitFor(t *testing.T, what string, cond func() bool) {
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
func (tc *testCluster) client(t *testing.T) *goredis.ClusterClient {
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

func newReplicationProxy(t *testing.T, target string) *replicationProxy {
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
