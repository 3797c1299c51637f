package mysqlstore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// TestConsumeRevokeRace races two consumers and a revocation on each of many
// records: at most one consumer wins, the loser is told ErrUsed or
// ErrRevoked according to what happened first, and nothing else is
// reported.
func TestConsumeRevokeRace(t *testing.T) {
	s, _ := newStore(t, adminDB(t), true)
	ctx := context.Background()
	const n = 100
	recs, reqs := storetest.Tokens(t, n, "rr")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = s.Consume(ctx, reqs[i])
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Revoke(ctx, store.Filter{IDs: []string{recs[i].ID}}, time.Now()); err != nil {
				t.Errorf("Revoke: %v", err)
			}
		}()
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrUsed), errors.Is(err, store.ErrRevoked):
			default:
				t.Fatalf("record %d: unexpected error %v", i, err)
			}
		}
		r, err := s.Get(ctx, recs[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if wins > 1 || (wins == 1) == r.ConsumedAt.IsZero() || r.Status != store.StatusRevoked {
			t.Fatalf("record %d: %d winners, record %+v", i, wins, r)
		}
		for _, err := range errs {
			if errors.Is(err, store.ErrUsed) && wins == 0 {
				t.Fatalf("record %d: ErrUsed reported, but nobody consumed it", i)
			}
		}
	}
}

// TestConsumeFreezeRace races consumers of many records against a freeze
// and a thaw of their batch: every answer is a success or ErrFrozen, and a
// record is consumed exactly when its consumer was told so.
func TestConsumeFreezeRace(t *testing.T) {
	s, _ := newStore(t, adminDB(t), true)
	ctx := context.Background()
	const n = 200
	recs, reqs := storetest.Tokens(t, n, "fr")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	won := make([]bool, n)
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Consume(ctx, reqs[i])
			switch {
			case err == nil:
				won[i] = true
			case errors.Is(err, store.ErrFrozen):
			default:
				t.Errorf("Consume: %v", err)
			}
		}()
	}
	for range 5 {
		if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "fr", Since: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Thaw(ctx, store.ScopeBatch, "fr"); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := range recs {
		r, err := s.Get(ctx, recs[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if won[i] != (r.Status == store.StatusConsumed) {
			t.Fatalf("record %d: consumer told success=%v, record %v", i, won[i], r.Status)
		}
	}
}

// TestEventsCursor checks the ledger cursor across the three sources and
// that a malformed cursor is refused.
func TestEventsCursor(t *testing.T) {
	s, _ := newStore(t, adminDB(t), true)
	ctx := context.Background()
	at := store.Micro(time.Now())
	recs, reqs := storetest.Tokens(t, 30, "ec")
	for i := range recs {
		recs[i].IssuedAt = at // every issued entry ties
	}
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		reqs[i].At = at
		if _, err := s.Consume(ctx, reqs[i]); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, store.Event{At: at, Kind: store.EventRefused, Batch: "ec", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	var all []store.Event
	after := ""
	for {
		page, next, err := s.Events(ctx, store.EventQuery{Batch: "ec", After: after, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		after = next
	}
	if len(all) != 50 {
		t.Fatalf("paged %d entries, want 50", len(all))
	}
	seen := map[string]bool{}
	for i, e := range all {
		if seen[e.Cursor] {
			t.Fatalf("entry %d repeated: %s", i, e.Cursor)
		}
		seen[e.Cursor] = true
		want := store.EventIssued
		switch {
		case i >= 40:
			want = store.EventRefused
		case i >= 30:
			want = store.EventConsumed
		}
		if e.Kind != want {
			t.Fatalf("entry %d is %s, want %s (issued, then consumed, then appended at one time)", i, e.Kind, want)
		}
	}
	for _, bad := range []string{"x", "1.2", "1.0.not-a-uuid", "1.2.-4", "1.9.1", "a.2.1"} {
		if _, _, err := s.Events(ctx, store.EventQuery{After: bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Events(After %q) = %v, want ErrInvalid", bad, err)
		}
	}
}

// TestNoSecretsInErrors: refusals and failures never carry a hash.
func TestNoSecretsInErrors(t *testing.T) {
	s, _ := newStore(t, adminDB(t), true)
	ctx := context.Background()
	st := sha256.Sum256([]byte("state"))
	recs, reqs := storetest.Tokens(t, 2, "sec")
	recs[0].State = st[:]
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	errs := []error{s.Insert(ctx, []store.Record{recs[0]})}
	_, err := s.Consume(ctx, reqs[0])
	errs = append(errs, err)
	bad := reqs[1]
	bad.SecretHash[0] ^= 1
	_, err = s.Consume(ctx, bad)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected a refusal")
		}
		msg := strings.ToLower(err.Error())
		for _, secret := range [][]byte{recs[0].SecretHash[:], recs[1].SecretHash[:], st[:], bad.SecretHash[:]} {
			if strings.Contains(msg, hex.EncodeToString(secret)) || strings.Contains(msg, hex.EncodeToString(secret[:8])) ||
				strings.Contains(err.Error(), string(secret[:8])) {
				t.Fatalf("error carries a hash: %v", err)
			}
		}
	}
}

// countingConn counts the writes a connection makes: one a command sent to
// the server, so one a round trip.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestConsumeRoundTrips counts the commands each call sends on a warm
// connection: one for Consume, whether it succeeds, is refused or counts a
// mismatch, one for Peek, Get, Fail and Hit, and one for an Insert of one
// record, which draws its number in the INSERT.
func TestConsumeRoundTrips(t *testing.T) {
	cfg := newDatabase(t, adminDB(t))
	var writes atomic.Int64
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &writes}, nil
	}
	s, err := mysqlstore.Open(cfg, mysqlstore.WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	recs, reqs := storetest.Tokens(t, 6, "")
	if err := s.Insert(ctx, recs[:3]); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, recs[4:5]); err != nil {
		t.Fatal(err)
	}
	unconfirmed, mismatched := reqs[2], reqs[2]
	unconfirmed.Confirmation, mismatched.Confirmation = store.Unconfirmed, store.Mismatched
	// Warm up: prepare every statement on the one connection.
	s.Peek(ctx, reqs[3])
	s.Peek(ctx, unconfirmed)
	s.Consume(ctx, reqs[3])
	s.Get(ctx, recs[3].ID)
	s.Fail(ctx, recs[3].ID, time.Now(), 0)
	s.Hit(ctx, "warm", time.Minute, time.Now())
	count := func(what string, fn func() error, wantErr error) {
		t.Helper()
		before := writes.Load()
		if err := fn(); !errors.Is(err, wantErr) {
			t.Fatalf("%s: %v, want %v", what, err, wantErr)
		}
		if got := writes.Load() - before; got != 1 {
			t.Fatalf("%s took %d round trips, want 1", what, got)
		}
	}
	consume := func() error { _, err := s.Consume(ctx, reqs[0]); return err }
	count("Peek", func() error { _, err := s.Peek(ctx, reqs[0]); return err }, nil)
	count("Consume", consume, nil)
	count("Consume of a used token", consume, store.ErrUsed)
	count("Consume of an unknown token", func() error { _, err := s.Consume(ctx, reqs[3]); return err }, store.ErrNotFound)
	count("Get", func() error { _, err := s.Get(ctx, recs[1].ID); return err }, nil)
	count("Fail", func() error { _, err := s.Fail(ctx, recs[1].ID, time.Now(), 5); return err }, nil)
	count("Peek unconfirmed", func() error { _, err := s.Peek(ctx, unconfirmed); return err }, nil)
	count("Peek mismatched", func() error { _, err := s.Peek(ctx, mismatched); return err }, store.ErrMismatch)
	count("Consume mismatched", func() error { _, err := s.Consume(ctx, mismatched); return err }, store.ErrMismatch)
	used := reqs[0]
	used.Confirmation = store.Mismatched
	count("Consume mismatched of a used token", func() error { _, err := s.Consume(ctx, used); return err }, store.ErrUsed)
	count("Hit", func() error { _, err := s.Hit(ctx, "k", time.Minute, time.Now()); return err }, nil)
	count("Insert of one record", func() error { return s.Insert(ctx, recs[5:]) }, nil)
}

// TestConsumeLostRow holds the row lock of a record in another transaction
// that consumes, revokes, or counts a failure on it, lets Consume wait for
// the lock, then commits: Consume must report what the other transaction
// did, or succeed when it left the record consumable; a mismatched Consume
// gets the same answer, or ErrMismatch, and its failure is counted on top
// of the other transaction's.
func TestConsumeLostRow(t *testing.T) {
	admin := adminDB(t)
	s, cfg := newStore(t, admin, true)
	ctx := context.Background()
	tokens := "`" + cfg.DBName + "`.oncelink_tokens"
	tests := []struct {
		name         string
		set          string
		confirmation store.Confirmation
		wantErr      error
		failures     int
	}{
		{"consumed", "status = 2, consumed_at = NOW(6)", store.Confirmed, store.ErrUsed, 0},
		{"revoked", "status = 3, revoked_at = NOW(6)", store.Confirmed, store.ErrRevoked, 0},
		{"failure counted", "failures = failures + 1", store.Confirmed, nil, 1},
		{"consumed, mismatched", "status = 2, consumed_at = NOW(6)", store.Mismatched, store.ErrUsed, 1},
		{"revoked, mismatched", "status = 3, revoked_at = NOW(6)", store.Mismatched, store.ErrRevoked, 1},
		{"failure counted, mismatched", "failures = failures + 1", store.Mismatched, store.ErrMismatch, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, reqs := storetest.Tokens(t, 1, "")
			if err := s.Insert(ctx, recs); err != nil {
				t.Fatal(err)
			}
			tx, err := admin.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			id, _ := store.ParseID(recs[0].ID)
			if _, err := tx.Exec("UPDATE "+tokens+" SET "+tc.set+" WHERE id = ?", id[:]); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				req := reqs[0]
				req.Confirmation = tc.confirmation
				_, err := s.Consume(ctx, req)
				done <- err
			}()
			waitForLockWait(t, admin, cfg.DBName)
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			err = <-done
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Consume after losing the row: %v, want %v", err, tc.wantErr)
			}
			if r, err := s.Get(ctx, recs[0].ID); err != nil || r.Failures != tc.failures {
				t.Fatalf("after losing the row: %d failures (%v), want %d", r.Failures, err, tc.failures)
			}
		})
	}
}

// waitForLockWait waits, for at most ten seconds, until a transaction of a
// connection to database db waits for a lock. It reads INNODB_TRX at most
// every 150 ms: the server fills that table from a cache, which it renews
// only when nobody read it for 100 ms, so faster polling can keep reading
// the transactions as they were before the wait began.
func waitForLockWait(t *testing.T, admin *sql.DB, db string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		err := admin.QueryRow(`SELECT COUNT(*) FROM information_schema.INNODB_TRX x
			JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id
			WHERE x.trx_state = 'LOCK WAIT' AND p.DB = ?`, db).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Consume never waited for the row lock")
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// TestRefusalWrites: a confirmed request that is refused writes the
// record as a mismatched one does (MariaDB skips an UPDATE that changes no
// value, so adding 0 failures alone would write nothing), and an
// unconfirmed one, Peek's or Consume's, writes nothing.
func TestRefusalWrites(t *testing.T) {
	admin := adminDB(t)
	s, cfg := newStore(t, admin, true)
	ctx := context.Background()
	recs, reqs := storetest.Tokens(t, 1, "")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, reqs[0]); err != nil {
		t.Fatal(err)
	}
	id, _ := store.ParseID(recs[0].ID)
	presented := func() (n, failures int) {
		t.Helper()
		err := admin.QueryRow("SELECT presented, failures FROM `"+cfg.DBName+"`.oncelink_tokens WHERE id = ?", id[:]).Scan(&n, &failures)
		if err != nil {
			t.Fatal(err)
		}
		return n, failures
	}
	steps := []struct {
		name         string
		peek         bool
		confirmation store.Confirmation
		presented    int
		failures     int
	}{
		{"Consume unconfirmed", false, store.Unconfirmed, 0, 0},
		{"Peek unconfirmed", true, store.Unconfirmed, 0, 0},
		{"Consume confirmed", false, store.Confirmed, 1, 0},
		{"Consume mismatched", false, store.Mismatched, 2, 1},
		{"Peek confirmed", true, store.Confirmed, 3, 1},
		{"Peek mismatched", true, store.Mismatched, 4, 2},
	}
	for _, st := range steps {
		req := reqs[0]
		req.Confirmation = st.confirmation
		var err error
		if st.peek {
			_, err = s.Peek(ctx, req)
		} else {
			_, err = s.Consume(ctx, req)
		}
		if !errors.Is(err, store.ErrUsed) {
			t.Fatalf("%s: %v, want ErrUsed", st.name, err)
		}
		if n, f := presented(); n != st.presented || f != st.failures {
			t.Fatalf("%s: presented %d, failures %d; want %d and %d", st.name, n, f, st.presented, st.failures)
		}
	}
}
