package sqlitestore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/sqlitestore"
)

// TestMustExist: with MustExist, Open opens a store that is there and
// nothing else, and writes nothing to what it refuses.
func TestMustExist(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "oncelink.db")
	open(t, good) // creates it

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Files of the earlier schemas: the first, and the first two (the
	// counters), each with a link minted before the store had a sequence.
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(names) < 3 {
		t.Fatalf("migrations: %v %v", names, err)
	}
	var olds []string
	var reqs []store.ConsumeRequest
	for v := 1; v < len(names); v++ {
		path := filepath.Join(dir, fmt.Sprintf("old%d.db", v))
		legacy, req := token(t, "legacy")
		db, _ = sql.Open("sqlite", path)
		for _, name := range names[:v] {
			body, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(string(body)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		for _, q := range []string{fmt.Sprintf("PRAGMA user_version = %d", v), "PRAGMA journal_mode = WAL"} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		id, _ := store.ParseID(legacy.ID)
		if _, err := db.Exec(`INSERT INTO tokens (id, member, purpose, batch, secret_hash, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id[:], legacy.Member, legacy.Purpose, legacy.Batch, legacy.SecretHash[:], legacy.IssuedAt.UnixMicro(), legacy.ExpiresAt.UnixMicro()); err != nil {
			t.Fatal(err)
		}
		db.Close()
		olds, reqs = append(olds, path), append(reqs, req)
	}
	old := olds[0]

	cases := []struct {
		name    string
		path    string
		wantErr error
	}{
		{"a store", good, nil},
		{"no file", filepath.Join(dir, "onceink.db"), store.ErrNoStore},
		{"no directory", filepath.Join(dir, "nowhere", "oncelink.db"), store.ErrNoStore},
		{"a directory", dir, store.ErrNoStore},
		{"an empty file", empty, store.ErrNoStore},
		{"another program's database", foreign, store.ErrNoStore},
		{"an older schema", old, store.ErrNoStore},
		{"the schema before the sequence", olds[len(olds)-1], store.ErrNoStore},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.Stat(tc.path)
			s, err := sqlitestore.Open(ctx, tc.path, sqlitestore.MustExist())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Open: %v, want %v", err, tc.wantErr)
			}
			if err == nil {
				s.Close()
				return
			}
			after, statErr := os.Stat(tc.path)
			switch {
			case before == nil && statErr == nil:
				t.Fatalf("Open created %s", tc.path)
			case before != nil && (after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime())):
				t.Fatalf("Open wrote to %s", tc.path)
			}
		})
	}
	// Without MustExist, Open migrates each older file forward; a watermark
	// taken now covers the links recorded before the migration, and the
	// counters work.
	for i, path := range olds {
		s := open(t, path)
		open(t, path, sqlitestore.MustExist())
		if _, err := s.Peek(ctx, reqs[i]); err != nil {
			t.Fatalf("%s: the link of an earlier schema: %v", path, err)
		}
		if _, err := s.WatermarkNow(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Peek(ctx, reqs[i]); !errors.Is(err, store.ErrRevoked) {
			t.Fatalf("%s: the link of an earlier schema after WatermarkNow: %v", path, err)
		}
		if n, err := s.Hit(ctx, "old/schema", time.Minute, time.Now()); err != nil || n != 1 {
			t.Fatalf("%s: Hit = %d, %v", path, n, err)
		}
	}
}
