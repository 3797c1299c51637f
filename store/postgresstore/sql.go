package postgresstore

import (
	"fmt"
	"strings"
)

// recordCols are the columns scanRecord reads, in its order.
const recordCols = "id, member, purpose, batch, recipient, secret_hash, state, issued_at, expires_at, " +
	"status, failures, consumed_at, revoked_at, c_identity, c_ip, c_user_agent, c_session, seq"

// copyCols are the columns Insert writes; the store fills the others.
var copyCols = []string{"id", "member", "purpose", "batch", "recipient", "secret_hash", "state", "issued_at", "expires_at", "seq"}

// statements holds the SQL of the store, qualified with its schema.
type statements struct {
	schema                                                             string // the quoted schema name
	get, peek, consume, present, fail, insert, watermark, marks, purge string
	nextSeq, watermarkNow, batches                                     string
	freeze, thaw, holds, appendEvents, ping, hit                       string
	// revoke, records, count and tally end in a condition that where
	// renders.
	revoke, records, count, tally string
	// issuedEntries, consumedEntries and appendedEntries are the branches
	// of the ledger query, each ending in a condition the query renders.
	issuedEntries, consumedEntries, appendedEntries string
	// createSchema, migrations, versions and recordVersion are Migrate's.
	createSchema, migrations, versions, recordVersion string
}

// Statements on no schema of the store's: Migrate's lock, keyed by the
// schema's name, and whether the schema exists.
const (
	migrateLockSQL  = "SELECT pg_advisory_xact_lock($1)"
	schemaExistsSQL = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)"
)

// outcomeExpr computes the outcome of every check on the record t, in
// contract order; a record passes them all exactly when the consume
// statement's WHERE clause holds (the two must agree). Watermarks and holds
// are read in the statement's snapshot, with the record, so the outcome is
// the one of a single instant. Its arguments: $2 secret hash, $3 time, $4
// state, $5 member, $6 purpose, $7 batch.
const outcomeExpr = `CASE
		WHEN t.secret_hash <> $2 OR t.member <> $5 OR t.purpose <> $6 OR t.batch <> $7 THEN 2
		WHEN t.status = 3 OR EXISTS (SELECT 1 FROM %[1]s.guards g
			WHERE g.k = ANY (ARRAY['1', '3' || t.member]) AND (g.cutoff > t.issued_at OR g.cutoff_seq > t.seq)) THEN 3
		WHEN t.status = 2 THEN 4
		WHEN t.expires_at <= $3 THEN 5
		WHEN EXISTS (SELECT 1 FROM %[1]s.guards g
			WHERE g.k = ANY (ARRAY['1', '2' || t.batch, '3' || t.member]) AND g.held) THEN 6
		WHEN t.state IS NOT NULL AND t.state IS DISTINCT FROM $4::bytea THEN 7
		ELSE 0 END::smallint`

// prepare qualifies the statements with the quoted schema name q.
func prepare(q string) statements {
	f := func(s string) string { return fmt.Sprintf(s, q) }
	return statements{
		schema:          q,
		get:             f(getSQL),
		peek:            f(peekSQL),
		consume:         f(consumeSQL),
		present:         f(presentSQL),
		fail:            f(failSQL),
		insert:          f(insertSQL),
		nextSeq:         f(nextSeqSQL),
		watermarkNow:    f(watermarkNowSQL),
		batches:         f(batchesSQL),
		watermark:       f(watermarkSQL),
		marks:           f(marksSQL),
		purge:           f(purgeSQL),
		freeze:          f(freezeSQL),
		thaw:            f(thawSQL),
		holds:           f(holdsSQL),
		appendEvents:    f(appendEventsSQL),
		ping:            f(pingSQL),
		hit:             f(hitSQL),
		revoke:          f(revokeSQL),
		records:         f(recordsSQL),
		count:           f(countSQL),
		tally:           f(tallySQL),
		issuedEntries:   f(issuedEntriesSQL),
		consumedEntries: f(consumedEntriesSQL),
		appendedEntries: f(appendedEntriesSQL),
		createSchema:    f(createSchemaSQL),
		migrations:      f(migrationsSQL),
		versions:        f(versionsSQL),
		recordVersion:   f(recordVersionSQL),
	}
}

// getSQL reads one record.
const getSQL = `SELECT ` + recordCols + ` FROM %[1]s.tokens WHERE id = $1`

// peekSQL reads a record with the outcome of its checks (outcomeExpr).
const peekSQL = `SELECT ` + outcomeExpr + `, ` + recordCols + ` FROM %[1]s.tokens t WHERE t.id = $1`

// consumeSQL marks the record consumed if every check passes: see
// Store.Consume. $8 is true for a mismatched request, which then
// matches nothing, at the same cost. The claims are compared with IS NOT
// DISTINCT FROM (the same as = on these NOT NULL columns) because the
// planner cannot use an index for it: with "member = $5" it found the row
// through the member index, tied in cost with the primary key, and so read
// every record of the member (EXPLAIN ANALYZE); now the primary key is
// the only way in.
const consumeSQL = `UPDATE %[1]s.tokens t
SET status = 2, consumed_at = $3, c_identity = $9, c_ip = $10, c_user_agent = $11, c_session = $12
WHERE t.id = $1 AND t.status = 1 AND t.secret_hash = $2 AND t.expires_at > $3
  AND (t.state IS NULL OR t.state = $4::bytea)
  AND (t.member, t.purpose, t.batch) IS NOT DISTINCT FROM ($5, $6, $7) AND NOT $8::boolean
  AND NOT EXISTS (SELECT 1 FROM %[1]s.guards g
    WHERE g.k = ANY (ARRAY['1', '2' || t.batch, '3' || t.member]) AND (g.held OR g.cutoff > t.issued_at OR g.cutoff_seq > t.seq))
RETURNING ` + recordCols

// presentSQL checks a record for a confirmed or mismatched request and
// adds $8 (1 for a mismatch, 0 for a confirmation: the same write)
// to its failures, revoking an issued record that reaches $9 (> 0),
// in one statement; it returns the outcome the record had before,
// and no row when there is no record or the secret check fails.
var presentSQL = `WITH o AS (SELECT t.id, ` + outcomeExpr + ` AS outcome FROM %[1]s.tokens t WHERE t.id = $1)
UPDATE %[1]s.tokens t SET failures = t.failures + $8::int,
	status = CASE WHEN $8::int > 0 AND $9::int > 0 AND t.failures + 1 >= $9::int AND t.status = 1 THEN 3::smallint ELSE t.status END,
	revoked_at = CASE WHEN $8::int > 0 AND $9::int > 0 AND t.failures + 1 >= $9::int AND t.status = 1 THEN $3 ELSE t.revoked_at END
FROM o WHERE t.id = o.id AND o.outcome <> 2
RETURNING o.outcome, ` + qualified("t", recordCols)

// failSQL counts one failure, revoking an issued record at the cap $3.
const failSQL = `UPDATE %[1]s.tokens SET failures = failures + 1,
	status = CASE WHEN $3::int > 0 AND failures + 1 >= $3::int AND status = 1 THEN 3::smallint ELSE status END,
	revoked_at = CASE WHEN $3::int > 0 AND failures + 1 >= $3::int AND status = 1 THEN $2 ELSE revoked_at END
WHERE id = $1 RETURNING ` + recordCols

// insertSQL gives every record of the call one number of the sequence.
var insertSQL = `WITH n AS (SELECT nextval('%[1]s.seq') AS seq)
INSERT INTO %[1]s.tokens (` + strings.Join(copyCols, ", ") + `)
SELECT u.*, n.seq FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bytea[], $8::timestamptz[], $9::timestamptz[]) u, n`

// nextSeqSQL draws a number of the schema's sequence.
const nextSeqSQL = `SELECT nextval('%[1]s.seq')`

// watermarkNowSQL raises a sequence watermark to a number it draws,
// keeping the greater, and returns the mark as it stands.
const watermarkNowSQL = `INSERT INTO %[1]s.guards (k, cutoff_seq) VALUES ($1, nextval('%[1]s.seq'))
ON CONFLICT (k) DO UPDATE SET cutoff_seq = GREATEST(%[1]s.guards.cutoff_seq, EXCLUDED.cutoff_seq)
RETURNING cutoff, cutoff_seq`

// batchesSQL lists the batch summaries after a batch.
const batchesSQL = `SELECT batch, count(*), min(issued_at), max(issued_at) FROM %[1]s.tokens
WHERE batch > $1 AND batch <> '' GROUP BY batch ORDER BY batch LIMIT $2`

// watermarkSQL places a time watermark, keeping the later time.
const watermarkSQL = `INSERT INTO %[1]s.guards (k, cutoff) VALUES ($1, $2)
ON CONFLICT (k) DO UPDATE SET cutoff = GREATEST(%[1]s.guards.cutoff, EXCLUDED.cutoff)`

// marksSQL lists the watermarks, the global one first.
const marksSQL = `SELECT substr(k, 2), cutoff, cutoff_seq FROM %[1]s.guards
WHERE cutoff IS NOT NULL OR cutoff_seq IS NOT NULL ORDER BY k`

// purgeSQL deletes the records that expired before $1, the events
// recorded before it and the counts of the windows that ended before $2,
// in one statement; guards left with neither a hold nor a watermark go
// with them.
const purgeSQL = `WITH d AS (DELETE FROM %[1]s.tokens WHERE expires_at < $1 RETURNING 1),
e AS (DELETE FROM %[1]s.events WHERE occurred_at < $1),
h AS (DELETE FROM %[1]s.hits WHERE (bucket + 1) * w < $2),
g AS (DELETE FROM %[1]s.guards WHERE NOT held AND cutoff IS NULL AND cutoff_seq IS NULL)
SELECT count(*) FROM d`

// freezeSQL places a hold, keeping one in place.
const freezeSQL = `INSERT INTO %[1]s.guards (k, held, since, reason) VALUES ($1, true, $2, $3)
ON CONFLICT (k) DO UPDATE SET held = true, since = EXCLUDED.since, reason = EXCLUDED.reason WHERE NOT %[1]s.guards.held`

// thawSQL lifts a hold. A thawed guard stays, without its hold, so that
// a watermark on the same key is never touched by a thaw.
const thawSQL = `UPDATE %[1]s.guards SET held = false, since = NULL, reason = NULL WHERE k = $1 AND held`

// holdsSQL lists the holds by key: scope, then batch or member.
const holdsSQL = `SELECT k, since, reason FROM %[1]s.guards WHERE held ORDER BY k`

// appendEventsSQL appends events, in their order, in one INSERT.
const appendEventsSQL = `INSERT INTO %[1]s.events (occurred_at, kind, reason, token_id, member, batch, purpose,
	identity, ip, user_agent, session, count, actor, detail)
SELECT a, k, r, nullif(tid, '')::uuid, m, b, p, i, ip, ua, s, c, ac, d
FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::text[])
	WITH ORDINALITY AS x(a, k, r, tid, m, b, p, i, ip, ua, s, c, ac, d, n)
ORDER BY n`

// pingSQL reads the schema's version.
const pingSQL = `SELECT coalesce(max(version), 0) FROM %[1]s.schema_migrations`

// hitSQL counts one hit and returns the counts of its bucket and of the
// bucket before; in the same statement it deletes the key's buckets before
// that (an index range that is empty but for the first hit of a bucket).
const hitSQL = `WITH old AS (DELETE FROM %[1]s.hits WHERE k = $1 AND w = $2 AND bucket < $3 - 1)
INSERT INTO %[1]s.hits AS h (k, w, bucket, n) VALUES ($1, $2, $3, 1)
ON CONFLICT (k, w, bucket) DO UPDATE SET n = h.n + 1
RETURNING h.n, (SELECT p.n FROM %[1]s.hits p WHERE p.k = $1 AND p.w = $2 AND p.bucket = $3 - 1)`

// revokeSQL, recordsSQL, countSQL and tallySQL end in a condition that
// where renders.
const (
	revokeSQL  = `UPDATE %[1]s.tokens SET status = 3, revoked_at = $1 WHERE status <> 3 AND `
	recordsSQL = `SELECT ` + recordCols + ` FROM %[1]s.tokens WHERE `
	countSQL   = `SELECT count(*) FROM %[1]s.tokens WHERE `
	tallySQL   = `SELECT ` + decideExpr + `, count(*) FROM %[1]s.tokens t WHERE `
)

// The branches of the ledger query, each ending in the conditions
// eventQuery renders: the issued entries derived from the records, their
// consumed entries, and the appended events.
const (
	issuedEntriesSQL = `SELECT t.issued_at AS at, 0 AS ord, t.id AS kid, 0::bigint AS kseq,
	'issued' AS kind, '' AS reason, t.id::text AS token_id, t.member::text AS member, t.batch::text AS batch, t.purpose::text AS purpose,
	'' AS identity, '' AS ip, '' AS user_agent, '' AS session, 0::bigint AS count, '' AS actor, t.recipient AS detail
FROM %[1]s.tokens t WHERE TRUE`
	consumedEntriesSQL = `SELECT t.consumed_at AS at, 1 AS ord, t.id AS kid, 0::bigint AS kseq,
	'consumed' AS kind, '' AS reason, t.id::text AS token_id, t.member::text AS member, t.batch::text AS batch, t.purpose::text AS purpose,
	coalesce(t.c_identity, '') AS identity, coalesce(t.c_ip, '') AS ip, coalesce(t.c_user_agent, '') AS user_agent,
	coalesce(t.c_session, '') AS session, 0::bigint AS count, '' AS actor, '' AS detail
FROM %[1]s.tokens t WHERE t.consumed_at IS NOT NULL`
	appendedEntriesSQL = `SELECT e.occurred_at AS at, 2 AS ord, NULL::uuid AS kid, e.seq AS kseq,
	e.kind::text AS kind, e.reason, coalesce(e.token_id::text, '') AS token_id, e.member::text AS member,
	e.batch::text AS batch, e.purpose, e.identity, e.ip, e.user_agent, e.session, e.count, e.actor, e.detail
FROM %[1]s.events e WHERE TRUE`
)

// Migrate's statements: the schema, the table of applied migrations,
// the versions applied, and one more applied.
const (
	createSchemaSQL = `CREATE SCHEMA %[1]s`
	migrationsSQL   = `CREATE TABLE IF NOT EXISTS %[1]s.schema_migrations (
	version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
	versionsSQL      = `SELECT version FROM %[1]s.schema_migrations`
	recordVersionSQL = `INSERT INTO %[1]s.schema_migrations (version, name) VALUES ($1, $2)`
)

// qualified prefixes each of a list of columns with a table alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = alias + "." + c
	}
	return strings.Join(parts, ", ")
}

// decideExpr is store.Decide in SQL, on the record t at the time $1: the
// same rules as outcomeExpr without the secret and the state.
const decideExpr = `CASE
		WHEN t.status = 3 OR EXISTS (SELECT 1 FROM %[1]s.guards g
			WHERE g.k = ANY (ARRAY['1', '3' || t.member]) AND (g.cutoff > t.issued_at OR g.cutoff_seq > t.seq)) THEN 3
		WHEN t.status = 2 THEN 4
		WHEN t.expires_at <= $1 THEN 5
		WHEN EXISTS (SELECT 1 FROM %[1]s.guards g
			WHERE g.k = ANY (ARRAY['1', '2' || t.batch, '3' || t.member]) AND g.held) THEN 6
		ELSE 0 END`
