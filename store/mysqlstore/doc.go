// Package mysqlstore is a [store.Store] in MariaDB, through the driver
// github.com/go-sql-driver/mysql and a connection pool the store owns.
//
// Recommended use: open the store once from the driver's configuration,
// migrate explicitly (at deploy time, or once at start-up), and share it:
//
//	cfg, err := mysql.ParseDSN(os.Getenv("ONCELINK_DSN")) // user:password@tcp(host:3306)/site
//	if err != nil { ... }
//	st, err := mysqlstore.Open(cfg) // touches nothing yet
//	if err != nil { ... }
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil { ... }
//
// The tables (tokens, guards, events, hits, migrations), the sequence
// (seq) and the procedures (check, consume, fail, hit) live in the
// database cfg names, with the prefix
// "oncelink_" unless [WithTablePrefix] names another, so that they sit
// beside a site's own tables. [Open] works on a copy of cfg and sets what
// the store relies on: parseTime with UTC times, the utf8mb4 character set,
// and dial, read and write timeouts (5s, 30s, 30s) where cfg leaves them
// at zero. It needs no interpolateParams and no multiStatements, and
// MariaDB 10.5 or later (sequences, INSERT ... RETURNING).
//
// # Consume
//
// [Store.Consume] is one CALL of the consume procedure, one round trip on
// a warm connection (the store prepares its hot statements once a
// connection): inside one transaction, an UPDATE whose WHERE clause holds
// every check (status, secret hash, the token's member, purpose and batch,
// expiry, state, and no hold or watermark, by time or by sequence, on the
// record's global, batch or member guard, three primary key lookups) marks
// the record consumed, then
// the procedure returns the record with the outcome in contract order (not
// found, secret, revoked, used, expired, frozen, stale, mismatch), then the
// transaction commits. The UPDATE takes the record's row lock and reads the
// newest committed version of the row; under REPEATABLE READ, InnoDB's
// default, it also reads the guards with shared locks. So of any number of
// concurrent consumers in any number of processes exactly one changes the
// row, and a refusal's outcome is read while those locks are held: it is
// the reason the UPDATE failed. A refusal costs the same single round trip
// as a success. Under READ COMMITTED the outcome is read in a newer
// snapshot; if that snapshot finds the record consumable (a hold was
// lifted in between), the CALL runs again, at most three times.
//
// A mismatched request ([store.Mismatched]) runs the same UPDATE, which
// then matches no record; when the UPDATE changed nothing, a confirmed or
// mismatched request locks the row, adds 1 (mismatched) or 0 (confirmed)
// to its failures, revoking an issued record at the cap, and judges the
// record on its state before the count, all in the same transaction. The
// two write the row alike: MariaDB skips an UPDATE that changes no value,
// and a transaction that wrote nothing commits without flushing the log,
// so each such presentation also adds 1 to a column of its own
// (presented), and a right guess of a settled link's identity costs what
// a wrong one costs. Concurrent mismatches are each counted once, under
// the row lock. [Store.Peek] of a confirmed or mismatched request is the
// same CALL without the UPDATE; of an unconfirmed one, one CALL of the
// check procedure, which reads and writes nothing else.
//
// The driver reads each CALL to the procedure's final status, so a
// commit that fails after the record was sent (a lost connection, a
// server that stops) is reported as an error, never as a success. Every
// failure that is not a check outcome (a refused or silent connection, a
// deadline, a cancelled context, a killed connection, a server error,
// tables that are not migrated) is returned wrapped in
// [store.ErrUnavailable]. A consume whose outcome the client did not learn
// may or may not have been applied; a retry answers [store.ErrUsed] if it
// was. An operation that InnoDB rolls back as a deadlock victim runs again,
// at most three times.
//
// Fail is one CALL that counts the failure and returns the record in the
// same transaction. [Store.Hit] is one CALL of the hit procedure: an
// upsert of the bucket's row, whose lock makes concurrent hits count one
// by one, then the bucket's count and the previous bucket's, in one
// transaction. Insert of one record is one INSERT that draws the record's
// number from the sequence; more records draw one number first, then go in
// one multi-row INSERT of up to 500 rows, or in INSERTs of 500 rows inside
// one transaction, all or nothing. Revoke is one UPDATE; Watermark,
// WatermarkNow and Freeze are one upsert of one guards row. [Store.Tally]
// ([store.Tallier]) and [Store.Batches] ([store.BatchLister]) are one
// grouped SELECT each; Tally's CASE is the check procedure's, without the
// secret and the state, so that it agrees with [store.Decide].
//
// # Clocks
//
// "Revoke everything" and "revoke these members" ([Store.WatermarkNow])
// are decided by the store's sequence, a MariaDB SEQUENCE created NOCACHE,
// never by a clock. Every Insert draws one number for all its records
// ([store.Record.Seq]) before they commit; WatermarkNow draws one in the
// upsert of its guards row and keeps the greater; consume refuses a record
// whose number is below its global or member mark. NEXTVAL hands each
// number out once, in increasing order across every connection of the
// server, whether the transaction that drew it commits or not, so an
// Insert that returned before WatermarkNow began is covered, one that
// begins after it returned is not, and one that drew before it and commits
// after it is covered too, the safe side. Records from before the sequence
// (schema version 3) have number 0, which every such mark covers. Issue
// windows and [Store.Watermark] compare the minting machine's clock (the
// records' IssuedAt); expiry is the verifying machine's clock.
//
// # Migrations
//
// [Store.Migrate] applies the SQL files embedded from migrations/
// (0001_init.sql, 0002_claims_counters.sql, 0003_sequence.sql) that the
// migrations table does not list yet, while it holds a named lock (GET_LOCK) for the database and
// prefix: instances that start together migrate once, and the others wait,
// then find nothing to do. MariaDB commits each DDL statement on its own,
// so a migration is not atomic; every statement in the files is
// idempotent, and a migration interrupted half-way is applied again, whole,
// by the next Migrate. Nothing migrates in [Open]. A database that does
// not exist, and tables, a sequence or procedures that are not migrated or
// older than this package, are no store: every operation that needs them
// fails with an error wrapping [store.ErrNoStore] and
// [store.ErrUnavailable] that says so, and so does [Store.Ping]. Versions 2
// and 3 change what the procedures take or return: once one is applied,
// instances of an earlier version fail their consumes, so migrate as the
// new version is deployed.
//
// # Security considerations
//
// The tables hold the SHA-256 hash of each link's secret, never the token,
// so a dump of the database opens no account; they do hold personal data
// (member ids, recipient addresses, in the ledger presented identities, IP
// addresses, user agents and session references, and whatever a site puts
// in its counters' keys): grant them like any table of personal data and
// purge them ([Store.Purge]) once an incident review can no longer need
// them. Revocations, watermarks and holds are
// read by the consume statement itself, under the same locks as the record,
// so they take effect on the next consume of every process: nothing is
// cached.
//
// Member, batch and purpose are compared byte for byte, in filters, holds,
// watermarks and with a token's claims: every text column, and every text
// parameter the procedures compare, uses the utf8mb4_nopad_bin collation,
// so "ann" matches neither "Ann", "ånn" nor "ann " (MariaDB's utf8mb4_bin
// pads with spaces, and would freeze or revoke "ann " with "ann", or take
// a token re-signed for "ann " as ann's).
//
// The procedures run with the caller's privileges (SQL SECURITY INVOKER):
// they grant nothing. The application's user needs SELECT, INSERT, UPDATE
// and DELETE on the store's tables, SELECT and INSERT on its sequence, and
// EXECUTE on its procedures (see README.md); only the user that migrates
// needs CREATE, ALTER, ALTER ROUTINE and CREATE ROUTINE.
//
// Every value reaches the server as a bound parameter; only the table
// prefix, checked by [WithTablePrefix], is written into the SQL. Error
// strings name the operation and the driver's error, which carries no
// query argument: no hash or token material. The secret hash is compared by
// the server's byte comparison: its timing can tell at most how many
// leading bytes of a SHA-256 hash match, which says nothing usable about a
// 256-bit secret.
//
// Durability is the server's: keep innodb_flush_log_at_trx_commit=1 (the
// default), or a crash can forget a reported consumption and the link
// would work again. A replica that a failover promotes before it received
// the last commits forgets them the same way; see README.md.
package mysqlstore
