// Package postgresstore is a [store.Store] in PostgreSQL, through pgx/v5 and a
// pgxpool.Pool that the caller owns.
//
// Recommended use: build the pool once, migrate the schema explicitly (at
// deploy time, or once at start-up), and share the store:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil { ... }
//	defer pool.Close()
//	st, err := postgresstore.New(pool, postgresstore.WithSchema("oncelink"))
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
//
// The pool is the caller's: size it for the concurrency of logins, not the
// number of cores (a consume waits on the commit far longer than it uses a
// core; storeurl opens pools of four connections a core, at least 16).
//
// Consume succeeds in one statement and one round trip: a single UPDATE
// whose WHERE clause holds every check (secret hash, status, expiry, state,
// and the holds and watermarks that cover the record, found with one index
// scan). Its row lock serialises concurrent consumers, and PostgreSQL
// evaluates the whole clause again on the newest version of the row once the
// lock is granted, so of any number of concurrent consumers, in any number of
// processes, exactly one succeeds. A refusal takes a second statement, the
// one Peek runs, which tells why in contract order and changes nothing. Peek
// is one SELECT. Insert of more than a few records is one COPY, and so is
// InsertSeq ([store.StreamInserter]), fed as the caller yields records, so
// that minting signs the next links while the server writes; Revoke is one
// UPDATE; Watermark and WatermarkNow are one upsert each. Every Insert draws
// one number of the schema's sequence for its records; WatermarkNow draws
// one too, so that it covers every committed record whatever its issue time.
//
// Every failure that is not a check outcome (a lost connection, a deadline,
// a cancelled context, a server error, a schema that is not migrated) is
// returned wrapped in [store.ErrUnavailable]. A consume whose outcome the
// client did not learn (the connection died after the statement was sent)
// is reported as unavailable: the token may or may not have been consumed,
// and a retry answers [store.ErrUsed] if it was.
//
// # Migrations
//
// [Store.Migrate] applies the SQL files embedded from migrations/
// (0001_init.sql, ...) that are not yet recorded in the schema's
// schema_migrations table, in one transaction, under a transaction advisory
// lock keyed by the schema name: instances that start together migrate once
// and the others wait, then find nothing to do. Nothing migrates at import
// or in [New]. A store whose schema is not migrated fails every operation
// with an error wrapping [store.ErrUnavailable] and [store.ErrNoStore] that
// says so, and [Store.Ping] reports a schema older than this package
// expects the same way.
//
// # Security considerations
//
// The tables hold the SHA-256 hash of each link's secret, never the token,
// so a dump of the schema opens no account; it does hold personal data
// (member ids, recipient addresses, and in the ledger presented identities,
// IP addresses, user agents and session references): grant it like any
// table of personal data and purge it ([Store.Purge]) once an incident
// review can no longer need it. Revocations, watermarks and holds are read
// by the consume statement itself, in the same snapshot as the record, so
// they take effect on the next consume of every process: nothing is cached.
// Error strings never carry a hash or any token material: they name the
// operation and the driver's error, which carries no query argument.
//
// The application role needs USAGE on the schema and SELECT, INSERT, UPDATE
// and DELETE on its tables (see README.md); only the role that migrates needs
// CREATE.
package postgresstore
