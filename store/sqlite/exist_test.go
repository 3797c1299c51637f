package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/sqlite"
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
	// A file of the first schema, with a link minted before the store had
	// a sequence.
	old := filepath.Join(dir, "old.db")
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	legacy, req := token(t, "legacy")
	db, _ = sql.Open("sqlite", old)
	for _, q := range []string{string(v1), "PRAGMA user_version = 1", "PRAGMA journal_mode = WAL"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	id, _ := store.ParseID(legacy.ID)
	if _, err := db.Exec(`INSERT INTO tokens (id, member, purpose, secret_hash, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id[:], legacy.Member, legacy.Purpose, legacy.SecretHash[:], legacy.IssuedAt.UnixMicro(), legacy.ExpiresAt.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	db.Close()

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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.Stat(tc.path)
			s, err := sqlite.Open(ctx, tc.path, sqlite.MustExist())
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
	// Without MustExist, Open migrates the older file forward; a watermark
	// taken now covers the links recorded before the migration.
	s := open(t, old)
	open(t, old, sqlite.MustExist())
	if _, err := s.Peek(ctx, req); err != nil {
		t.Fatalf("the link of the first schema: %v", err)
	}
	if _, err := s.WatermarkNow(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(ctx, req); !errors.Is(err, store.ErrRevoked) {
		t.Fatalf("the link of the first schema after WatermarkNow: %v", err)
	}
}
