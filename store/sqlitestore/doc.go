// Package sqlitestore is a [store.Store] in one SQLite file, through the pure-Go
// driver modernc.org/sqlite (no cgo). It is oncelink's durable store for one
// machine: it needs no server and no setup.
//
//	st, err := sqlitestore.Open(ctx, "/var/lib/membersite/oncelink.db")
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//
// [Open] creates the file if needed and applies the schema; with [MustExist]
// it opens only a file that is already a current oncelink store and creates
// nothing ([store.ErrNoStore] otherwise). Any number of
// goroutines may share one [Store], and several processes on the same
// machine may open the same file: a link is consumed exactly once across
// all of them.
//
// # How it works
//
// A [Store] holds two connection pools on the file: one write connection,
// on which every write of the process queues (so that writers of one
// process wait in Go rather than in SQLite's sleeping busy handler), and a
// few read-only connections ([WithReaders], max(4, GOMAXPROCS) by default)
// that, in WAL mode, never block the writer nor are blocked by it. A second
// write connection would only wait for the file's lock.
//
// [Store.Insert] is one IMMEDIATE transaction of multi-row INSERTs;
// [Store.InsertSeq] ([store.StreamInserter]) is the same transaction fed as
// the caller yields records, so that minting signs the next links on the
// other cores while SQLite writes.
//
// [Store.Consume] is one statement on the write connection: an UPDATE whose
// WHERE clause holds every check (secret hash, status, watermarks and holds
// as subqueries, expiry, state) and which returns the consumed record. SQLite
// takes the file's write lock before the statement reads the row, so the
// checks and the write see the same state and of any number of concurrent
// consumers, in any number of processes, exactly one changes the row. When
// the UPDATE changes nothing, one read on a read connection finds the
// reason in contract order; if that read finds none (a hold was lifted in
// between), Consume decides inside an IMMEDIATE transaction instead.
//
// The connection settings, set on every connection through the DSN:
//
//   - journal_mode=WAL: readers and the writer do not block each other,
//     and a commit is one append to the write-ahead log.
//   - synchronous=FULL: every commit is synced to the disk before it
//     returns. With NORMAL, a power loss could lose the last commits, and
//     losing a consumption re-opens a used link.
//   - busy_timeout (5s, [WithBusyTimeout]): how long an operation waits for
//     another process's write lock before failing with
//     [store.ErrUnavailable].
//   - _txlock=immediate on the write connection: transactions take the
//     write lock at BEGIN, where a wait is governed by the busy timeout,
//     rather than on their first write, where SQLite cannot wait and would
//     fail with SQLITE_BUSY.
//   - query_only on the read connections: they cannot write, by mistake or
//     otherwise.
//   - foreign_keys=ON, for any migration that adds foreign keys.
//
// Open refuses a file that SQLite could open only read-only, and checks that
// the file really is in WAL mode with synchronous=FULL (WAL needs shared
// memory, which some network file systems lack; such a file system is no
// place for this store).
//
// # Security considerations
//
// The file holds SHA-256 hashes of the links' secrets, never the tokens,
// so a copy of it opens no account; it also holds the audit ledger, which is
// personal data (presented identities, IP addresses, user agents, session
// references). Open creates a missing file with mode 0600 (SQLite gives its
// -wal and -shm files the same mode); keep it in a directory only the site's
// user can write, and purge it ([Store.Purge]) once an incident review no
// longer needs old entries. Error strings never contain a hash, a state or
// token material: every value reaches SQLite as a bound parameter.
//
// Processes coordinate through POSIX advisory locks on the file, which the
// kernel drops when any code in the process closes another descriptor of the
// same file (a backup that reads it with os.Open, say). Back up with
// SQLite's backup API or VACUUM INTO, or enable the driver's OFD locks
// (MODERNC_SQLITE_OFD_LOCK=1) before the first Open.
//
// Every failure that is not a check outcome, including a lock held beyond
// the busy timeout, a full disk, a read-only file and a cancelled context,
// wraps [store.ErrUnavailable]: a refusal, never an acceptance. A
// consumption returns only after its commit has been synced; a failure
// before that rolls it back.
//
// The secret hash comparison in the UPDATE is SQLite's byte comparison:
// timing can tell at most how many leading bytes of a SHA-256 hash match,
// which says nothing usable about a 128-bit secret. Reads compare it in
// constant time.
//
// # Migrations
//
// The schema is in the embedded files migrations/NNNN_name.sql, applied in
// order. PRAGMA user_version holds how many have been applied and PRAGMA
// application_id marks the file as oncelink's. Open applies the missing ones
// inside one IMMEDIATE transaction, so two processes opening a fresh file
// at once are safe: the second waits at BEGIN, then finds them applied.
// Open refuses a file with a newer schema than it knows, and a file that
// belongs to another application. A migration is never edited once
// released; a change is a new file.
//
// # Backwards compatibility
//
// The schema, described in the package README, is part of the package's
// compatibility promise: a newer version migrates an older file forward
// when it opens it.
package sqlitestore
