package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/postgresstore"
	"github.com/oncelink/oncelink/store/redisstore"
	"github.com/oncelink/oncelink/store/sqlitestore"
)

// ErrURL: the store URL is malformed or names an unknown kind of store.
var ErrURL = errors.New("store url")

// Timeouts of the clients Open builds, unless the URL sets its own
// (connect_timeout for PostgreSQL; dial_timeout, read_timeout,
// write_timeout for Redis). The MariaDB store bounds its own connections
// (timeout, readTimeout and writeTimeout in the URL set them).
const (
	ConnectTimeout = 5 * time.Second
	ReadTimeout    = 3 * time.Second
)

// Options of [Open].
type Options struct {
	// Create makes a store where there is none, and brings an older one up
	// to date: the SQLite file and its schema, the PostgreSQL and MariaDB
	// migrations, the Redis control key. Without it, Open opens only a store that is
	// there with every migration applied, creates and writes nothing, and
	// fails with an error wrapping [store.ErrNoStore] otherwise.
	Create bool
	// Repair reopens a Redis store whose control key was lost
	// ([redisstore.RepairControl]): every link recorded before is revoked.
	Repair bool
	// AllowMemory accepts memory:, a store inside this process, which only
	// tests can use: no other process, and no later run, can reach it.
	AllowMemory bool
	// WaitLoading is how long Open tries again while the server says it is
	// starting up or loading its data (Redis LOADING, PostgreSQL 57P03).
	WaitLoading time.Duration
}

// Open opens the store raw names. close releases its connections.
func Open(ctx context.Context, raw string, o Options) (st store.Store, close func() error, err error) {
	deadline := time.Now().Add(o.WaitLoading)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		st, close, err = open(ctx, raw, o)
		if err == nil || !loading(err) || time.Now().Add(wait).After(deadline) {
			return st, close, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(wait):
		}
	}
}

// loading reports whether err says that the server is starting up or
// loading its data, and will answer soon.
func loading(err error) bool {
	var pe *pgconn.PgError
	return goredis.HasErrorPrefix(err, "LOADING") || (errors.As(err, &pe) && pe.Code == "57P03")
}

func open(ctx context.Context, raw string, o Options) (store.Store, func() error, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return nil, nil, fmt.Errorf("%w: expected sqlite:PATH, postgres://..., mysql://... or redis://...", ErrURL)
	}
	switch scheme {
	case "memory":
		if !o.AllowMemory {
			return nil, nil, fmt.Errorf("%w: memory: is a store inside one process, which nothing else can reach; use sqlite:PATH, postgres://..., mysql://... or redis://...", ErrURL)
		}
		return memstore.New(), func() error { return nil }, nil
	case "sqlite":
		return openSQLite(ctx, rest, o)
	case "postgres", "postgresql":
		return openPostgres(ctx, raw, o)
	case "mysql":
		return openMySQL(ctx, raw, o)
	case "redis", "rediss":
		return openRedis(ctx, raw, o)
	}
	return nil, nil, fmt.Errorf("%w: unknown kind %q (sqlite, postgres, mysql, redis)", ErrURL, scheme)
}

// MySQLConfig turns a store URL of the form
// mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS] into the driver's
// configuration and the store's options: oncelink_prefix=P picks the table
// prefix, and every other parameter is one of the driver's
// (github.com/go-sql-driver/mysql), such as tls=true or timeout=5s. The port
// defaults to 3306.
func MySQLConfig(raw string) (*mysql.Config, []mysqlstore.Option, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "mysql" || u.Opaque != "" {
		return nil, nil, fmt.Errorf("%w: malformed mysql URL (mysql://USER@HOST:PORT/DATABASE)", ErrURL)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, nil, fmt.Errorf("%w: a mysql URL names one database: mysql://USER@HOST:PORT/DATABASE", ErrURL)
	}
	if u.Hostname() == "" {
		return nil, nil, fmt.Errorf("%w: a mysql URL names a host: mysql://USER@HOST:PORT/DATABASE", ErrURL)
	}
	q := u.Query()
	var opts []mysqlstore.Option
	if q.Has("oncelink_prefix") {
		opts = append(opts, mysqlstore.WithTablePrefix(q.Get("oncelink_prefix")))
	}
	q.Del("oncelink_prefix")
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	// The driver's own DSN form takes any password: it splits at the last
	// "@" before the address.
	var dsn strings.Builder
	if u.User != nil {
		dsn.WriteString(u.User.Username())
		if p, ok := u.User.Password(); ok {
			dsn.WriteString(":" + p)
		}
		dsn.WriteString("@")
	}
	dsn.WriteString("tcp(" + net.JoinHostPort(u.Hostname(), port) + ")/" + url.PathEscape(db))
	if len(q) > 0 {
		dsn.WriteString("?" + q.Encode())
	}
	cfg, err := mysql.ParseDSN(dsn.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: mysql: %v", ErrURL, redact(err, raw))
	}
	return cfg, opts, nil
}

func openMySQL(ctx context.Context, raw string, o Options) (store.Store, func() error, error) {
	cfg, opts, err := MySQLConfig(raw)
	if err != nil {
		return nil, nil, err
	}
	s, err := mysqlstore.Open(cfg, opts...)
	if err != nil {
		return nil, nil, err
	}
	if o.Create {
		err = s.Migrate(ctx)
	} else {
		err = s.Ping(ctx) // checks that the tables are there and current
	}
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, s.Close, nil
}

func openSQLite(ctx context.Context, rest string, o Options) (store.Store, func() error, error) {
	path := strings.TrimPrefix(rest, "//")
	if path == "" {
		return nil, nil, fmt.Errorf("%w: sqlite: needs a file path", ErrURL)
	}
	var opts []sqlitestore.Option
	if !o.Create {
		opts = append(opts, sqlitestore.MustExist())
	}
	s, err := sqlitestore.Open(ctx, path, opts...)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}

// postgresConfig parses a postgres URL and its oncelink_schema parameter,
// and sets a connect timeout unless the URL has one.
func postgresConfig(raw string) (*pgxpool.Config, []postgresstore.Option, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: malformed postgres URL", ErrURL)
	}
	q := u.Query()
	var opts []postgresstore.Option
	if schema := q.Get("oncelink_schema"); schema != "" {
		opts = append(opts, postgresstore.WithSchema(schema))
	}
	q.Del("oncelink_schema")
	if !q.Has("connect_timeout") {
		q.Set("connect_timeout", fmt.Sprint(int(ConnectTimeout.Seconds())))
	}
	u.RawQuery = q.Encode()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: postgres: %v", ErrURL, redact(err, raw))
	}
	return cfg, opts, nil
}

func openPostgres(ctx context.Context, raw string, o Options) (store.Store, func() error, error) {
	cfg, opts, err := postgresConfig(raw)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: postgres: %v", ErrURL, redact(err, raw))
	}
	s, err := postgresstore.New(pool, opts...)
	if err == nil {
		if o.Create {
			err = s.Migrate(ctx)
		} else {
			err = s.Ping(ctx) // checks that the schema is there and current
		}
	}
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return s, func() error { pool.Close(); return nil }, nil
}

// redisOptions parses a redis URL and its oncelink_prefix parameter. The
// client's calls are bounded by their context and by timeouts, which the
// URL may set (dial_timeout, read_timeout, write_timeout).
func redisOptions(raw string) (*goredis.Options, []redisstore.Option, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: malformed redis URL", ErrURL)
	}
	q := u.Query()
	var opts []redisstore.Option
	if prefix := q.Get("oncelink_prefix"); prefix != "" {
		opts = append(opts, redisstore.WithPrefix(prefix))
	}
	q.Del("oncelink_prefix")
	for name, d := range map[string]time.Duration{"dial_timeout": ConnectTimeout, "read_timeout": ReadTimeout, "write_timeout": ReadTimeout} {
		if !q.Has(name) {
			q.Set(name, d.String())
		}
	}
	u.RawQuery = q.Encode()
	ropt, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: redis: %v", ErrURL, redact(err, raw))
	}
	ropt.ContextTimeoutEnabled = true
	return ropt, opts, nil
}

func openRedis(ctx context.Context, raw string, o Options) (store.Store, func() error, error) {
	ropt, opts, err := redisOptions(raw)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case o.Repair:
		opts = append(opts, redisstore.RepairControl())
	case !o.Create:
		opts = append(opts, redisstore.MustExist())
	}
	client := goredis.NewClient(ropt)
	s, err := redisstore.New(ctx, client, opts...)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return s, client.Close, nil
}

// redact removes the URL and its password from a driver's error message.
func redact(err error, raw string) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, raw, "<url>")
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "<password>")
		}
	}
	return msg
}

// Redact returns raw with any password replaced, for display.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
