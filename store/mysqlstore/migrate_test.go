package mysqlstore_test

import (
	"context"
	"database/sql"
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

// insertAsBefore inserts records into the tokens table of database db with
// the columns every version has, as an instance of an earlier version
// would.
func insertAsBefore(t *testing.T, admin *sql.DB, db string, recs []store.Record) {
	t.Helper()
	for _, r := range recs {
		id, _ := store.ParseID(r.ID)
		_, err := admin.Exec("INSERT INTO `"+db+"`.oncelink_tokens (id, member, purpose, batch, recipient, secret_hash, issued_at, expires_at) "+
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?)", id[:], r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], r.IssuedAt, r.ExpiresAt)
		if err != nil {
			t.Fatal(err)
		}
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
		"ALTER TABLE " + db + "oncelink_guards DROP COLUMN cutoff_seq",
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
	if _, err := s.WatermarkNow(ctx, ""); err != nil {
		t.Fatalf("WatermarkNow: %v", err)
	}
}

// TestMigrateUpgrade: tables at version 1, holding records in every state,
// are upgraded by Migrate; until then the store is no store of this
// version, and says why. The records keep their state, with sequence
// number 0, and the checks, the failure count and the counters of later
// versions work on them.
func TestMigrateUpgrade(t *testing.T) {
	admin := adminDB(t)
	s, cfg := newStore(t, admin, false)
	ctx := context.Background()
	if err := mysqlstore.MigrateTo(ctx, s, 1); err != nil {
		t.Fatalf("Migrate to version 1: %v", err)
	}
	recs, reqs := storetest.Tokens(t, 4, "up")
	insertAsBefore(t, admin, cfg.DBName, recs)
	for i, set := range []string{"status = 2, consumed_at = NOW(6)", "status = 3, revoked_at = NOW(6)", "failures = 1"} {
		id, _ := store.ParseID(recs[i].ID)
		if _, err := admin.Exec("UPDATE `"+cfg.DBName+"`.oncelink_tokens SET "+set+" WHERE id = ?", id[:]); err != nil {
			t.Fatal(err)
		}
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
		if !errors.Is(err, tc.want) || tc.want == nil && err != nil || r.Failures != tc.failures || r.Seq != 0 {
			t.Fatalf("Consume of the %s record: %v with %d failures, sequence %d; want %v with %d, sequence 0",
				tc.name, err, r.Failures, r.Seq, tc.want, tc.failures)
		}
	}
	if n, err := s.Hit(ctx, "up", time.Minute, time.Now()); err != nil || n != 1 {
		t.Fatalf("Hit = %d, %v; want 1", n, err)
	}
}

// TestMigrateSequence: tables at version 2 have no sequence. Until Migrate
// the calls that need it are no store of this version and say why; after
// it, the records from before have sequence number 0, records inserted
// after are numbered, and a watermark by the sequence covers both, and
// none inserted after it.
func TestMigrateSequence(t *testing.T) {
	admin := adminDB(t)
	s, cfg := newStore(t, admin, false)
	ctx := context.Background()
	if err := mysqlstore.MigrateTo(ctx, s, 2); err != nil {
		t.Fatalf("Migrate to version 2: %v", err)
	}
	before, beforeReqs := storetest.Tokens(t, 2, "v2")
	insertAsBefore(t, admin, cfg.DBName, before)
	refused, _ := storetest.Tokens(t, 2, "v2")
	unconfirmed := beforeReqs[0]
	unconfirmed.Confirmation = store.Unconfirmed
	calls := map[string]func() error{
		"Ping":         func() error { return s.Ping(ctx) },
		"Insert one":   func() error { return s.Insert(ctx, refused[:1]) },
		"Insert":       func() error { return s.Insert(ctx, refused) },
		"Get":          func() error { _, err := s.Get(ctx, before[0].ID); return err },
		"Consume":      func() error { _, err := s.Consume(ctx, beforeReqs[0]); return err },
		"Peek":         func() error { _, err := s.Peek(ctx, unconfirmed); return err },
		"Records":      func() error { _, err := s.Records(ctx, store.RecordQuery{Filter: store.Filter{All: true}}); return err },
		"Tally":        func() error { _, err := s.Tally(ctx, store.Filter{All: true}, time.Now()); return err },
		"Marks":        func() error { _, err := s.Marks(ctx); return err },
		"WatermarkNow": func() error { _, err := s.WatermarkNow(ctx, ""); return err },
	}
	for name, call := range calls {
		wantNoStore(t, name+" at version 2", call(), "call Migrate")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for _, r := range before {
		if g, err := s.Get(ctx, r.ID); err != nil || g.Seq != 0 {
			t.Fatalf("a record from version 2: sequence %d, %v; want 0", g.Seq, err)
		}
	}
	later, laterReqs := storetest.Tokens(t, 2, "v3")
	if err := s.Insert(ctx, later); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Get(ctx, later[0].ID)
	b, _ := s.Get(ctx, later[1].ID)
	if a.Seq <= 0 || a.Seq != b.Seq {
		t.Fatalf("the records of one Insert have sequence numbers %d and %d, want one number above 0", a.Seq, b.Seq)
	}
	m, err := s.WatermarkNow(ctx, "")
	if err != nil || m.Seq <= a.Seq {
		t.Fatalf("WatermarkNow = %+v, %v; want a number above %d", m, err, a.Seq)
	}
	after, afterReqs := storetest.Tokens(t, 1, "v3")
	if err := s.Insert(ctx, after); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  store.ConsumeRequest
		want error
	}{
		{"from version 2", beforeReqs[1], store.ErrRevoked},
		{"inserted before the watermark", laterReqs[0], store.ErrRevoked},
		{"inserted after the watermark", afterReqs[0], nil},
	} {
		if _, err := s.Consume(ctx, tc.req); !errors.Is(err, tc.want) || tc.want == nil && err != nil {
			t.Fatalf("Consume of a record %s: %v, want %v", tc.name, err, tc.want)
		}
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
		"WatermarkNow": func() error {
			_, err := s.WatermarkNow(ctx, "")
			return err
		}(),
		"Tally": func() error {
			_, err := s.Tally(ctx, store.Filter{All: true}, time.Now())
			return err
		}(),
		"Batches": func() error {
			_, err := s.Batches(ctx, store.BatchQuery{})
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
