// Package redisstore is a [store.Store] in Redis, through go-redis v9.
//
// Give [New] a client you own, with ContextTimeoutEnabled so that the
// caller's deadline bounds every call:
//
//	client := goredis.NewClient(&goredis.Options{
//		Addr:                  "127.0.0.1:6379",
//		ContextTimeoutEnabled: true,
//	})
//	defer client.Close()
//	s, err := redisstore.New(ctx, client, redisstore.WithPrefix("members"))
//	if err != nil {
//		return err // ErrUnsafeServer: see the server's settings below
//	}
//
// [New] creates the store's control key when the prefix holds nothing
// ([MustExist] opens only an existing store). Every record is one hash,
// which Redis deletes [DefaultRetention] after the link expires
// ([WithRetention]). Consume is one Lua script: one round trip that runs
// every check of the contract, in its order (the token's claims against the
// record, the failure a mismatched presentation counts, watermarks by time
// and by the store's sequence, holds), marks the record consumed and
// writes the consumed entry of the ledger, atomically. Peek, Fail and
// [Store.Hit] (the windowed counters, one key per key and window) are one
// script each. Insert writes up to 1000 records in one script call; a
// larger Insert is staged, one script call per chunk of 1000, pipelined, and
// becomes visible in one last call, its commit. Secondary indexes by member, batch,
// issue time and expiry serve Revoke, Count and Records, and time-ordered
// ledger indexes (whole, by batch, by member) serve Events, so that none of
// them scans the keyspace. Run [Store.Purge] regularly: it deletes expired
// records with their index entries, and the ledger entries older than the
// time it is given. The README beside this file has the exact key layout,
// the ACL the store needs and what it guarantees.
//
// All the keys of a store carry the hash tag "{prefix}", so that every
// script touches one slot and the store works on Redis Cluster (a
// [goredis.ClusterClient]). The scripts compute some key names from record
// fields (a batch's ledger and index), which Redis allows because they are
// in the same slot. One store therefore lives in one slot of a cluster: a
// cluster gives it a replica to fail over to, not sharding; several stores
// with different prefixes spread the load.
//
// Redis replicates asynchronously, so a failover can lose a consumption
// the old master acknowledged, and make the link consumable again. Where
// the store's master has a replica, Consume therefore waits (WAIT, in the
// same round trip) for a replica to confirm the consumption and refuses
// with [ErrNotReplicated] when none does in time: see [WithReplicaAcks].
//
// # Security considerations
//
// A record holds the SHA-256 hash of the link's secret, never the token, so
// a dump of the server opens no account. The ledger holds personal data
// (identities, addresses, user agents, sessions): keep it only as long as
// an incident review may need it, with [Store.Purge].
//
// What Redis keeps across a restart decides what a link can do after one:
//
//   - No persistence at all: a restart loses every record, hold, watermark
//     and ledger entry, and the control key. The store then refuses every
//     link and every mint until it is created again ([New] on the empty
//     server, or oncelink init); holds and watermarks must be placed again.
//   - RDB snapshots without the append-only file: a restart reloads an older
//     snapshot, in which links consumed or revoked since were outstanding.
//     They would be accepted again, so [New] refuses such a server unless
//     [UnsafeAllowSnapshotPersistence].
//   - appendonly yes with appendfsync always: nothing acknowledged is lost.
//     With appendfsync everysec a crash (of the machine, or of Redis) can
//     lose up to a second of writes: a link consumed or revoked in that
//     second would be consumable again.
//
// An eviction policy that may evict keys without an expiry (allkeys-*)
// could evict the hash that holds freezes and watermarks; [New] refuses it
// unless [UnsafeAllowEviction]. volatile-* policies evict only records, which
// are then refused as not found, and counter buckets, which then count from
// zero.
//
// The store fails closed. The control hash carries a field that says the
// store exists; when the hash is gone (evicted, deleted, lost in a
// restart), every consume, peek, mint, counter hit and operator action
// fails with [ErrDamaged] rather than reading "no freeze, no watermark", and
// no script writes the hash again, until [RepairControl] reopens the store
// with every earlier link revoked. [New] reads the
// server's settings with CONFIG GET, and the store reads them again every
// [WithServerCheckInterval]: settings that became unsafe turn Consume and
// Peek to refusing. Where CONFIG GET is not allowed (managed services,
// ACLs), check the settings yourself and pass [WithoutPersistenceCheck].
//
// A staged Insert whose process dies before its commit leaves records that
// are never visible (not found, not counted, not in the ledger); [Store.Purge]
// removes them an hour later.
//
// Any failure of the connection or the server is [store.ErrUnavailable], a
// refusal. When it interrupts a Consume, the script may have run: the link
// is then used, and a later Consume answers [store.ErrUsed]; it is never
// accepted twice. go-redis retries a command after a network error
// (Options.MaxRetries, 3 by default); a retried Consume whose first run went
// through answers ErrUsed, a retried Fail counts twice, and a retried Insert
// may answer [store.ErrDuplicate] and leave the records it did insert. Set MaxRetries
// to -1 for exact answers at the cost of more ErrUnavailable.
//
// Peek runs read-only (EVALSHA_RO): a client that routes read-only commands
// to replicas may answer it from a replica that lags the primary. Peek is
// advisory; Consume always runs on the primary.
//
// # Backwards compatibility
//
// The key layout is part of the store's contract with the data already in
// Redis: a change to it comes with a new prefix or a migration, stated in
// the README.
package redisstore
