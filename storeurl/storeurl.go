package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	internal "github.com/oncelink/oncelink/internal/storeurl"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/postgresstore"
	"github.com/oncelink/oncelink/store/redisstore"
	"github.com/oncelink/oncelink/store/sqlitestore"
)

// ErrURL: the store URL is malformed or names an unknown kind of store.
var ErrURL = internal.ErrURL

// Timeouts of the clients Open builds, unless the URL sets its own
// (connect_timeout for PostgreSQL; dial_timeout, read_timeout,
// write_timeout for Redis). The MariaDB store bounds its own connections
// (timeout, readTimeout and writeTimeout in the URL set them).
const (
	connectTimeout = 5 * time.Second
	readTimeout    = 3 * time.Second
)

// An Option qualifies [Open].
type Option func(*options) error

type options struct {
	create, repair, memory bool
	wait                   time.Duration
}

// WithCreate makes a store where there is none, and brings an older one up
// to date: the SQLite file and its schema, the PostgreSQL and MariaDB
// migrations, the Redis control key. Without it, Open opens only a store
// that is there with every migration applied, creates and writes nothing,
// and fails with an error wrapping [store.ErrNoStore] otherwise.
func WithCreate() Option {
	return func(o *options) error {
		o.create = true
		return nil
	}
}

// WithRepair reopens a Redis store whose control key was lost: every link
// recorded before is revoked (the Redis store's RepairControl). Open refuses
// it for any other store.
func WithRepair() Option {
	return func(o *options) error {
		o.repair = true
		return nil
	}
}

// WithMemory accepts memory:, a store inside this process, which only tests
// can use: no other process, and no later run, can reach it.
func WithMemory() Option {
	return func(o *options) error {
		o.memory = true
		return nil
	}
}

// WithWaitLoading sets how long Open tries again while the server says it
// is starting up or loading its data (Redis LOADING, PostgreSQL 57P03), up
// to an hour. Without it Open fails at once.
func WithWaitLoading(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 || d > time.Hour {
			return fmt.Errorf("%w: waiting %v, outside 0 to 1h", ErrURL, d)
		}
		o.wait = d
		return nil
	}
}

// Open opens the store raw names; see the package documentation for the
// URLs it takes. close releases the store's connections.
func Open(ctx context.Context, raw string, opts ...Option) (st store.Store, close func() error, err error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			return nil, nil, fmt.Errorf("%w: nil option", ErrURL)
		}
		if err := opt(&o); err != nil {
			return nil, nil, err
		}
	}
	deadline := time.Now().Add(o.wait)
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

func open(ctx context.Context, raw string, o options) (store.Store, func() error, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return nil, nil, fmt.Errorf("%w: expected sqlite:PATH, postgres://..., mysql://... or redis://...", ErrURL)
	}
	if o.repair && !strings.HasPrefix(scheme, "redis") {
		return nil, nil, fmt.Errorf("%w: only a Redis store can be repaired", ErrURL)
	}
	switch scheme {
	case "memory":
		if !o.memory {
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
	case "redis+cluster", "rediss+cluster":
		return openRedisCluster(ctx, raw, o)
	}
	return nil, nil, fmt.Errorf("%w: unknown kind %q (sqlite, postgres, mysql, redis, redis+cluster)", ErrURL, scheme)
}

// openMySQL opens a MariaDB store: see [internal.MySQLConfig] for the URL.
func openMySQL(ctx context.Context, raw string, o options) (store.Store, func() error, error) {
	cfg, opts, err := internal.MySQLConfig(raw)
	if err != nil {
		return nil, nil, err
	}
	// The URL's oncelink_max_conns, if any, comes later and wins.
	opts = append([]mysqlstore.Option{mysqlstore.WithMaxConns(PoolSize())}, opts...)
	s, err := mysqlstore.Open(cfg, opts...)
	if err != nil {
		return nil, nil, err
	}
	if o.create {
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

func openSQLite(ctx context.Context, rest string, o options) (store.Store, func() error, error) {
	path := strings.TrimPrefix(rest, "//")
	if path == "" {
		return nil, nil, fmt.Errorf("%w: sqlite: needs a file path", ErrURL)
	}
	var opts []sqlitestore.Option
	if !o.create {
		opts = append(opts, sqlitestore.MustExist())
	}
	s, err := sqlitestore.Open(ctx, path, opts...)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}

// PoolSize is the number of connections a PostgreSQL or MariaDB store
// opened by [Open] keeps at most, unless its URL says otherwise
// (pool_max_conns for PostgreSQL, oncelink_max_conns for MariaDB): four
// per core ([runtime.GOMAXPROCS]), at least 16. A consume spends most of
// its time waiting for the server's commit, not on a core, so a pool of
// one connection per core leaves concurrent logins queuing for a
// connection while the server idles (measured with 32 concurrent
// consumers on two cores: 89 consumes/s with the 4 connections pgxpool
// gives by default, 237/s with 32). Each process opens at most this many,
// so size the server's connection limit for every process that shares it.
func PoolSize() int { return max(16, 4*runtime.GOMAXPROCS(0)) }

// postgresConfig parses a postgres URL and its oncelink_schema parameter,
// and sets a connect timeout and the pool's size ([PoolSize]) unless the
// URL has its own.
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
		q.Set("connect_timeout", fmt.Sprint(int(connectTimeout.Seconds())))
	}
	if !q.Has("pool_max_conns") {
		q.Set("pool_max_conns", fmt.Sprint(PoolSize()))
	}
	u.RawQuery = q.Encode()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: postgres: %v", ErrURL, internal.Redact(err, raw))
	}
	return cfg, opts, nil
}

func openPostgres(ctx context.Context, raw string, o options) (store.Store, func() error, error) {
	cfg, opts, err := postgresConfig(raw)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: postgres: %v", ErrURL, internal.Redact(err, raw))
	}
	s, err := postgresstore.New(pool, opts...)
	if err == nil {
		if o.create {
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
	for name, d := range map[string]time.Duration{"dial_timeout": connectTimeout, "read_timeout": readTimeout, "write_timeout": readTimeout} {
		if !q.Has(name) {
			q.Set(name, d.String())
		}
	}
	u.RawQuery = q.Encode()
	ropt, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: redis: %v", ErrURL, internal.Redact(err, raw))
	}
	ropt.ContextTimeoutEnabled = true
	return ropt, opts, nil
}

func openRedis(ctx context.Context, raw string, o options) (store.Store, func() error, error) {
	ropt, opts, err := redisOptions(raw)
	if err != nil {
		return nil, nil, err
	}
	return newRedis(ctx, goredis.NewClient(ropt), opts, o)
}

// redisClusterOptions parses a Redis Cluster URL:
// redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][/][?PARAMS],
// or rediss+cluster:// for TLS. The hosts are seed nodes: the client
// learns the others from them. A cluster has one database, so the path
// names none (or 0). The parameters are those of redisOptions and of
// go-redis's cluster URLs (addr=HOST:PORT adds a seed node too).
func redisClusterOptions(raw string) (*goredis.ClusterOptions, []redisstore.Option, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	hostsEnd := strings.IndexAny(rest, "/?")
	if hostsEnd < 0 {
		hostsEnd = len(rest)
	}
	userinfo, hosts := "", rest[:hostsEnd]
	if at := strings.LastIndex(hosts, "@"); at >= 0 {
		userinfo, hosts = hosts[:at+1], hosts[at+1:]
	}
	seeds := strings.Split(hosts, ",")
	for _, h := range seeds {
		if _, _, err := net.SplitHostPort(h); err != nil || h == "" {
			return nil, nil, fmt.Errorf("%w: redis+cluster: each node must be HOST:PORT, separated by commas", ErrURL)
		}
	}
	path, query, _ := strings.Cut(rest[hostsEnd:], "?")
	if path != "" && path != "/" && path != "/0" {
		return nil, nil, fmt.Errorf("%w: redis+cluster: a cluster has only database 0", ErrURL)
	}
	u, err := url.Parse(strings.TrimSuffix(scheme, "+cluster") + "://" + userinfo + seeds[0] + "?" + query)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: malformed redis+cluster URL", ErrURL)
	}
	q := u.Query()
	var opts []redisstore.Option
	if prefix := q.Get("oncelink_prefix"); prefix != "" {
		opts = append(opts, redisstore.WithPrefix(prefix))
	}
	q.Del("oncelink_prefix")
	for _, h := range seeds[1:] {
		q.Add("addr", h)
	}
	for name, d := range map[string]time.Duration{"dial_timeout": connectTimeout, "read_timeout": readTimeout, "write_timeout": readTimeout} {
		if !q.Has(name) {
			q.Set(name, d.String())
		}
	}
	u.RawQuery = q.Encode()
	copt, err := goredis.ParseClusterURL(u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: redis+cluster: %v", ErrURL, internal.Redact(err, u.String()))
	}
	copt.ContextTimeoutEnabled = true
	return copt, opts, nil
}

func openRedisCluster(ctx context.Context, raw string, o options) (store.Store, func() error, error) {
	copt, opts, err := redisClusterOptions(raw)
	if err != nil {
		return nil, nil, err
	}
	return newRedis(ctx, goredis.NewClusterClient(copt), opts, o)
}

// newRedis opens the Redis store on client, closing the client if it
// cannot.
func newRedis(ctx context.Context, client goredis.UniversalClient, opts []redisstore.Option, o options) (store.Store, func() error, error) {
	switch {
	case o.repair:
		opts = append(opts, redisstore.RepairControl())
	case !o.create:
		opts = append(opts, redisstore.MustExist())
	}
	s, err := redisstore.New(ctx, client, opts...)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return s, client.Close, nil
}

// Redact returns raw with any password replaced, for display.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
