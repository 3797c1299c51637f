// Package storeurl opens an oncelink store from a URL, as the oncelink
// command and the examples do:
//
//	sqlite:PATH                         a SQLite file
//	postgres://USER@HOST:PORT/DB?...    PostgreSQL; oncelink_schema=NAME picks the schema
//	mysql://USER@HOST:PORT/DB?...       MariaDB; oncelink_prefix=P picks the table prefix
//	redis://HOST:PORT/DB?...            Redis; oncelink_prefix=P picks the key prefix
//	redis+cluster://HOST:PORT,HOST:PORT/?...  Redis Cluster, from seed nodes; rediss+cluster:// for TLS
//	memory:                             an in-process store, for tests only ([WithMemory])
//
// The recommended path, for a program that lets its operator choose the
// store:
//
//	st, closeStore, err := storeurl.Open(ctx, os.Getenv("ONCELINK_STORE"))
//	if err != nil {
//		return err
//	}
//	defer closeStore()
//
// [Open] opens a store that is there, and creates one only when asked
// ([WithCreate]): a mistyped path, schema or prefix is an error wrapping
// [store.ErrNoStore], never a new, empty store. Every client it builds
// bounds its calls: a PostgreSQL connect timeout, Redis dial, read and
// write timeouts with the context's deadline honoured, and the MariaDB
// store's own dial, read and write timeouts, unless the URL sets its own.
// [WithWaitLoading] waits, within a bound, for a server that is still
// starting or loading its data.
//
// # Connection pools
//
// A PostgreSQL or MariaDB store keeps at most [PoolSize] connections: four
// per core, at least 16, because a consume waits on the server's commit
// far longer than it uses a core. The URL overrides it: pool_max_conns=N
// for PostgreSQL (and pgxpool's other pool_ parameters), oncelink_max_conns=N
// (1 to 1000) for MariaDB. A SQLite store has one write connection, which
// every writer of the process queues on (a second one would only wait for
// the file's lock), and max(4, GOMAXPROCS) read connections. Redis uses
// go-redis's pool (10 per core; pool_size=N in the URL).
//
// This package links every store's driver (SQLite, pgx, go-sql-driver and
// go-redis) into the program. A site that uses one store imports that
// store's package directly and builds it with its own constructor, and
// links only that driver.
//
// # Security considerations
//
// Store URLs may hold passwords: errors never repeat the URL, and
// [Redact] hides the password for display. memory: is refused unless
// [WithMemory], so that a typo cannot give a site a store that forgets
// every link, and every freeze, when the process ends.
package storeurl
