package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// Names of the environment variables.
const (
	PostgresEnv = "ONCELINK_TEST_POSTGRES_URL"
	RedisEnv    = "ONCELINK_TEST_REDIS_URL"
	MySQLEnv    = "ONCELINK_TEST_MYSQL_URL"
	RequireEnv  = "ONCELINK_REQUIRE_SERVICES"
)

// The servers' default loopback addresses, used when a variable is unset
// and the server answers there.
const (
	PostgresDefault = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	RedisDefault    = "redis://127.0.0.1:6379/0"
	MySQLDefault    = "mysql://root@127.0.0.1:3306/test"
)

// probeTimeout bounds the one probe of a default address a test process
// makes: connecting, authenticating and one ping.
const probeTimeout = 2 * time.Second

// Required reports whether the services are required (ONCELINK_REQUIRE_SERVICES=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// PostgresURL returns the PostgreSQL URL for tests: the variable's value,
// else the default address if a server answers there. Otherwise it skips
// (fails when services are required).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return postgresServer.url(t)
}

// RedisURL returns the Redis URL for tests, as [PostgresURL] does.
func RedisURL(t testing.TB) string {
	t.Helper()
	return redisServer.url(t)
}

// MySQLURL returns the MariaDB (or MySQL) URL for tests, in the form
// mysql://USER[:PASSWORD]@HOST:PORT/DATABASE, as [PostgresURL] does.
func MySQLURL(t testing.TB) string {
	t.Helper()
	return mysqlServer.url(t)
}

// server is one kind of server and what this process learnt of its default
// address.
type server struct {
	name     string
	env      string
	fallback string
	addr     string
	ping     func(ctx context.Context) error

	probe sync.Once
	err   error // of the probe; nil when the default address answers
	told  sync.Once
}

var (
	postgresServer = &server{name: "PostgreSQL", env: PostgresEnv, fallback: PostgresDefault, addr: "127.0.0.1:5432", ping: pingPostgres}
	redisServer    = &server{name: "Redis", env: RedisEnv, fallback: RedisDefault, addr: "127.0.0.1:6379", ping: pingRedis}
	mysqlServer    = &server{name: "MariaDB", env: MySQLEnv, fallback: MySQLDefault, addr: "127.0.0.1:3306", ping: pingMySQL}
)

func (s *server) url(t testing.TB) string {
	t.Helper()
	if v := os.Getenv(s.env); v != "" {
		return v
	}
	s.probe.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		s.err = s.ping(ctx)
	})
	if s.err == nil {
		return s.fallback
	}
	why := fmt.Sprintf("%s is unset and no %s answers at %s (%v)", s.env, s.name, s.addr, oneLine(s.err))
	if Required() {
		t.Fatalf("%s is required (%s=1), but %s", s.name, RequireEnv, why)
	}
	s.told.Do(func() {
		notify(fmt.Sprintf("oncelink: %s: skipping the %s tests: %s; see DEVELOPERS.md", packageDir(), s.name, why))
	})
	skipped()
	t.Skipf("skipping: %s; see DEVELOPERS.md", why)
	return ""
}

func pingPostgres(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(PostgresDefault)
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = probeTimeout
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

func pingRedis(ctx context.Context) error {
	opt, err := goredis.ParseURL(RedisDefault)
	if err != nil {
		return err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = probeTimeout, probeTimeout, probeTimeout
	opt.MaxRetries = -1
	c := goredis.NewClient(opt)
	defer c.Close()
	return c.Ping(ctx).Err()
}

func pingMySQL(ctx context.Context) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "tcp", "127.0.0.1:3306", "test"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = probeTimeout, probeTimeout, probeTimeout
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	return db.PingContext(ctx)
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// notify and skipped are tell and uncacheable, but for this package's own
// tests.
var (
	notify  = tell
	skipped = uncacheable
)

// tell writes a line where a person running go test sees it. go test shows
// a passing package's output only with -v, so the line goes to the
// controlling terminal when there is one, and to standard error (seen with
// -v, with -json, or when the package fails) when there is none.
func tell(line string) {
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if _, err := fmt.Fprintln(tty, line); err == nil {
			return
		}
	}
	fmt.Fprintln(os.Stderr, line)
}

// packageDir returns the directory of the package under test, relative to
// the module root: go test runs a package's tests in its directory.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return filepath.Base(os.Args[0])
	}
	root := moduleRoot(wd)
	if root == "" {
		return wd
	}
	rel, err := filepath.Rel(root, wd)
	if err != nil {
		return wd
	}
	return filepath.ToSlash(rel)
}

func moduleRoot(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// skipMarker is a file at the module root (ignored by git) that a test
// process rewrites and reads when it skips for want of a server.
const skipMarker = ".skipped-services"

// uncacheable keeps go test from caching this run's result. Its cache keys
// a result on the files the tests opened inside the module, and refuses to
// cache a run that read a file modified less than two seconds earlier: a
// skip for want of a server must not be replayed once the server answers.
// Where the module root is not writable (a read-only module cache), it does
// nothing.
func uncacheable() {
	wd, err := os.Getwd()
	if err != nil {
		return
	}
	root := moduleRoot(wd)
	if root == "" {
		return
	}
	path := filepath.Join(root, skipMarker)
	if err := os.WriteFile(path, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		return
	}
	if f, err := os.Open(path); err == nil {
		f.Close()
	}
}
