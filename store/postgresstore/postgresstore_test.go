package postgresstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/postgresstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// newPool connects to the test server with the given application name and
// maximum number of connections, and closes the pool when the test ends.
func newPool(tb testing.TB, app string, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(tb))
	if err != nil {
		tb.Fatalf("parse %s: %v", testenv.PostgresEnv, err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// randomName returns prefix followed by 16 random hex digits.
func randomName(tb testing.TB, prefix string) string {
	tb.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// newSchemaStore returns a store in a fresh schema with a random name,
// migrated unless migrate is false, and drops the schema when the test
// ends.
func newSchemaStore(tb testing.TB, pool *pgxpool.Pool, migrate bool) (*postgresstore.Store, string) {
	tb.Helper()
	name := randomName(tb, "oncelink_test_")
	s, err := postgresstore.New(pool, postgresstore.WithSchema(name))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	if migrate {
		if err := s.Migrate(context.Background()); err != nil {
			tb.Fatalf("Migrate: %v", err)
		}
	}
	return s, name
}

func TestConformance(t *testing.T) {
	pool := newPool(t, "oncelink-conformance", 8)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newSchemaStore(t, pool, true)
		return s
	})
}

func TestNew(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tests := []struct {
		name    string
		schema  string
		wantErr bool
	}{
		{"default", "", false},
		{"plain", "oncelink_2", false},
		{"upper case", "Oncelink", true},
		{"quote", `a"b`, true},
		{"space", "a b", true},
		{"digit first", "1abc", true},
		{"reserved prefix", "pg_oncelink", true},
		{"too long", strings.Repeat("a", 64), true},
		{"empty", "-", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []postgresstore.Option
			switch tc.schema {
			case "":
			case "-":
				opts = append(opts, postgresstore.WithSchema(""))
			default:
				opts = append(opts, postgresstore.WithSchema(tc.schema))
			}
			_, err := postgresstore.New(pool, opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%q) error = %v, want error %v", tc.schema, err, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("New(%q) error = %v, want ErrInvalid", tc.schema, err)
			}
		})
	}
	if _, err := postgresstore.New(nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("New(nil) = %v, want ErrInvalid", err)
	}
}

// TestMigrateConcurrent migrates one fresh schema from four goroutines at
// once, then again: every call succeeds and each migration is applied once.
func TestMigrateConcurrent(t *testing.T) {
	pool := newPool(t, "oncelink-migrate", 8)
	s, name := newSchemaStore(t, pool, false)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Each goroutine has its own store value, as separate processes would.
			st, err := postgresstore.New(pool, postgresstore.WithSchema(name))
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = st.Migrate(ctx)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate %d: %v", i, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	var applied, distinct int
	err := pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT version) FROM "+pgx.Identifier{name}.Sanitize()+".schema_migrations").
		Scan(&applied, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if applied == 0 || applied != distinct {
		t.Fatalf("schema_migrations holds %d rows for %d versions", applied, distinct)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after Migrate: %v", err)
	}
	recs, reqs := storetest.Tokens(t, 3, "mig")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	if _, err := s.Consume(ctx, reqs[0]); err != nil {
		t.Fatalf("Consume: %v", err)
	}
}

// TestNotMigrated: a store over a schema that was never migrated fails
// every operation with ErrUnavailable and says why.
func TestNotMigrated(t *testing.T) {
	pool := newPool(t, "oncelink-unmigrated", 2)
	s, _ := newSchemaStore(t, pool, false)
	ctx := context.Background()
	recs, reqs := storetest.Tokens(t, 1, "")
	checks := map[string]error{
		"Insert": s.Insert(ctx, recs),
		"Ping":   s.Ping(ctx),
		"Consume": func() error {
			_, err := s.Consume(ctx, reqs[0])
			return err
		}(),
		"Peek": func() error {
			_, err := s.Peek(ctx, reqs[0])
			return err
		}(),
		"Get": func() error {
			_, err := s.Get(ctx, recs[0].ID)
			return err
		}(),
		"Revoke": func() error {
			_, err := s.Revoke(ctx, store.Filter{All: true}, time.Now())
			return err
		}(),
	}
	for name, err := range checks {
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrNoStore) || !strings.Contains(err.Error(), "not migrated") {
			t.Errorf("%s on an unmigrated schema: %v, want ErrUnavailable and ErrNoStore saying the schema is not migrated", name, err)
		}
	}
}

// TestConsumeRevokeRace races two consumers and a revocation on each of many
// records: at most one consumer wins, the loser is told ErrUsed or
// ErrRevoked according to what happened first, and nothing else is
// reported.
func TestConsumeRevokeRace(t *testing.T) {
	pool := newPool(t, "oncelink-race", 8)
	s, _ := newSchemaStore(t, pool, true)
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

// TestEventsCursor checks the ledger cursor across the three sources and
// that a malformed cursor is refused.
func TestEventsCursor(t *testing.T) {
	pool := newPool(t, "oncelink-events", 4)
	s, _ := newSchemaStore(t, pool, true)
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
	pool := newPool(t, "oncelink-secrets", 2)
	s, _ := newSchemaStore(t, pool, true)
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
			if strings.Contains(msg, hex.EncodeToString(secret)) || strings.Contains(msg, hex.EncodeToString(secret[:8])) {
				t.Fatalf("error carries a hash: %v", err)
			}
		}
	}
}

// TestConsumeLostRow holds the row lock of a record in another transaction
// that consumes or revokes it, lets Consume block on it, then commits:
// Consume read the record as consumable in its snapshot, loses the row, and
// must report what the other transaction did.
func TestConsumeLostRow(t *testing.T) {
	app := randomName(t, "oncelink-lost-")
	pool := newPool(t, app, 4)
	s, name := newSchemaStore(t, pool, true)
	ctx := context.Background()
	tests := []struct {
		name    string
		set     string
		wantErr error
	}{
		{"consumed", "status = 2, consumed_at = now()", store.ErrUsed},
		{"revoked", "status = 3, revoked_at = now()", store.ErrRevoked},
		{"failure counted", "failures = failures + 1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, reqs := storetest.Tokens(t, 1, "")
			if err := s.Insert(ctx, recs); err != nil {
				t.Fatal(err)
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, "UPDATE "+pgx.Identifier{name, "tokens"}.Sanitize()+" SET "+tc.set+" WHERE id = $1", recs[0].ID); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := s.Consume(ctx, reqs[0])
				done <- err
			}()
			// Wait until Consume is blocked on the row lock.
			deadline := time.Now().Add(10 * time.Second)
			for {
				var waiting int
				err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
					WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&waiting)
				if err != nil {
					t.Fatal(err)
				}
				if waiting > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("Consume never waited for the row lock")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			err = <-done
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Consume after losing the row: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// countingTracer counts the statements sent through a pool.
type countingTracer struct{ n atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestConsumeStatements counts the statements of Consume and Peek: one on
// success, two on a refusal (the update, then the reason), one for Peek.
func TestConsumeStatements(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	tracer := &countingTracer{}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, _ := newSchemaStore(t, pool, true)
	ctx := context.Background()
	recs, reqs := storetest.Tokens(t, 2, "")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	count := func(what string, want int64, fn func() error, wantErr error) {
		t.Helper()
		before := tracer.n.Load()
		if err := fn(); !errors.Is(err, wantErr) {
			t.Fatalf("%s: %v, want %v", what, err, wantErr)
		}
		if got := tracer.n.Load() - before; got != want {
			t.Fatalf("%s sent %d statements, want %d", what, got, want)
		}
	}
	consume := func() error { _, err := s.Consume(ctx, reqs[0]); return err }
	count("Peek", 1, func() error { _, err := s.Peek(ctx, reqs[0]); return err }, nil)
	count("Consume", 1, consume, nil)
	count("Consume of a used token", 2, consume, store.ErrUsed)
}

// TestMigrateFromEarlier: a schema at each earlier version (the first, and
// the first two: the counters), with a link recorded before the store had
// a sequence, is refused by Ping until Migrate brings it up to date; the
// link then works, a watermark taken now covers it, and the counters work.
func TestMigrateFromEarlier(t *testing.T) {
	pool := newPool(t, "oncelink-migrate-earlier", 4)
	ctx := context.Background()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) < 3 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	for v := 1; v < len(files); v++ {
		t.Run(fmt.Sprint("version ", v), func(t *testing.T) {
			s, name := newSchemaStore(t, pool, false)
			q := pgx.Identifier{name}.Sanitize()
			if _, err := pool.Exec(ctx, "CREATE SCHEMA "+q+"; CREATE TABLE "+q+
				".schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
				t.Fatal(err)
			}
			for i, f := range files[:v] {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pool.Exec(ctx, strings.ReplaceAll(string(body), "{schema}", q)); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if _, err := pool.Exec(ctx, "INSERT INTO "+q+".schema_migrations (version, name) VALUES ($1, $2)", i+1, filepath.Base(f)); err != nil {
					t.Fatal(err)
				}
			}
			recs, reqs := storetest.Tokens(t, 1, "legacy")
			r := &recs[0]
			if _, err := pool.Exec(ctx, "INSERT INTO "+q+".tokens (id, member, purpose, batch, recipient, secret_hash, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				r.ID, r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], r.IssuedAt, r.ExpiresAt); err != nil {
				t.Fatal(err)
			}
			if err := s.Ping(ctx); !errors.Is(err, store.ErrNoStore) {
				t.Fatalf("Ping of a schema at version %d: %v, want ErrNoStore", v, err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate from version %d: %v", v, err)
			}
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("Ping after Migrate: %v", err)
			}
			req := reqs[0]
			req.Confirmation = store.Unconfirmed
			if _, err := s.Peek(ctx, req); err != nil {
				t.Fatalf("the link of version %d: %v", v, err)
			}
			if _, err := s.WatermarkNow(ctx, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Peek(ctx, req); !errors.Is(err, store.ErrRevoked) {
				t.Fatalf("the link of version %d after WatermarkNow: %v, want ErrRevoked", v, err)
			}
			if n, err := s.Hit(ctx, "old/schema", time.Minute, time.Now()); err != nil || n != 1 {
				t.Fatalf("Hit = %d, %v", n, err)
			}
		})
	}
}
