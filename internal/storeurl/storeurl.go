package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memory"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/postgres"
	redisstore "github.com/oncelink/oncelink/store/redis"
	"github.com/oncelink/oncelink/store/sqlite"
)

// ErrURL: the store URL is malformed or names an unknown kind of store.
var ErrURL = errors.New("store url")

// Options of [Open].
type Options struct {
	// Migrate applies the PostgreSQL and MariaDB migrations. SQLite always
	// migrates when opened; memory and Redis need none.
	Migrate bool
}

// Open opens the store raw names. close releases its connections.
func Open(ctx context.Context, raw string, o Options) (st store.Store, close func() error, err error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return nil, nil, fmt.Errorf("%w: expected sqlite:PATH, postgres://..., mysql://..., redis://... or memory:", ErrURL)
	}
	switch scheme {
	case "memory":
		return memory.New(), func() error { return nil }, nil
	case "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, nil, fmt.Errorf("%w: sqlite: needs a file path", ErrURL)
		}
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: malformed postgres URL", ErrURL)
		}
		q := u.Query()
		var opts []postgres.Option
		if schema := q.Get("oncelink_schema"); schema != "" {
			opts = append(opts, postgres.WithSchema(schema))
		}
		q.Del("oncelink_schema")
		u.RawQuery = q.Encode()
		pool, err := pgxpool.New(ctx, u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("%w: postgres: %v", ErrURL, redact(err, raw))
		}
		s, err := postgres.New(pool, opts...)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		if o.Migrate {
			if err := s.Migrate(ctx); err != nil {
				pool.Close()
				return nil, nil, err
			}
		}
		return s, func() error { pool.Close(); return nil }, nil
	case "mysql":
		cfg, opts, err := MySQLConfig(raw)
		if err != nil {
			return nil, nil, err
		}
		s, err := mysqlstore.Open(cfg, opts...)
		if err != nil {
			return nil, nil, err
		}
		if o.Migrate {
			if err := s.Migrate(ctx); err != nil {
				s.Close()
				return nil, nil, err
			}
		}
		return s, s.Close, nil
	case "redis", "rediss":
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
		u.RawQuery = q.Encode()
		ropt, err := goredis.ParseURL(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("%w: redis: %v", ErrURL, redact(err, raw))
		}
		client := goredis.NewClient(ropt)
		s, err := redisstore.New(ctx, client, opts...)
		if err != nil {
			client.Close()
			return nil, nil, err
		}
		return s, client.Close, nil
	}
	return nil, nil, fmt.Errorf("%w: unknown kind %q (sqlite, postgres, mysql, redis, memory)", ErrURL, scheme)
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
