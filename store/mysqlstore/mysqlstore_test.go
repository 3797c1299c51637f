package mysqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/oncelink/oncelink/internal/storeurl"
	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// baseConfig returns the driver configuration of the test server.
func baseConfig(tb testing.TB) *mysql.Config {
	tb.Helper()
	cfg, _, err := storeurl.MySQLConfig(testenv.MySQLURL(tb))
	if err != nil {
		tb.Fatalf("%s: %v", testenv.MySQLEnv, err)
	}
	return cfg
}

// adminDB connects to the test server's own database, for creating and
// dropping the tests' databases and for looking at the server.
func adminDB(tb testing.TB) *sql.DB {
	tb.Helper()
	cfg := baseConfig(tb)
	cfg.ParseTime = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(4)
	tb.Cleanup(func() { db.Close() })
	return db
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

// newDatabase creates a database with a random name, dropped when the test
// ends, and returns the configuration that points at it.
func newDatabase(tb testing.TB, admin *sql.DB) *mysql.Config {
	tb.Helper()
	name := randomName(tb, "oncelink_t_")
	if _, err := admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4"); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg := baseConfig(tb)
	cfg.DBName = name
	return cfg
}

// newStore returns a store in a new database, migrated unless migrate is
// false, closed when the test ends.
func newStore(tb testing.TB, admin *sql.DB, migrate bool, opts ...mysqlstore.Option) (*mysqlstore.Store, *mysql.Config) {
	tb.Helper()
	cfg := newDatabase(tb, admin)
	s, err := mysqlstore.Open(cfg, opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if migrate {
		if err := s.Migrate(context.Background()); err != nil {
			tb.Fatalf("Migrate: %v", err)
		}
	}
	return s, cfg
}

func TestConformance(t *testing.T) {
	admin := adminDB(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, admin, true)
		return s
	})
}

func TestOpen(t *testing.T) {
	cfg := mysql.NewConfig()
	cfg.Addr, cfg.DBName = "127.0.0.1:1", "none"
	noDB := mysql.NewConfig()
	noAutocommit := cfg.Clone()
	noAutocommit.Params = map[string]string{"autocommit": "0"}
	tests := []struct {
		name    string
		cfg     *mysql.Config
		opts    []mysqlstore.Option
		wantErr bool
	}{
		{"defaults", cfg, nil, false},
		{"prefix", cfg, []mysqlstore.Option{mysqlstore.WithTablePrefix("site2_")}, false},
		{"no prefix", cfg, []mysqlstore.Option{mysqlstore.WithTablePrefix("")}, false},
		{"upper-case prefix", cfg, []mysqlstore.Option{mysqlstore.WithTablePrefix("Oncelink_")}, true},
		{"prefix with a quote", cfg, []mysqlstore.Option{mysqlstore.WithTablePrefix("a`b")}, true},
		{"prefix with a digit first", cfg, []mysqlstore.Option{mysqlstore.WithTablePrefix("1a")}, true},
		{"prefix too long", cfg, []mysqlstore.Option{mysqlstore.WithTablePrefix(strings.Repeat("a", 33))}, true},
		{"connections", cfg, []mysqlstore.Option{mysqlstore.WithMaxConns(4)}, false},
		{"no connections", cfg, []mysqlstore.Option{mysqlstore.WithMaxConns(0)}, true},
		{"too many connections", cfg, []mysqlstore.Option{mysqlstore.WithMaxConns(1001)}, true},
		{"nil option", cfg, []mysqlstore.Option{nil}, true},
		{"no database", noDB, nil, true},
		{"autocommit off", noAutocommit, nil, true},
		{"no configuration", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := mysqlstore.Open(tc.cfg, tc.opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Open error = %v, want ErrInvalid", err)
			}
			if s != nil {
				s.Close()
			}
		})
	}
	if cfg.ParseTime || cfg.Timeout != 0 {
		t.Fatal("Open changed the caller's configuration")
	}
}

// TestTablePrefix: two stores with different prefixes share one database
// and see nothing of each other. The second has no prefix at all, so its
// procedures are named check, consume and fail, which MariaDB reserves
// unquoted.
func TestTablePrefix(t *testing.T) {
	admin := adminDB(t)
	a, cfg := newStore(t, admin, true)
	b, err := mysqlstore.Open(cfg, mysqlstore.WithTablePrefix(""))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := b.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	recs, reqs := storetest.Tokens(t, 2, "p")
	if err := a.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := b.Insert(ctx, recs[1:]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Consume(ctx, reqs[1]); err != nil {
		t.Fatalf("Consume without a prefix: %v", err)
	}
	if _, err := b.Fail(ctx, recs[1].ID, time.Now(), 5); err != nil {
		t.Fatalf("Fail without a prefix: %v", err)
	}
	if err := b.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Count(ctx, store.Filter{All: true}); err != nil || n != 1 {
		t.Fatalf("the store without a prefix counts %d records (%v), want 1", n, err)
	}
	if _, err := a.Peek(ctx, reqs[1]); err != nil {
		t.Fatalf("Peek in the first store of a record consumed in the second: %v", err)
	}
	if holds, err := a.Holds(ctx); err != nil || len(holds) != 0 {
		t.Fatalf("the first prefix has holds %v (%v), want none", holds, err)
	}
}

// TestExactKeys: members, batches and purposes are compared byte for byte,
// in filters, holds, watermarks and a token's claims: no case or accent
// folding, and no trailing-space padding (MariaDB's utf8mb4_bin would let
// "ann" match "ann ").
func TestExactKeys(t *testing.T) {
	s, _ := newStore(t, adminDB(t), true)
	ctx := context.Background()
	now := store.Micro(time.Now())
	members := []string{"ann", "ann ", "Ann", "ånn", "ann\u0301", "😀 ann"}
	recs, reqs := storetest.Tokens(t, len(members), "")
	for i := range recs {
		recs[i].Member, recs[i].Batch, recs[i].Purpose = members[i], members[i], members[i]
		recs[i].Recipient = members[i] + "@example.org"
	}
	for i := range reqs {
		reqs[i].Member, reqs[i].Batch, reqs[i].Purpose = members[i], members[i], members[i]
	}
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// A token's claims are its record's byte for byte, or it is refused as
	// a forgery.
	for i := range reqs {
		other := members[(i+1)%len(members)]
		for _, edit := range []func(*store.ConsumeRequest){
			func(r *store.ConsumeRequest) { r.Member = other },
			func(r *store.ConsumeRequest) { r.Batch = other },
			func(r *store.ConsumeRequest) { r.Purpose = other },
		} {
			req := reqs[i]
			edit(&req)
			if _, err := s.Peek(ctx, req); !errors.Is(err, store.ErrSecret) {
				t.Fatalf("Peek of %q claiming %q: %v, want ErrSecret", members[i], other, err)
			}
		}
	}
	for i, r := range recs {
		g, err := s.Get(ctx, r.ID)
		if err != nil || g.Member != r.Member || g.Batch != r.Batch || g.Purpose != r.Purpose || g.Recipient != r.Recipient {
			t.Fatalf("Get %q: %+v, %v", members[i], g, err)
		}
	}
	for _, f := range []store.Filter{{Members: []string{"ann"}}, {Batches: []string{"ann"}}, {Purpose: "ann"}} {
		if n, err := s.Count(ctx, f); err != nil || n != 1 {
			t.Fatalf("Count(%+v) = %d, %v; want 1", f, n, err)
		}
	}
	for _, h := range []store.Hold{{Scope: store.ScopeMember, Key: "ann", Since: now}, {Scope: store.ScopeBatch, Key: "ann", Since: now}} {
		if err := s.Freeze(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Watermark(ctx, "ann", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		_, err := s.Peek(ctx, reqs[i])
		want := error(nil)
		if i == 0 {
			want = store.ErrRevoked
		}
		if !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("Peek of %q: %v, want %v", members[i], err, want)
		}
	}
	holds, err := s.Holds(ctx)
	if err != nil || len(holds) != 2 {
		t.Fatalf("Holds = %v, %v; want the two holds on \"ann\"", holds, err)
	}
}
