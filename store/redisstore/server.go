package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

// ErrUnsafeServer is returned by [New] when the server's settings could
// lose holds and watermarks or bring back consumed and revoked links, or
// when they cannot be read.
var ErrUnsafeServer = errors.New("redis: unsafe server settings")

// serverCheck reads the server's settings again every so often, within
// the Consume or Peek that finds the check due, and keeps the verdict: an
// unsafe server turns consumes to refusing until it is safe again.
type serverCheck struct {
	cfg   config // the settings that decide what is safe
	every time.Duration

	mu      sync.Mutex
	next    time.Time
	verdict error
}

func newServerCheck(cfg *config) serverCheck {
	return serverCheck{cfg: *cfg, every: cfg.checkEvery, next: time.Now().Add(cfg.checkEvery)}
}

// ok returns the verdict on the server's settings, reading them again
// first when the check is due. Without the check (WithoutPersistenceCheck)
// it is always nil.
func (c *serverCheck) ok(ctx context.Context, client goredis.UniversalClient) error {
	if c.cfg.skipCheck {
		return nil
	}
	c.mu.Lock()
	due := !time.Now().Before(c.next)
	if due {
		c.next = time.Now().Add(c.every)
	}
	verdict := c.verdict
	c.mu.Unlock()
	if !due {
		return verdict
	}
	err := checkServer(ctx, client, &c.cfg)
	if err != nil && !errors.Is(err, ErrUnsafeServer) {
		// The server did not answer: this call fails, the verdict stands,
		// and the next call checks again.
		c.mu.Lock()
		c.next = time.Time{}
		c.mu.Unlock()
		return err
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	c.mu.Lock()
	c.verdict = err
	c.mu.Unlock()
	return err
}

// checkServer refuses settings under which a restart or memory pressure
// could undo a consumption, a revocation, a hold or a watermark.
func checkServer(ctx context.Context, c goredis.UniversalClient, cfg *config) error {
	get := func(name string) (string, error) {
		m, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			var rerr goredis.Error
			if errors.As(err, &rerr) && !goredis.HasErrorPrefix(err, "LOADING") {
				return "", fmt.Errorf("%w: cannot read %s (%v): allow CONFIG GET, or check the settings yourself and pass WithoutPersistenceCheck", ErrUnsafeServer, name, err)
			}
			return "", unavailable("config get "+name, err)
		}
		return m[name], nil
	}
	aof, err := get("appendonly")
	if err != nil {
		return err
	}
	save, err := get("save")
	if err != nil {
		return err
	}
	if aof != "yes" && strings.TrimSpace(save) != "" && !cfg.allowSnapshot {
		return fmt.Errorf("%w: the server saves RDB snapshots without appendonly: a restart would reload an older snapshot and make consumed and revoked links usable again; set appendonly yes (appendfsync always), or turn persistence off, or pass UnsafeAllowSnapshotPersistence", ErrUnsafeServer)
	}
	policy, err := get("maxmemory-policy")
	if err != nil {
		return err
	}
	if strings.HasPrefix(policy, "allkeys-") && !cfg.allowEviction {
		return fmt.Errorf("%w: maxmemory-policy %s may evict the key that holds freezes and watermarks; use noeviction or a volatile-* policy, or pass UnsafeAllowEviction", ErrUnsafeServer, policy)
	}
	return nil
}
