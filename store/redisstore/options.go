package redisstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Defaults of the options.
const (
	// DefaultPrefix names the keys of a store: every key starts with
	// "{oncelink}:".
	DefaultPrefix = "oncelink"
	// DefaultRetention is how long a record's key outlives the record's
	// expiry, so that consumed records and their sessions can still be
	// revoked and reported on for a day.
	DefaultRetention = 24 * time.Hour
	// DefaultServerCheckInterval is how often the store reads the server's
	// settings again after New ([WithServerCheckInterval]).
	DefaultServerCheckInterval = 10 * time.Second
)

// Option configures [New]. An option that is given a bad value makes New
// fail with an error wrapping [store.ErrInvalid].
type Option func(*config) error

type config struct {
	prefix        string
	retention     time.Duration
	allowSnapshot bool
	allowEviction bool
	skipCheck     bool
	checkEvery    time.Duration
	control       string // "create", "open" or "repair": see controlScript
	acks          int    // replicas that must confirm a consumption; acksAuto until New decides
	ackTimeout    time.Duration
}

func defaults() config {
	return config{prefix: DefaultPrefix, retention: DefaultRetention, checkEvery: DefaultServerCheckInterval, control: "create",
		acks: acksAuto, ackTimeout: DefaultReplicaAckTimeout}
}

// WithPrefix sets the prefix of every key; the store's keys all carry the
// hash tag "{prefix}", so that they live in one Redis Cluster slot. The
// prefix is 1 to 64 bytes without '{' or '}'. Default [DefaultPrefix].
func WithPrefix(p string) Option {
	return func(c *config) error {
		if p == "" || len(p) > 64 || strings.ContainsAny(p, "{}") {
			return fmt.Errorf("%w: redis: prefix must be 1 to 64 bytes without '{' or '}'", store.ErrInvalid)
		}
		c.prefix = p
		return nil
	}
}

// WithRetention sets how long a record's key outlives the record's expiry
// before Redis deletes it. 0 deletes it when the link expires. Default
// [DefaultRetention]. The ledger keeps issued and consumed entries whatever
// the retention, until [Store.Purge]. It must not be negative.
func WithRetention(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: redis: negative retention", store.ErrInvalid)
		}
		c.retention = d
		return nil
	}
}

// UnsafeAllowSnapshotPersistence lets [New] accept a server that persists
// with RDB snapshots but without the append-only file. Restarting such a
// server reloads an older snapshot, in which links consumed or revoked since
// were still outstanding: they become consumable again.
func UnsafeAllowSnapshotPersistence() Option {
	return func(c *config) error { c.allowSnapshot = true; return nil }
}

// UnsafeAllowEviction lets [New] accept a server whose maxmemory-policy may
// evict keys without an expiry (allkeys-*). Evicting the store's control
// hash would lift holds and watermarks.
func UnsafeAllowEviction() Option {
	return func(c *config) error { c.allowEviction = true; return nil }
}

// WithoutPersistenceCheck skips reading the server's settings at [New], for
// servers that do not allow CONFIG GET (managed Redis, ACLs). The operator
// then answers for them: appendonly yes and no allkeys-* eviction.
func WithoutPersistenceCheck() Option {
	return func(c *config) error { c.skipCheck = true; return nil }
}

// WithServerCheckInterval sets how often the store reads the server's
// persistence and eviction settings again, after [New]: a server whose
// settings became unsafe (CONFIG SET maxmemory-policy allkeys-lru, say)
// turns Consume and Peek to refusing until they are safe again. The check
// runs within a Consume or Peek that finds it due. Default
// [DefaultServerCheckInterval]; it must be positive.
func WithServerCheckInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: redis: the server check interval must be positive", store.ErrInvalid)
		}
		c.checkEvery = d
		return nil
	}
}

// MustExist makes [New] open only a store that is already there: a prefix
// under which no store was created is an error wrapping [store.ErrNoStore],
// and New creates nothing. Operators' tools use it, so that a mistyped
// prefix is an error rather than a new, empty store.
func MustExist() Option {
	return func(c *config) error { c.control = "open"; return nil }
}

// RepairControl lets [New] open a store whose control key is missing while
// it holds data (see [ErrDamaged]). The holds and watermarks that key held
// are lost, so New makes a new control key with a global sequence
// watermark: every link recorded before is refused. Place the holds again
// afterwards; links minted after the repair work.
func RepairControl() Option {
	return func(c *config) error { c.control = "repair"; return nil }
}
