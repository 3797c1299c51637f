package mysqlstore

import "strings"

// The SQL of the store, each text once, with {tokens}, {guards}, {events},
// {hits}, {migrations}, {seq}, {check}, {consume}, {fail} and {hit}
// standing for the quoted names of the store's tables, sequence and
// procedures (the prefix and the name, in backquotes). Every value reaches
// the server as a bound parameter; only the validated prefix is written
// into the text.

// recordCols are the columns scanRecord reads, in its order; the check
// procedure returns the same columns after the outcome.
const recordCols = "id, member, purpose, batch, recipient, secret_hash, state, issued_at, expires_at, " +
	"status, failures, consumed_at, revoked_at, c_identity, c_ip, c_user_agent, c_session, seq"

// recordWidth is the number of recordCols.
const recordWidth = 18

// insertCols are the columns Insert writes, the last one the number drawn
// from the sequence; the store fills the others.
const insertCols = "id, member, purpose, batch, recipient, secret_hash, state, issued_at, expires_at, seq"

// insertWidth is the number of insertCols.
const insertWidth = 10

// eventCols are the columns Append writes.
const eventCols = "occurred_at, kind, reason, token_id, member, batch, purpose, identity, ip, user_agent, session, count, actor, detail"

const (
	sqlGet = `SELECT ` + recordCols + ` FROM {tokens} WHERE id = ?`
	// Peek of an unconfirmed request: the checks, read only.
	sqlPeek = `CALL {check}(?, ?, ?, ?, ?, ?, ?, NULL, 0)`
	// Consume, and Peek of a confirmed or mismatched request (the same
	// procedure without its UPDATE): id, secret hash, time, state, member,
	// purpose, batch, confirmation, failure cap, then the presentation.
	sqlConsume = `CALL {consume}(?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?, ?, ?)`
	sqlPresent = `CALL {consume}(?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, NULL, NULL, NULL, NULL)`
	sqlFail    = `CALL {fail}(?, ?, ?)`
	sqlHit     = `CALL {hit}(?, ?, ?)`
	// An Insert of one record draws its number in the statement; a larger
	// one draws it first (sqlNextSeq) and passes it with every row, so
	// that all the records of one Insert share one number.
	sqlInsert    = `INSERT INTO {tokens} (` + insertCols + `) VALUES `
	sqlInsertOne = sqlInsert + `(?, ?, ?, ?, ?, ?, ?, ?, ?, NEXTVAL({seq}))`
	sqlNextSeq   = `SELECT NEXTVAL({seq})`
	sqlAppend    = `INSERT INTO {events} (` + eventCols + `) VALUES `
	sqlRevoke    = `UPDATE {tokens} SET status = 3, revoked_at = ? WHERE status <> 3 AND `
	sqlRecords   = `SELECT ` + recordCols + ` FROM {tokens} WHERE `
	sqlCount     = `SELECT COUNT(*) FROM {tokens} WHERE `
	// A watermark never moves back: GREATEST keeps the later cutoff.
	sqlWatermark = `INSERT INTO {guards} (scope, k, cutoff) VALUES (?, ?, ?)
ON DUPLICATE KEY UPDATE cutoff = GREATEST(COALESCE(cutoff, VALUES(cutoff)), VALUES(cutoff))`
	// A watermark by sequence draws its number in the upsert, and
	// GREATEST keeps the higher one; RETURNING gives the mark as it now
	// stands, with its time, in the same round trip.
	sqlWatermarkNow = `INSERT INTO {guards} (scope, k, cutoff_seq) VALUES (?, ?, NEXTVAL({seq}))
ON DUPLICATE KEY UPDATE cutoff_seq = GREATEST(COALESCE(cutoff_seq, VALUES(cutoff_seq)), VALUES(cutoff_seq))
RETURNING cutoff, cutoff_seq`
	sqlMarks = `SELECT k, cutoff, cutoff_seq FROM {guards} WHERE cutoff IS NOT NULL OR cutoff_seq IS NOT NULL ORDER BY scope, k`
	// A hold in place keeps its since and reason; held is assigned last,
	// so that the IFs read the row as it was.
	sqlFreeze = `INSERT INTO {guards} (scope, k, held, since, reason) VALUES (?, ?, TRUE, ?, ?)
ON DUPLICATE KEY UPDATE since = IF(held, since, VALUES(since)), reason = IF(held, reason, VALUES(reason)), held = TRUE`
	// A thawed guard keeps its row, so that a watermark on the same key is
	// never touched by a thaw.
	sqlThaw  = `UPDATE {guards} SET held = FALSE, since = NULL, reason = NULL WHERE scope = ? AND k = ? AND held`
	sqlHolds = `SELECT scope, k, since, reason FROM {guards} WHERE held ORDER BY scope, k`
	// Purge runs these in one transaction, in this order: tokens, then
	// guards, the order in which Consume locks them. A bucket of hits ends
	// at (bucket + 1) * w microseconds since the Unix epoch.
	sqlPurgeTokens = `DELETE FROM {tokens} WHERE expires_at < ?`
	sqlPurgeEvents = `DELETE FROM {events} WHERE occurred_at < ?`
	sqlPurgeHits   = `DELETE FROM {hits} WHERE (bucket + 1) * w < ?`
	sqlPurgeGuards = `DELETE FROM {guards} WHERE NOT held AND cutoff IS NULL AND cutoff_seq IS NULL`
	sqlPing        = `SELECT COALESCE(MAX(version), 0) FROM {migrations}`

	sqlMigrationsTable = `CREATE TABLE IF NOT EXISTS {migrations} (
    version    INT          NOT NULL PRIMARY KEY,
    name       VARCHAR(255) NOT NULL,
    applied_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin`
	sqlMigrationsDone   = `SELECT version FROM {migrations}`
	sqlMigrationApplied = `INSERT INTO {migrations} (version, name) VALUES (?, ?)`
	sqlGetLock          = `SELECT GET_LOCK(?, ?)`
	sqlReleaseLock      = `SELECT RELEASE_LOCK(?)`
)

// sqlTally counts the records a filter selects (its condition follows
// WHERE) by what store.Decide says of each at the time of the first
// parameter: the revoked, used, expired and frozen cases of check's CASE,
// in its order, with its outcome codes. The two must agree.
const sqlTally = `SELECT CASE
        WHEN t.status = 3 OR EXISTS (SELECT 1 FROM {guards} g
            WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 3 AND g.k = t.member))
            AND (g.cutoff > t.issued_at OR g.cutoff_seq > t.seq)) THEN 3
        WHEN t.status = 2 THEN 4
        WHEN t.expires_at <= ? THEN 5
        WHEN EXISTS (SELECT 1 FROM {guards} g
            WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 2 AND g.k = t.batch) OR (g.scope = 3 AND g.k = t.member))
            AND g.held) THEN 6
        ELSE 0 END AS outcome, COUNT(*)
FROM {tokens} t WHERE `

// sqlTallyEnd follows the filter's condition in sqlTally.
const sqlTallyEnd = ` GROUP BY outcome`

// sqlBatches summarises the batches after a cursor, a page at a time: the
// index on (batch, issued_at) holds every value it reads.
const sqlBatches = `SELECT batch, COUNT(*), MIN(issued_at), MAX(issued_at) FROM {tokens}
WHERE batch <> '' AND batch > ? GROUP BY batch ORDER BY batch LIMIT ?`

// The three branches' select lists, in one column order, each with the
// names the outer ORDER BY uses.
const (
	sqlEventsIssued = `(SELECT t.issued_at AS at, 0 AS ord, t.id AS kid, 0 AS kseq, 'issued' AS kind, '' AS reason,
	t.id AS token_id, t.member AS member, t.batch AS batch, t.purpose AS purpose, '' AS identity, '' AS ip,
	'' AS user_agent, '' AS session, 0 AS count, '' AS actor, t.recipient AS detail
FROM {tokens} t WHERE TRUE`
	sqlEventsConsumed = `(SELECT t.consumed_at AS at, 1 AS ord, t.id AS kid, 0 AS kseq, 'consumed' AS kind, '' AS reason,
	t.id AS token_id, t.member AS member, t.batch AS batch, t.purpose AS purpose,
	COALESCE(t.c_identity, '') AS identity, COALESCE(t.c_ip, '') AS ip, COALESCE(t.c_user_agent, '') AS user_agent,
	COALESCE(t.c_session, '') AS session, 0 AS count, '' AS actor, '' AS detail
FROM {tokens} t WHERE t.consumed_at IS NOT NULL`
	sqlEventsAppended = `(SELECT e.occurred_at AS at, 2 AS ord, NULL AS kid, e.seq AS kseq, e.kind AS kind, e.reason AS reason,
	e.token_id AS token_id, e.member AS member, e.batch AS batch, e.purpose AS purpose, e.identity AS identity,
	e.ip AS ip, e.user_agent AS user_agent, e.session AS session, e.count AS count, e.actor AS actor, e.detail AS detail
FROM {events} e WHERE TRUE`
)

// statements holds the store's SQL with its prefix in place.
type statements struct {
	get, peek, consume, present, fail, hit, insert, append, revoke string
	records, count, watermark, watermarkNow, marks, freeze, thaw   string
	holds, nextSeq, insertOne, insertChunk, tally, batches         string
	purgeTokens, purgeEvents, purgeHits, purgeGuards, ping         string
	migrationsTable, migrationsDone, migrationApplied              string
	eventsIssued, eventsConsumed, eventsAppended                   string
}

// names returns the replacer of the names in the store's SQL, for prefix.
func names(prefix string) *strings.Replacer {
	var pairs []string
	for _, n := range []string{"tokens", "guards", "events", "hits", "migrations", "seq", "check", "consume", "fail", "hit"} {
		pairs = append(pairs, "{"+n+"}", "`"+prefix+n+"`")
	}
	return strings.NewReplacer(pairs...)
}

func prepare(prefix string) statements {
	f := names(prefix).Replace
	return statements{
		get: f(sqlGet), peek: f(sqlPeek), consume: f(sqlConsume), present: f(sqlPresent), fail: f(sqlFail), hit: f(sqlHit),
		insert: f(sqlInsert), append: f(sqlAppend), revoke: f(sqlRevoke),
		records: f(sqlRecords), count: f(sqlCount),
		watermark: f(sqlWatermark), watermarkNow: f(sqlWatermarkNow), marks: f(sqlMarks), freeze: f(sqlFreeze), thaw: f(sqlThaw), holds: f(sqlHolds),
		purgeTokens: f(sqlPurgeTokens), purgeEvents: f(sqlPurgeEvents), purgeHits: f(sqlPurgeHits),
		purgeGuards: f(sqlPurgeGuards), ping: f(sqlPing),
		migrationsTable: f(sqlMigrationsTable), migrationsDone: f(sqlMigrationsDone), migrationApplied: f(sqlMigrationApplied),
		nextSeq: f(sqlNextSeq), insertOne: f(sqlInsertOne), insertChunk: f(sqlInsert) + rows(insertChunk, insertWidth),
		tally: f(sqlTally), batches: f(sqlBatches),
		eventsIssued: f(sqlEventsIssued), eventsConsumed: f(sqlEventsConsumed), eventsAppended: f(sqlEventsAppended),
	}
}

// rows returns n parenthesised rows of k placeholders each.
func rows(n, k int) string {
	row := "(" + strings.Repeat("?, ", k-1) + "?)"
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}
