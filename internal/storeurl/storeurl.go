package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memory"
	"github.com/oncelink/oncelink/store/postgres"
	redisstore "github.com/oncelink/oncelink/store/redis"
	"github.com/oncelink/oncelink/store/sqlite"
)

// ErrURL: the store URL is malformed or names an unknown kind of store.
var ErrURL = errors.New("store url")

// Options of [Open].
type Options struct {
	// Migrate applies the PostgreSQL migrations. SQLite always migrates
	// when opened; memory and Redis need none.
	Migrate bool
}

// Open opens the store raw names. close releases its connections.
func Open(ctx context.Context, raw string, o Options) (st store.Store, close func() error, err error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return nil, nil, fmt.Errorf("%w: expected sqlite:PATH, postgres://..., redis://... or memory:", ErrURL)
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
	return nil, nil, fmt.Errorf("%w: unknown kind %q (sqlite, postgres, redis, memory)", ErrURL, scheme)
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
