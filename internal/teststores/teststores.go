package teststores

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	neturl "net/url"
	"path/filepath"
	"testing"

	"database/sql"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/storeurl"
	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/postgresstore"
	"github.com/oncelink/oncelink/store/redisstore"
	"github.com/oncelink/oncelink/store/sqlitestore"
)

// Backend makes isolated stores of one kind.
type Backend struct {
	Name string
	// New returns a new, empty store, removed when the test ends. URL is a
	// store URL for the same store, for programs such as the CLI.
	New func(t testing.TB) (st store.Store, url string)
}

// All returns every backend.
func All() []Backend {
	return []Backend{
		{"memory", func(t testing.TB) (store.Store, string) { return memstore.New(), "" }},
		{"sqlite", SQLite},
		{"postgres", Postgres},
		{"mysql", MySQL},
		{"redis", Redis},
	}
}

// Durable returns the backends a separate process can reach: SQLite,
// PostgreSQL, MariaDB and Redis.
func Durable() []Backend { return All()[1:] }

func suffix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// SQLite opens a store in a new file in a temporary directory.
func SQLite(t testing.TB) (store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oncelink.db")
	st, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, "sqlite:" + path
}

// Postgres opens a store in a new schema, migrated, dropped at the end.
func Postgres(t testing.TB) (store.Store, string) {
	t.Helper()
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	schema := "oncelink_t_" + suffix(t)
	st, err := postgresstore.New(pool, postgresstore.WithSchema(schema))
	if err != nil {
		pool.Close()
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		pool.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		pool.Close()
	})
	return st, withParam(url, "oncelink_schema", schema)
}

// MySQL opens a store in a new MariaDB database, migrated, dropped at the
// end.
func MySQL(t testing.TB) (store.Store, string) {
	t.Helper()
	url := testenv.MySQLURL(t)
	cfg, _, err := storeurl.MySQLConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin := sql.OpenDB(connector)
	name := "oncelink_t_" + suffix(t)
	if _, err := admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4"); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		admin.Close()
	})
	cfg.DBName = name
	st, err := mysqlstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return st, u.String()
}

// Redis opens a store under a new key prefix, whose keys are deleted at the
// end.
func Redis(t testing.TB) (store.Store, string) {
	t.Helper()
	url := testenv.RedisURL(t)
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opt)
	prefix := "oncelink-t-" + suffix(t)
	st, err := redisstore.New(context.Background(), client, redisstore.WithPrefix(prefix))
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, "{"+prefix+"}*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				client.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			client.Unlink(ctx, keys...)
		}
		client.Close()
	})
	return st, withParam(url, "oncelink_prefix", prefix)
}

func withParam(url, name, value string) string {
	sep := "?"
	for i := 0; i < len(url); i++ {
		if url[i] == '?' {
			sep = "&"
			break
		}
	}
	return url + sep + name + "=" + value
}
