package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

// Redis replicates asynchronously: a master acknowledges a write before
// its replicas have it, and a replica that takes over after the master
// failed lacks what it had not received. A consumption lost that way makes
// a used link consumable again. With replica acknowledgements, Consume
// sends WAIT after its script on the same connection, in the same round
// trip, and accepts a link only when enough replicas confirmed the
// consumption; otherwise it refuses (the link stays consumed on the
// master, and is lost or kept with it).

// ErrNotReplicated: Consume consumed the link on the master, but fewer
// replicas than [WithReplicaAcks] asks for confirmed it in time, so a
// failover could undo it. The consumption is refused (the error wraps
// [store.ErrUnavailable] too); the member asks for a new link.
var ErrNotReplicated = errors.New("redis: the consumption was not confirmed by a replica")

// DefaultReplicaAckTimeout is how long Consume waits for the replicas'
// confirmation when the store requires it without [WithReplicaAcks].
const DefaultReplicaAckTimeout = 100 * time.Millisecond

// acksAuto is config.acks before New decided it (see resolveAcks).
const acksAuto = -1

// WithReplicaAcks makes Consume accept a link only once n replicas (1 to
// 16) confirmed its consumption, waiting at most timeout (positive) for
// them. Default: one replica, [DefaultReplicaAckTimeout], when the master
// that holds the store has a replica connected at [New]; none otherwise.
// It needs a [goredis.Client] (also a Sentinel failover client) or a
// [goredis.ClusterClient].
func WithReplicaAcks(n int, timeout time.Duration) Option {
	return func(c *config) error {
		if n < 1 || n > 16 || timeout <= 0 {
			return fmt.Errorf("%w: redis: replica acknowledgements need 1 to 16 replicas and a positive timeout", store.ErrInvalid)
		}
		c.acks, c.ackTimeout = n, timeout
		return nil
	}
}

// UnsafeWithoutReplicaAcks makes Consume accept a link as soon as the
// master consumed it, even when the master has replicas: a failover right
// after can lose the consumption and make the link consumable again.
func UnsafeWithoutReplicaAcks() Option {
	return func(c *config) error { c.acks = 0; return nil }
}

// resolveAcks decides the default: one replica when the master that holds
// the store's keys has one connected.
func resolveAcks(ctx context.Context, client goredis.UniversalClient, k *keys, cfg *config) error {
	if cfg.acks == 0 {
		return nil
	}
	node, err := masterOf(ctx, client, k)
	if err != nil && cfg.acks == acksAuto && errors.Is(err, errNoNode) {
		cfg.acks = 0 // a client that cannot wait for replicas (a Ring) has none to wait for
		return nil
	}
	if err != nil {
		return err
	}
	if cfg.acks != acksAuto {
		return nil
	}
	info, err := node.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("%w: cannot read INFO replication (%v): allow it, or pass WithReplicaAcks or UnsafeWithoutReplicaAcks", ErrUnsafeServer, err)
	}
	cfg.acks = 0
	if n := infoField(info, "connected_slaves"); n != "" && n != "0" {
		cfg.acks, cfg.ackTimeout = 1, DefaultReplicaAckTimeout
	}
	return nil
}

// infoField returns the value of a field of an INFO reply.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

var errNoNode = errors.New("replica acknowledgements need a *redis.Client or a *redis.ClusterClient")

// masterOf returns the client of the master that holds the store's keys.
func masterOf(ctx context.Context, client goredis.UniversalClient, k *keys) (*goredis.Client, error) {
	switch c := client.(type) {
	case *goredis.Client:
		return c, nil
	case *goredis.ClusterClient:
		node, err := c.MasterForKey(ctx, k.ctl)
		if err != nil {
			return nil, unavailable("cluster slots", err)
		}
		return node, nil
	}
	return nil, fmt.Errorf("%w: redis: %w", store.ErrInvalid, errNoNode)
}

// runAcked runs the consume script and WAIT in one pipeline on the
// connection of the store's master, and returns the script's reply and
// the number of replicas that confirmed it.
func (s *Store) runAcked(ctx context.Context, keys []string, args []interface{}) (interface{}, int64, error) {
	node, err := masterOf(ctx, s.c, &s.k)
	if err != nil {
		return nil, 0, err
	}
	v, n, err := evalWait(ctx, node, false, keys, args, s.acks, s.ackTimeout)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		v, n, err = evalWait(ctx, node, true, keys, args, s.acks, s.ackTimeout)
	}
	if err != nil {
		if cc, ok := s.c.(*goredis.ClusterClient); ok {
			cc.ReloadState(ctx) // a failover or a moved slot: read the slots again
		}
	}
	return v, n, err
}

func evalWait(ctx context.Context, node *goredis.Client, full bool, keys []string, args []interface{}, acks int, timeout time.Duration) (interface{}, int64, error) {
	pipe := node.Pipeline()
	var cmd *goredis.Cmd
	if full {
		cmd = consumeScript.Eval(ctx, pipe, keys, args...)
	} else {
		cmd = consumeScript.EvalSha(ctx, pipe, keys, args...)
	}
	wait := pipe.Do(ctx, "wait", acks, max(timeout.Milliseconds(), 1))
	_, _ = pipe.Exec(ctx) // errors are read per command
	v, err := cmd.Result()
	if err != nil {
		return nil, 0, err
	}
	n, err := wait.Int64()
	if err != nil {
		return nil, 0, err
	}
	return v, n, nil
}

// acked turns a consumption that too few replicas confirmed into a
// refusal.
func (s *Store) acked(n int64) error {
	if n >= int64(s.acks) {
		return nil
	}
	return fmt.Errorf("%w: %w: %d of %d replicas within %v", store.ErrUnavailable, ErrNotReplicated, n, s.acks, s.ackTimeout)
}

// ReplicaAcks returns the number of replicas that must confirm a
// consumption, as [New] decided it (see [WithReplicaAcks]).
func (s *Store) ReplicaAcks() int { return s.acks }
