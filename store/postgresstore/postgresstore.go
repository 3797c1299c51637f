package postgresstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Store    = (*Store)(nil)
	_ store.Pinger   = (*Store)(nil)
	_ store.Counters = (*Store)(nil)
)

// Store is a [store.Store] in a PostgreSQL schema. It is safe for concurrent
// use by any number of goroutines and processes.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	sql    statements
}

// New returns a store that uses pool and the schema named by the options,
// or the error of the first option given a bad value. It does not touch
// the database: call [Store.Migrate] once to create or upgrade the schema.
// The caller owns the pool and closes it.
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: postgres: nil pool", store.ErrInvalid)
	}
	c := defaults()
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	return &Store{pool: pool, schema: c.schema, sql: prepare(pgx.Identifier{c.schema}.Sanitize())}, nil
}

// unavailable wraps a failure that is not a documented outcome. The error
// of the driver never carries query arguments, so no hash leaks through it.
func (s *Store) unavailable(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000" || pe.Code == "42703") {
		return fmt.Errorf("%w: %w: postgres: %s: schema %q is not migrated (call Migrate): %w", store.ErrUnavailable, store.ErrNoStore, op, s.schema, err)
	}
	return fmt.Errorf("%w: postgres: %s: %w", store.ErrUnavailable, op, err)
}

// Ping checks that the server answers and that the schema is migrated to
// the version this package expects.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.pool.QueryRow(ctx, s.sql.ping).Scan(&v); err != nil {
		return s.unavailable("ping", err)
	}
	if want := latestVersion(); v < want {
		return fmt.Errorf("%w: %w: postgres: ping: schema %q is at version %d, want %d (call Migrate)", store.ErrUnavailable, store.ErrNoStore, s.schema, v, want)
	}
	return nil
}
