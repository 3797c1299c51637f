package redisstore

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Store    = (*Store)(nil)
	_ store.Pinger   = (*Store)(nil)
	_ store.Counters = (*Store)(nil)
)

// Store is a [store.Store] in Redis. It is safe for concurrent use.
type Store struct {
	c          goredis.UniversalClient
	k          keys
	retention  int64 // milliseconds
	server     serverCheck
	acks       int // replicas that must confirm a consumption (replicas.go)
	ackTimeout time.Duration
}

// New returns a store that keeps its keys in client, which the caller owns
// and closes, or the error of the first option given a bad value. It reads the server's persistence and eviction settings (see
// [UnsafeAllowSnapshotPersistence], [UnsafeAllowEviction],
// [WithoutPersistenceCheck]) and loads the Lua scripts.
func New(ctx context.Context, client goredis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redis: nil client", store.ErrInvalid)
	}
	cfg := defaults()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("new", err)
	}
	if !cfg.skipCheck {
		if err := checkServer(ctx, client, &cfg); err != nil {
			return nil, err
		}
	}
	for _, sc := range scripts {
		if err := sc.Load(ctx, client).Err(); err != nil {
			return nil, unavailable("load scripts", err)
		}
	}
	k := newKeys(cfg.prefix)
	if err := resolveAcks(ctx, client, &k, &cfg); err != nil {
		return nil, err
	}
	s := build(client, &cfg)
	if err := s.openControl(ctx, cfg.control); err != nil {
		return nil, err
	}
	return s, nil
}

func build(client goredis.UniversalClient, cfg *config) *Store {
	return &Store{
		c:          client,
		k:          newKeys(cfg.prefix),
		retention:  cfg.retention.Milliseconds(),
		server:     newServerCheck(cfg),
		acks:       cfg.acks,
		ackTimeout: cfg.ackTimeout,
	}
}

// Ping implements [store.Pinger].
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis: %s: %w", store.ErrUnavailable, op, err)
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return unavailable("context", err)
	}
	return nil
}
