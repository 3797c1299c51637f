package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Store       = (*Store)(nil)
	_ store.Pinger      = (*Store)(nil)
	_ store.Counters    = (*Store)(nil)
	_ store.Tallier     = (*Store)(nil)
	_ store.BatchLister = (*Store)(nil)
)

// Timeouts set on the connections when the configuration leaves them at
// zero: dialling, and reading or writing one packet. A call's context
// bounds it as a whole.
const (
	defaultDialTimeout = 5 * time.Second
	defaultIOTimeout   = 30 * time.Second
)

// Store is a [store.Store] in a MariaDB database. It is safe for concurrent
// use by any number of goroutines and processes. Call [Store.Close] when
// done.
type Store struct {
	db       *sql.DB
	database string
	prefix   string
	sql      statements

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared on first use, by SQL text
}

// Open returns a store in the database cfg names, with its own connection
// pool built from cfg. It does not touch the server: call [Store.Migrate]
// once to create or upgrade the tables.
//
// Open works on a copy of cfg and sets what the store relies on: parseTime
// with times in UTC, the utf8mb4 character set, and the dial, read and
// write timeouts (5s, 30s, 30s) where cfg leaves them at zero. cfg must name
// a database (DBName).
func Open(cfg *mysql.Config, opts ...Option) (*Store, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: mysqlstore: nil configuration", store.ErrInvalid)
	}
	c := defaults()
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: mysqlstore: nil option", store.ErrInvalid)
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	mc := cfg.Clone()
	if mc.DBName == "" {
		return nil, fmt.Errorf("%w: mysqlstore: the configuration names no database", store.ErrInvalid)
	}
	if v, ok := mc.Params["autocommit"]; ok && !slices.Contains([]string{"1", "true", "ON", "on"}, v) {
		return nil, fmt.Errorf("%w: mysqlstore: the store needs autocommit on; the configuration sets it to %q", store.ErrInvalid, v)
	}
	mc.ParseTime, mc.Loc = true, time.UTC
	if mc.Timeout == 0 {
		mc.Timeout = defaultDialTimeout
	}
	if mc.ReadTimeout == 0 {
		mc.ReadTimeout = defaultIOTimeout
	}
	if mc.WriteTimeout == 0 {
		mc.WriteTimeout = defaultIOTimeout
	}
	if err := mc.Apply(mysql.Charset("utf8mb4", "utf8mb4_bin")); err != nil {
		return nil, fmt.Errorf("%w: mysqlstore: %w", store.ErrInvalid, err)
	}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("%w: mysqlstore: %w", store.ErrInvalid, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(c.maxConns)
	db.SetMaxIdleConns(c.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	return &Store{db: db, database: mc.DBName, prefix: c.prefix, sql: prepare(c.prefix), stmts: map[string]*sql.Stmt{}}, nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	clear(s.stmts)
	s.mu.Unlock()
	return s.db.Close()
}

// stmt returns the statement for query, prepared on first use. The hot
// paths run prepared statements so that a call is one round trip (the
// driver otherwise prepares, executes and closes a statement for every
// call with arguments); database/sql prepares it again on each connection
// that has not seen it. The lock is not held while preparing, so that a
// call never waits beyond its own deadline for another's.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.stmts[query]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prior, ok := s.stmts[query]; ok {
		st.Close()
		return prior, nil
	}
	s.stmts[query] = st
	return st, nil
}

// MariaDB error numbers the store tells apart.
const (
	erDupEntry        = 1062
	erNoSuchTable     = 1146
	erSPDoesNotExist  = 1305
	erSPWrongNoOfArgs = 1318
	erBadDB           = 1049
	erBadField        = 1054
	erLockDeadlock    = 1213
	erUnknownSequence = 4091
)

// errOlderProcedures: a procedure returned fewer columns than this
// package reads.
var errOlderProcedures = errors.New("the procedures return fewer columns than this package reads")

func errNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// unavailable wraps a failure that is not a documented outcome. The
// driver's errors carry no query argument, so no hash leaks through them.
// A database, tables or procedures that are missing, or older than this
// package, are no store ([store.ErrNoStore]) as well.
func (s *Store) unavailable(op string, err error) error {
	switch n := errNumber(err); {
	case n == erBadDB:
		return fmt.Errorf("%w: %w: mysqlstore: %s: there is no database %q: %w", store.ErrUnavailable, store.ErrNoStore, op, s.database, err)
	case n == erNoSuchTable || n == erSPDoesNotExist || n == erUnknownSequence:
		return fmt.Errorf("%w: %w: mysqlstore: %s: the tables with prefix %q are not migrated (call Migrate): %w", store.ErrUnavailable, store.ErrNoStore, op, s.prefix, err)
	case n == erSPWrongNoOfArgs || n == erBadField || errors.Is(err, errOlderProcedures):
		return fmt.Errorf("%w: %w: mysqlstore: %s: the tables and procedures with prefix %q are older than this package (call Migrate): %w", store.ErrUnavailable, store.ErrNoStore, op, s.prefix, err)
	}
	return fmt.Errorf("%w: mysqlstore: %s: %w", store.ErrUnavailable, op, err)
}

// deadlockAttempts bounds how often an operation that InnoDB chose as a
// deadlock victim runs again. The victim's transaction was rolled back
// whole, so running it again is safe.
const deadlockAttempts = 3

// retry runs fn again, a bounded number of times, while InnoDB rolls it
// back as a deadlock victim.
func retry(ctx context.Context, fn func() error) error {
	var err error
	for range deadlockAttempts {
		if err = fn(); errNumber(err) != erLockDeadlock || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// Ping checks that the server answers and that the tables are migrated to
// the version this package expects. Missing or older tables are an error
// wrapping [store.ErrNoStore] and [store.ErrUnavailable].
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("ping", err)
	}
	var v int
	if err := s.db.QueryRowContext(ctx, s.sql.ping).Scan(&v); err != nil {
		return s.unavailable("ping", err)
	}
	if want := latestVersion(); v < want {
		return fmt.Errorf("%w: %w: mysqlstore: ping: the tables with prefix %q are at version %d, want %d (call Migrate)", store.ErrUnavailable, store.ErrNoStore, s.prefix, v, want)
	}
	return nil
}

// nullable stores an empty string as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// stateArg passes a state hash, or NULL when there is none.
func stateArg(st []byte) any {
	if st == nil {
		return nil
	}
	return st
}

// timeArg passes a time to the microsecond, or NULL for the zero time.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return store.Micro(t)
}
