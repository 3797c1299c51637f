package sqlitestore

import (
	"strings"
)

// recordCols are the columns of a record, in the order row scans them.
const recordCols = `id, member, purpose, batch, recipient, secret_hash, state_hash, issued_at, expires_at,
	status, failures, consumed_at, revoked_at, consumer_identity, consumer_ip, consumer_agent, consumer_session, seq`

// The pragmas Open reads: the schema version (the number of migrations
// applied), the mark of an oncelink file, and the journal settings.
const (
	userVersionSQL   = "PRAGMA user_version"
	applicationIDSQL = "PRAGMA application_id"
	journalModeSQL   = "PRAGMA journal_mode"
	synchronousSQL   = "PRAGMA synchronous"
)

// nextSeqSQL draws the next number of the store's sequence. It runs inside
// a write transaction, so numbers follow the order of the commits.
const nextSeqSQL = "UPDATE sequence SET last = last + 1 RETURNING last"

// insertSQL is an INSERT of n rows. OR ROLLBACK: a duplicate id ends the
// whole transaction, which Insert would roll back anyway, and spares SQLite
// the statement journal a multi-row INSERT otherwise writes to undo itself
// alone (a third of the time of a large insert).
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR ROLLBACK INTO tokens (id, member, purpose, batch, recipient, secret_hash, state_hash, issued_at, expires_at, seq) VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// consumeSQL marks a record consumed only if every check passes. The
// watermarks and holds are read in the same statement, under the write lock
// SQLite takes before it reads the row, so no change can slip between the
// checks and the write. The last argument is 1 for a mismatched request,
// which then matches nothing, at the same cost.
const consumeSQL = `UPDATE tokens SET status = 2, consumed_at = ?,
	consumer_identity = ?, consumer_ip = ?, consumer_agent = ?, consumer_session = ?
WHERE id = ? AND secret_hash = ? AND status = 1 AND expires_at > ?
	AND NOT EXISTS (SELECT 1 FROM marks WHERE member IN ('', tokens.member)
		AND (before_at > tokens.issued_at OR before_seq > tokens.seq))
	AND NOT EXISTS (SELECT 1 FROM holds WHERE scope = 1 AND hold_key = '')
	AND (tokens.batch = '' OR NOT EXISTS (SELECT 1 FROM holds WHERE scope = 2 AND hold_key = tokens.batch))
	AND NOT EXISTS (SELECT 1 FROM holds WHERE scope = 3 AND hold_key = tokens.member)
	AND (state_hash IS NULL OR state_hash = ?)
	AND member = ? AND purpose = ? AND batch = ? AND ? = 0
RETURNING ` + recordCols

// probeSQL reads a record with what its checks need: the global and member
// watermarks and whether a hold covers it.
const probeSQL = `SELECT ` + recordCols + `,
	(SELECT before_at FROM marks WHERE member = ''),
	(SELECT before_seq FROM marks WHERE member = ''),
	(SELECT before_at FROM marks WHERE member = t.member),
	(SELECT before_seq FROM marks WHERE member = t.member),
	EXISTS (SELECT 1 FROM holds WHERE scope = 1 AND hold_key = '')
		OR (t.batch <> '' AND EXISTS (SELECT 1 FROM holds WHERE scope = 2 AND hold_key = t.batch))
		OR EXISTS (SELECT 1 FROM holds WHERE scope = 3 AND hold_key = t.member)
FROM tokens AS t WHERE t.id = ?`

// failSQL adds ?1 failures (1, or 0 for the same write without a failure)
// and revokes an issued record that reaches ?2 (> 0) failures at ?3.
const failSQL = `UPDATE tokens SET failures = failures + ?1,
	status = CASE WHEN ?1 > 0 AND ?2 > 0 AND failures + 1 >= ?2 AND status = 1 THEN 3 ELSE status END,
	revoked_at = CASE WHEN ?1 > 0 AND ?2 > 0 AND failures + 1 >= ?2 AND status = 1 THEN ?3 ELSE revoked_at END
WHERE id = ?4 RETURNING ` + recordCols

// getSQL reads one record.
const getSQL = "SELECT " + recordCols + " FROM tokens WHERE id = ?"

// pingSQL reads a table every store has.
const pingSQL = "SELECT count(*) FROM marks"

// The selection statements end in a condition that where renders.
const (
	revokeSQL  = "UPDATE tokens SET status = 3, revoked_at = ? WHERE status <> 3 AND "
	recordsSQL = "SELECT " + recordCols + " FROM tokens WHERE "
	countSQL   = "SELECT count(*) FROM tokens WHERE "
	tallySQL   = "SELECT " + decideSQL + ", count(*) FROM tokens WHERE "
)

// Purge deletes, in one transaction, the records that expired before the
// cut-off, the ledger entries recorded before it and the counts of the
// windows that ended before it.
const (
	purgeTokensSQL = "DELETE FROM tokens WHERE expires_at < ?"
	purgeEventsSQL = "DELETE FROM events WHERE at < ?"
	purgeHitsSQL   = "DELETE FROM hits WHERE (bucket + 1) * w < ?"
)

// watermarkSQL places a time watermark, keeping the later time.
const watermarkSQL = `INSERT INTO marks (member, before_at) VALUES (?, ?)
		ON CONFLICT (member) DO UPDATE SET before_at = max(before_at, excluded.before_at)`

// watermarkNowSQL raises a sequence watermark to a number just drawn,
// keeping the greater, and returns the member's mark as it stands.
const watermarkNowSQL = `INSERT INTO marks (member, before_at, before_seq) VALUES (?, 0, ?)
		ON CONFLICT (member) DO UPDATE SET before_seq = max(before_seq, excluded.before_seq)
		RETURNING before_at, before_seq`

// marksSQL lists the watermarks, the global one ("") first.
const marksSQL = "SELECT member, before_at, before_seq FROM marks ORDER BY member"

// batchesSQL lists the batch summaries after a batch, from the batch index.
const batchesSQL = `SELECT batch, count(*), min(issued_at), max(issued_at) FROM tokens
	WHERE batch > ? GROUP BY batch ORDER BY batch LIMIT ?`

// decideSQL is store.Decide in SQL, on a row of tokens at the time of the
// first parameter: the predicate of consumeSQL, outcome by outcome, without
// the secret and the state. Its values are the outcome codes of
// store.Tally: 0 issued, 3 revoked, 4 used, 5 expired, 6 frozen.
const decideSQL = `CASE
	WHEN status = 3 OR EXISTS (SELECT 1 FROM marks WHERE member IN ('', tokens.member)
		AND (before_at > tokens.issued_at OR before_seq > tokens.seq)) THEN 3
	WHEN status = 2 THEN 4
	WHEN expires_at <= ? THEN 5
	WHEN EXISTS (SELECT 1 FROM holds WHERE scope = 1 AND hold_key = '')
		OR (tokens.batch <> '' AND EXISTS (SELECT 1 FROM holds WHERE scope = 2 AND hold_key = tokens.batch))
		OR EXISTS (SELECT 1 FROM holds WHERE scope = 3 AND hold_key = tokens.member) THEN 6
	ELSE 0 END`

// Holds: an insert that keeps a hold in place, a delete, a list in
// scope then key order.
const (
	freezeSQL = `INSERT INTO holds (scope, hold_key, since, reason) VALUES (?, ?, ?, ?)
	ON CONFLICT (scope, hold_key) DO NOTHING`
	thawSQL  = "DELETE FROM holds WHERE scope = ? AND hold_key = ?"
	holdsSQL = "SELECT scope, hold_key, since, reason FROM holds ORDER BY scope, hold_key"
)

// appendSQL appends one ledger entry.
const appendSQL = `INSERT INTO events
		(at, kind, reason, token_id, member, batch, purpose, identity, ip, agent, session, n, actor, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// hitSQL counts one hit and returns the count of its bucket and of the
// bucket before, in one statement on the write connection.
const hitSQL = `INSERT INTO hits (k, w, bucket, n) VALUES (?1, ?2, ?3, 1)
ON CONFLICT (k, w, bucket) DO UPDATE SET n = n + 1
RETURNING n, (SELECT p.n FROM hits AS p WHERE p.k = ?1 AND p.w = ?2 AND p.bucket = ?3 - 1)`

// hitCleanSQL deletes a key's buckets before the previous one.
const hitCleanSQL = "DELETE FROM hits WHERE k = ? AND w = ? AND bucket < ?"
