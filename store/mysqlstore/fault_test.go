package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// These tests break the connection to MariaDB in real ways: a closed port,
// a listener that never answers, a table locked by another session, the
// store's connections killed under load, and a crash and restart of a
// server of the test's own (server_test.go). Every failure must be
// ErrUnavailable, bounded by the caller's deadline, and must never let a
// link be consumed twice.

// storeAt returns a store configured like the test server's but dialling
// addr.
func storeAt(t *testing.T, addr string) *mysqlstore.Store {
	t.Helper()
	cfg := baseConfig(t)
	cfg.Addr, cfg.Logger = addr, quiet
	s, err := mysqlstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// quiet discards the driver's log of the connections the tests break.
var quiet = log.New(io.Discard, "", 0)

// wantUnavailable runs every operation of the hot path, and Migrate,
// against a store that cannot answer, and checks that each fails with
// ErrUnavailable within the deadline (plus a margin for the scheduler).
func wantUnavailable(t *testing.T, s *mysqlstore.Store, deadline time.Duration) {
	t.Helper()
	recs, reqs := storetest.Tokens(t, 600, "fault") // 600: the chunked, transactional path
	ops := []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"Insert one", func(ctx context.Context) error { return s.Insert(ctx, recs[:1]) }},
		{"Insert many", func(ctx context.Context) error { return s.Insert(ctx, recs) }},
		{"Consume", func(ctx context.Context) error { _, err := s.Consume(ctx, reqs[0]); return err }},
		{"Peek", func(ctx context.Context) error { _, err := s.Peek(ctx, reqs[0]); return err }},
		{"Fail", func(ctx context.Context) error { _, err := s.Fail(ctx, recs[0].ID, time.Now(), 5); return err }},
		{"Revoke", func(ctx context.Context) error {
			_, err := s.Revoke(ctx, store.Filter{All: true}, time.Now())
			return err
		}},
		{"Freeze", func(ctx context.Context) error {
			return s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Since: time.Now()})
		}},
		{"Events", func(ctx context.Context) error { _, _, err := s.Events(ctx, store.EventQuery{}); return err }},
		{"Ping", s.Ping},
		{"Migrate", s.Migrate},
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
	wantUnavailable(t, storeAt(t, addr), 2*time.Second)
}

// TestFaultSilentServer: the server accepts connections and never answers,
// not even the handshake.
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
	wantUnavailable(t, storeAt(t, ln.Addr().String()), 300*time.Millisecond)
}

// TestFaultLockedTable: another session holds a write lock on the tokens
// table, so the server answers nothing the store asks of it until the lock
// goes. Calls fail within their deadline; afterwards the link is consumed
// exactly once. The server may still run a consume whose caller gave up,
// once the lock goes: the retry then answers ErrUsed, never a second
// success.
func TestFaultLockedTable(t *testing.T) {
	admin := adminDB(t)
	s, cfg := newStore(t, admin, true)
	ctx := context.Background()
	recs, reqs := storetest.Tokens(t, 2, "locked")
	if err := s.Insert(ctx, recs[:1]); err != nil {
		t.Fatal(err)
	}
	lock, err := admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "LOCK TABLES `"+cfg.DBName+"`.oncelink_tokens WRITE"); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			if _, err := lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer unlock()
	storetest.WantUnavailable(t, "Consume of a locked table", 300*time.Millisecond, func(ctx context.Context) error {
		_, err := s.Consume(ctx, reqs[0])
		return err
	})
	storetest.WantUnavailable(t, "Insert into a locked table", 300*time.Millisecond, func(ctx context.Context) error {
		return s.Insert(ctx, recs[1:])
	})
	unlock()
	wins := 0
	for range 3 {
		_, err := s.Consume(ctx, reqs[0])
		switch {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrUsed):
		default:
			t.Fatalf("Consume after the lock: %v", err)
		}
	}
	if r, err := s.Get(ctx, recs[0].ID); err != nil || r.Status != store.StatusConsumed || wins > 1 {
		t.Fatalf("after the lock: %d successes, record %+v, %v", wins, r, err)
	}
}

// TestFaultKilledConnections kills the store's connections with KILL
// CONNECTION while goroutines consume tokens, two goroutines per token.
// Every Consume succeeds, or fails with ErrUsed or ErrUnavailable; a
// success always consumed the record, for that caller; no token has two
// successes; and the store recovers once the killing stops.
func TestFaultKilledConnections(t *testing.T) {
	admin := adminDB(t)
	cfg := newDatabase(t, admin)
	cfg.Logger = quiet
	s, err := mysqlstore.Open(cfg, mysqlstore.WithMaxConns(8))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 300
	recs, reqs := storetest.Tokens(t, n, "kill")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var killed atomic.Int64
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			k, err := killConnections(ctx, admin, cfg.DBName)
			if err != nil {
				t.Errorf("KILL CONNECTION: %v", err)
				return
			}
			killed.Add(k)
		}
	}()
	results := consumeTwice(ctx, s, reqs)
	close(stop)
	<-killerDone
	if killed.Load() == 0 {
		t.Fatal("no connection was killed: the test disrupted nothing")
	}
	unavailable, won := checkAttempts(t, s, recs, results)
	t.Logf("%d connections killed; of %d consumes, %d succeeded and %d were unavailable", killed.Load(), 2*n, won, unavailable)
	if won == 0 {
		t.Fatal("no consume succeeded during the disruption")
	}
	// Recovery: the driver checks a pooled connection before using it, so
	// the store answers again without intervention.
	fresh, freshReqs := storetest.Tokens(t, 1, "after")
	if err := s.Insert(ctx, fresh); err != nil {
		t.Fatalf("Insert after the disruption: %v", err)
	}
	if _, err := s.Consume(ctx, freshReqs[0]); err != nil {
		t.Fatalf("Consume after the disruption: %v", err)
	}
}

// killConnections kills every connection whose current database is db.
func killConnections(ctx context.Context, admin *sql.DB, db string) (int64, error) {
	rows, err := admin.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", db)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var k int64
	for _, id := range ids {
		if _, err := admin.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
			k++ // a connection may have gone on its own: "unknown thread id"
		}
	}
	return k, rows.Err()
}

type attempt struct {
	session string
	err     error
}

// consumeTwice consumes every request twice, from 8 goroutines, each
// attempt with a session of its own and a 5-second deadline.
func consumeTwice(ctx context.Context, s store.Store, reqs []store.ConsumeRequest) [][]attempt {
	results := make([][]attempt, len(reqs))
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= 2*len(reqs) {
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
	return results
}

// checkAttempts checks the invariants of consumeTwice's results against
// the records, and counts the failures and the successes.
func checkAttempts(t *testing.T, s store.Store, recs []store.Record, results [][]attempt) (unavailable, won int) {
	t.Helper()
	ctx := context.Background()
	for tok, atts := range results {
		winners, used := 0, false
		sessions := map[string]bool{}
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
		r, err := s.Get(ctx, recs[tok].ID)
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
	return unavailable, won
}
