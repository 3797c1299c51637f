package postgresstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/postgresstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// poolAt returns a pool configured from the test URL but dialing addr.
func poolAt(t *testing.T, addr string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Host = host
	if _, err := fmt.Sscan(port, &cfg.ConnConfig.Port); err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Fallbacks = nil
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// wantUnavailable runs every operation of the hot path against a store that
// cannot answer and checks that each fails with ErrUnavailable within the
// deadline (plus a margin for the scheduler).
func wantUnavailable(t *testing.T, s *postgresstore.Store, deadline time.Duration) {
	t.Helper()
	recs, reqs := storetest.Tokens(t, 40, "fault") // 40: the COPY path
	ops := []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"Insert one", func(ctx context.Context) error { return s.Insert(ctx, recs[:1]) }},
		{"Insert many", func(ctx context.Context) error { return s.Insert(ctx, recs) }},
		{"Consume", func(ctx context.Context) error { _, err := s.Consume(ctx, reqs[0]); return err }},
		{"Peek", func(ctx context.Context) error { _, err := s.Peek(ctx, reqs[0]); return err }},
		{"Revoke", func(ctx context.Context) error {
			_, err := s.Revoke(ctx, store.Filter{All: true}, time.Now())
			return err
		}},
		{"Ping", s.Ping},
	}
	for _, op := range ops {
		storetest.WantUnavailable(t, op.name, deadline, op.fn)
	}
}

// TestFaultClosedPort: nothing listens at the address.
func TestFaultClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := postgresstore.New(poolAt(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	wantUnavailable(t, s, 2*time.Second)
}

// TestFaultSilentServer: the server accepts connections and never answers.
func TestFaultSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	s, err := postgresstore.New(poolAt(t, ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	wantUnavailable(t, s, 300*time.Millisecond)
}

// TestFaultTerminatedBackends kills the store's connections with
// pg_terminate_backend while goroutines consume tokens, two goroutines per
// token. Every Consume succeeds, or fails with ErrUsed or ErrUnavailable; a
// success always consumed the record, for that caller; no token has two
// successes; and the store recovers once the killing stops.
func TestFaultTerminatedBackends(t *testing.T) {
	app := randomName(t, "oncelink-fault-")
	pool := newPool(t, app, 8)
	admin := newPool(t, "oncelink-fault-admin", 2)
	// The schema is created and dropped through the admin pool, so that
	// the killer never interrupts the cleanup.
	_, name := newSchemaStore(t, admin, true)
	s, err := postgresstore.New(pool, postgresstore.WithSchema(name))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 300
	recs, reqs := storetest.Tokens(t, n, "kill")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}

	type attempt struct {
		session string
		err     error
	}
	results := make([][]attempt, n)
	var mu sync.Mutex
	var next atomic.Int64
	stop := make(chan struct{})
	var killed atomic.Int64
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			var k int64
			err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
				FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&k)
			if err != nil {
				t.Errorf("pg_terminate_backend: %v", err)
				return
			}
			killed.Add(k)
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= 2*n {
					return
				}
				tok := i / 2 // two attempts per token, by different goroutines
				req := reqs[tok]
				req.Presentation.Session = fmt.Sprintf("w%d-a%d", w, i)
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := s.Consume(cctx, req)
				cancel()
				mu.Lock()
				results[tok] = append(results[tok], attempt{req.Presentation.Session, err})
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	<-killerDone
	if killed.Load() == 0 {
		t.Fatal("no backend was terminated: the test disrupted nothing")
	}

	var unavailable, won int
	for tok, atts := range results {
		winners := 0
		sessions := map[string]bool{}
		used := false
		for _, a := range atts {
			switch {
			case a.err == nil:
				winners++
				won++
				sessions[a.session] = true
			case errors.Is(a.err, store.ErrUsed):
				used = true
			case errors.Is(a.err, store.ErrUnavailable):
				unavailable++
				sessions[a.session] = true // may have consumed before the connection died
			default:
				t.Fatalf("token %d: Consume: %v, want success, ErrUsed or ErrUnavailable", tok, a.err)
			}
		}
		if winners > 1 {
			t.Fatalf("token %d: %d successes", tok, winners)
		}
		r, err := s.Get(ctx, recs[tok].ID) // may hit a dead connection: retry below
		for try := 0; err != nil && try < 10; try++ {
			r, err = s.Get(ctx, recs[tok].ID)
		}
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if (winners == 1 || used) && r.Status != store.StatusConsumed {
			t.Fatalf("token %d: reported consumed or used, but the record is %v", tok, r.Status)
		}
		if r.Status == store.StatusConsumed && !sessions[r.Consumer.Session] {
			t.Fatalf("token %d: consumed by %q, which was told it failed", tok, r.Consumer.Session)
		}
		for _, a := range atts {
			if a.err == nil && r.Consumer.Session != a.session {
				t.Fatalf("token %d: %s was told it won, but the record names %q", tok, a.session, r.Consumer.Session)
			}
		}
	}
	t.Logf("%d backends terminated; of %d consumes, %d succeeded and %d were unavailable", killed.Load(), 2*n, won, unavailable)
	if won == 0 {
		t.Fatal("no consume succeeded during the disruption")
	}

	// Recovery: once idle for a second, pooled connections are checked on
	// acquire, so the store answers again without intervention.
	time.Sleep(1200 * time.Millisecond)
	fresh, freshReqs := storetest.Tokens(t, 1, "after")
	if err := s.Insert(ctx, fresh); err != nil {
		t.Fatalf("Insert after the disruption: %v", err)
	}
	if _, err := s.Consume(ctx, freshReqs[0]); err != nil {
		t.Fatalf("Consume after the disruption: %v", err)
	}
}
