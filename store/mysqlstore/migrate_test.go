package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// wantNoStore checks that err says there is no store here, or none of this
// version: store.ErrNoStore and store.ErrUnavailable, with words that say
// why.
func wantNoStore(t *testing.T, what string, err error, words string) {
	t.Helper()
	if !errors.Is(err, store.ErrNoStore) || !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), words) {
		t.Errorf("%s: %v, want ErrNoStore and ErrUnavailable saying %q", what, err, words)
	}
}

// TestMigrateConcurrent migrates one fresh database from four stores at
// once, then again: every call succeeds and each migration is applied once.
func TestMigrateConcurrent(t *testing.T) {
	admin := adminDB(t)
	s, cfg := newStore(t, admin, false)
	ctx := context.Background()
	wantNoStore(t, "Ping before Migrate", s.Ping(ctx), "not migrated")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Each goroutine has its own store, as separate processes would.
			st, err := mysqlstore.Open(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
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
	err := admin.QueryRow("SELECT COUNT(*), COUNT(DISTINCT version) FROM `"+cfg.DBName+"`.oncelink_migrations").Scan(&applied, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if applied == 0 || applied != distinct {
		t.Fatalf("the migrations table holds %d rows for %d versions", applied, distinct)
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

// TestMigrateResumes: MariaDB commits each DDL statement on its own, so a
// migration can stop half-way; the next Migrate completes it.
func TestMigrateResumes(t *testing.T) {
	admin := adminDB(t)
	s, cfg := newStore(t, admin, true)
	ctx := context.Background()
	db := "`" + cfg.DBName + "`."
	for _, q := range []string{
		"DELETE FROM " + db + "oncelink_migrations",
		"DROP PROCEDURE " + db + "oncelink_consume",
		"DROP PROCEDURE " + db + "oncelink_check",
		"DROP PROCEDURE " + db + "oncelink_hit",
		"DROP TABLE " + db + "oncelink_events",
		"DROP TABLE " + db + "oncelink_hits",
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	wantNoStore(t, "Ping of a half-migrated store", s.Ping(ctx), "call Migrate")
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	recs, reqs := storetest.Tokens(t, 1, "resume")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, reqs[0]); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if err := s.Append(ctx, store.Event{At: time.Now(), Kind: store.EventRefused, Reason: "r"}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if _, err := s.Hit(ctx, "resume", time.Minute, time.Now()); err != nil {
		t.Fatalf("Hit: %v", err)
	}
}

// TestMigrateUpgrade: tables at version 1, holding records in every state,
// are upgraded by Migrate; until then the store is no store of this
// version, and says why.
// The records keep their state, and the checks, the failure count and the
// counters of version 2 work on them.
func TestMigrateUpgrade(t *testing.T) {
	admin := adminDB(t)
	s, cfg := newStore(t, admin, false)
	ctx := context.Background()
	if err := mysqlstore.MigrateTo(ctx, s, 1); err != nil {
		t.Fatalf("Migrate to version 1: %v", err)
	}
	recs, reqs := storetest.Tokens(t, 4, "up")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	id, _ := store.ParseID(recs[0].ID)
	if _, err := admin.Exec("UPDATE `"+cfg.DBName+"`.oncelink_tokens SET status = 2, consumed_at = NOW(6) WHERE id = ?", id[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, store.Filter{IDs: []string{recs[1].ID}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fail(ctx, recs[2].ID, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	wantNoStore(t, "Ping at version 1", s.Ping(ctx), "call Migrate")
	_, err := s.Consume(ctx, reqs[3])
	wantNoStore(t, "Consume at version 1", err, "call Migrate")
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	mismatched := reqs[2]
	mismatched.Confirmation = store.Mismatched
	for _, tc := range []struct {
		name     string
		req      store.ConsumeRequest
		want     error
		failures int
	}{
		{"consumed", reqs[0], store.ErrUsed, 0},
		{"revoked", reqs[1], store.ErrRevoked, 0},
		{"counted, mismatched", mismatched, store.ErrMismatch, 2},
		{"counted", reqs[2], nil, 2},
		{"outstanding", reqs[3], nil, 0},
	} {
		r, err := s.Consume(ctx, tc.req)
		if !errors.Is(err, tc.want) || tc.want == nil && err != nil || r.Failures != tc.failures {
			t.Fatalf("Consume of the %s record: %v with %d failures, want %v with %d", tc.name, err, r.Failures, tc.want, tc.failures)
		}
	}
	if n, err := s.Hit(ctx, "up", time.Minute, time.Now()); err != nil || n != 1 {
		t.Fatalf("Hit = %d, %v; want 1", n, err)
	}
}

// TestNotMigrated: a store over tables that were never created is no
// store: every operation fails with ErrNoStore and ErrUnavailable, and
// says why.
func TestNotMigrated(t *testing.T) {
	s, _ := newStore(t, adminDB(t), false)
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
		wantNoStore(t, name+" on an unmigrated database", err, "not migrated")
	}
}

// TestNoDatabase: a database that does not exist is no store either.
func TestNoDatabase(t *testing.T) {
	cfg := baseConfig(t)
	cfg.DBName = randomName(t, "oncelink_none_")
	s, err := mysqlstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantNoStore(t, "Ping", s.Ping(context.Background()), cfg.DBName)
}
