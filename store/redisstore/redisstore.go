package redisstore

import (
	"context"
	"fmt"
	"strings"

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
	c         goredis.UniversalClient
	k         keys
	retention int64 // milliseconds
	server    serverCheck
}

// New returns a store that keeps its keys in client, which the caller owns
// and closes. It reads the server's persistence and eviction settings (see
// [UnsafeAllowSnapshotPersistence], [UnsafeAllowEviction],
// [WithoutPersistenceCheck]) and loads the Lua scripts.
func New(ctx context.Context, client goredis.UniversalClient, opts ...Option) (*Store, error) {
	cfg := config{prefix: DefaultPrefix, retention: DefaultRetention, checkEvery: DefaultServerCheckInterval, control: "create"}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case client == nil:
		return nil, fmt.Errorf("%w: redis: nil client", store.ErrInvalid)
	case cfg.prefix == "" || len(cfg.prefix) > 64 || strings.ContainsAny(cfg.prefix, "{}"):
		return nil, fmt.Errorf("%w: redis: prefix must be 1 to 64 bytes without '{' or '}'", store.ErrInvalid)
	case cfg.retention < 0:
		return nil, fmt.Errorf("%w: redis: negative retention", store.ErrInvalid)
	case cfg.checkEvery <= 0:
		return nil, fmt.Errorf("%w: redis: the server check interval must be positive", store.ErrInvalid)
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
	s := build(client, &cfg)
	if err := s.openControl(ctx, cfg.control); err != nil {
		return nil, err
	}
	return s, nil
}

func build(client goredis.UniversalClient, cfg *config) *Store {
	return &Store{
		c:         client,
		k:         newKeys(cfg.prefix),
		retention: cfg.retention.Milliseconds(),
		server:    newServerCheck(cfg),
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
