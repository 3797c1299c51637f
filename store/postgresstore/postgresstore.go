package postgresstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Store    = (*Store)(nil)
	_ store.Pinger   = (*Store)(nil)
	_ store.Counters = (*Store)(nil)
)

// DefaultSchema is the schema the store uses unless [WithSchema] names
// another.
const DefaultSchema = "oncelink"

// Option configures a [Store].
type Option func(*config)

type config struct {
	schema string
}

// WithSchema names the schema that holds the store's tables. It must be a
// lower-case identifier: a letter or underscore, then letters, digits or
// underscores, at most 63 bytes, not starting with "pg_".
func WithSchema(name string) Option {
	return func(c *config) { c.schema = name }
}

// Store is a [store.Store] in a PostgreSQL schema. It is safe for concurrent
// use by any number of goroutines and processes.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	sql    statements
}

// New returns a store that uses pool and the schema named by the options. It
// does not touch the database: call [Store.Migrate] once to create or
// upgrade the schema. The caller owns the pool and closes it.
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: nil pool")
	}
	c := config{schema: DefaultSchema}
	for _, o := range opts {
		o(&c)
	}
	if !safeIdent(c.schema) {
		return nil, fmt.Errorf("postgres: schema name %q is not a safe identifier", c.schema)
	}
	return &Store{pool: pool, schema: c.schema, sql: prepare(pgx.Identifier{c.schema}.Sanitize())}, nil
}

func safeIdent(s string) bool {
	if s == "" || len(s) > 63 || strings.HasPrefix(s, "pg_") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Outcome codes computed by the check statements, in contract order.
const (
	outcomeOK      = 0
	outcomeSecret  = 2
	outcomeRevoked = 3
	outcomeUsed    = 4
	outcomeExpired = 5
	outcomeFrozen  = 6
	outcomeStale   = 7
)

var outcomeErr = map[int16]error{
	outcomeSecret:  store.ErrSecret,
	outcomeRevoked: store.ErrRevoked,
	outcomeUsed:    store.ErrUsed,
	outcomeExpired: store.ErrExpired,
	outcomeFrozen:  store.ErrFrozen,
	outcomeStale:   store.ErrStale,
}

// recordCols are the columns scanRecord reads, in its order.
const recordCols = "id, member, purpose, batch, recipient, secret_hash, state, issued_at, expires_at, " +
	"status, failures, consumed_at, revoked_at, c_identity, c_ip, c_user_agent, c_session, seq"

// copyCols are the columns Insert writes; the store fills the others.
var copyCols = []string{"id", "member", "purpose", "batch", "recipient", "secret_hash", "state", "issued_at", "expires_at", "seq"}

// smallInsert is the largest Insert done with one INSERT statement rather
// than COPY.
const smallInsert = 32

// statements holds the SQL of the store, qualified with its schema.
type statements struct {
	get, peek, consume, present, fail, insert, watermark, marks, purge string
	nextSeq, watermarkNow, batches                                     string
	freeze, thaw, holds, appendEvents, ping, hit, hitClean             string
	tokens, events                                                     string // qualified table names
}

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

func prepare(q string) statements {
	f := func(s string) string { return fmt.Sprintf(s, q) }
	return statements{
		tokens: q + ".tokens",
		events: q + ".events",
		get:    f(`SELECT ` + recordCols + ` FROM %[1]s.tokens WHERE id = $1`),
		peek:   f(`SELECT ` + outcomeExpr + `, ` + recordCols + ` FROM %[1]s.tokens t WHERE t.id = $1`),
		// consume marks the record consumed if every check passes: see
		// Store.Consume. $8 is true for a mismatched request, which then
		// matches nothing, at the same cost.
		consume: f(`UPDATE %[1]s.tokens t
SET status = 2, consumed_at = $3, c_identity = $9, c_ip = $10, c_user_agent = $11, c_session = $12
WHERE t.id = $1 AND t.status = 1 AND t.secret_hash = $2 AND t.expires_at > $3
  AND (t.state IS NULL OR t.state = $4::bytea)
  AND t.member = $5 AND t.purpose = $6 AND t.batch = $7 AND NOT $8::boolean
  AND NOT EXISTS (SELECT 1 FROM %[1]s.guards g
    WHERE g.k = ANY (ARRAY['1', '2' || t.batch, '3' || t.member]) AND (g.held OR g.cutoff > t.issued_at OR g.cutoff_seq > t.seq))
RETURNING ` + recordCols),
		// present checks a record for a confirmed or mismatched request and
		// adds $8 (1 for a mismatch, 0 for a confirmation: the same write)
		// to its failures, revoking an issued record that reaches $9 (> 0),
		// in one statement; it returns the outcome the record had before,
		// and no row when there is no record or the secret check fails.
		present: f(`WITH o AS (SELECT t.id, ` + outcomeExpr + ` AS outcome FROM %[1]s.tokens t WHERE t.id = $1)
UPDATE %[1]s.tokens t SET failures = t.failures + $8::int,
	status = CASE WHEN $8::int > 0 AND $9::int > 0 AND t.failures + 1 >= $9::int AND t.status = 1 THEN 3::smallint ELSE t.status END,
	revoked_at = CASE WHEN $8::int > 0 AND $9::int > 0 AND t.failures + 1 >= $9::int AND t.status = 1 THEN $3 ELSE t.revoked_at END
FROM o WHERE t.id = o.id AND o.outcome <> 2
RETURNING o.outcome, ` + qualified("t", recordCols)),
		fail: f(`UPDATE %[1]s.tokens SET failures = failures + 1,
	status = CASE WHEN $3::int > 0 AND failures + 1 >= $3::int AND status = 1 THEN 3::smallint ELSE status END,
	revoked_at = CASE WHEN $3::int > 0 AND failures + 1 >= $3::int AND status = 1 THEN $2 ELSE revoked_at END
WHERE id = $1 RETURNING ` + recordCols),
		// insert gives every record of the call one number of the sequence.
		insert: f(`WITH n AS (SELECT nextval('%[1]s.seq') AS seq)
INSERT INTO %[1]s.tokens (` + strings.Join(copyCols, ", ") + `)
SELECT u.*, n.seq FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bytea[], $8::timestamptz[], $9::timestamptz[]) u, n`),
		nextSeq: f(`SELECT nextval('%[1]s.seq')`),
		watermarkNow: f(`INSERT INTO %[1]s.guards (k, cutoff_seq) VALUES ($1, nextval('%[1]s.seq'))
ON CONFLICT (k) DO UPDATE SET cutoff_seq = GREATEST(%[1]s.guards.cutoff_seq, EXCLUDED.cutoff_seq)
RETURNING cutoff, cutoff_seq`),
		batches: f(`SELECT batch, count(*), min(issued_at), max(issued_at) FROM %[1]s.tokens
WHERE batch > $1 AND batch <> '' GROUP BY batch ORDER BY batch LIMIT $2`),
		watermark: f(`INSERT INTO %[1]s.guards (k, cutoff) VALUES ($1, $2)
ON CONFLICT (k) DO UPDATE SET cutoff = GREATEST(%[1]s.guards.cutoff, EXCLUDED.cutoff)`),
		marks: f(`SELECT substr(k, 2), cutoff, cutoff_seq FROM %[1]s.guards
WHERE cutoff IS NOT NULL OR cutoff_seq IS NOT NULL ORDER BY k`),
		// Guards left with neither a hold nor a watermark go with the purge.
		purge: f(`WITH d AS (DELETE FROM %[1]s.tokens WHERE expires_at < $1 RETURNING 1),
e AS (DELETE FROM %[1]s.events WHERE occurred_at < $1),
h AS (DELETE FROM %[1]s.hits WHERE (bucket + 1) * w < $2),
g AS (DELETE FROM %[1]s.guards WHERE NOT held AND cutoff IS NULL AND cutoff_seq IS NULL)
SELECT count(*) FROM d`),
		freeze: f(`INSERT INTO %[1]s.guards (k, held, since, reason) VALUES ($1, true, $2, $3)
ON CONFLICT (k) DO UPDATE SET held = true, since = EXCLUDED.since, reason = EXCLUDED.reason WHERE NOT %[1]s.guards.held`),
		// A thawed guard stays, without its hold, so that a watermark on the
		// same key is never touched by a thaw.
		thaw:  f(`UPDATE %[1]s.guards SET held = false, since = NULL, reason = NULL WHERE k = $1 AND held`),
		holds: f(`SELECT k, since, reason FROM %[1]s.guards WHERE held ORDER BY k`),
		appendEvents: f(`INSERT INTO %[1]s.events (occurred_at, kind, reason, token_id, member, batch, purpose,
	identity, ip, user_agent, session, count, actor, detail)
SELECT a, k, r, nullif(tid, '')::uuid, m, b, p, i, ip, ua, s, c, ac, d
FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::text[])
	WITH ORDINALITY AS x(a, k, r, tid, m, b, p, i, ip, ua, s, c, ac, d, n)
ORDER BY n`),
		ping: f(`SELECT coalesce(max(version), 0) FROM %[1]s.schema_migrations`),
		hit: f(`INSERT INTO %[1]s.hits AS h (k, w, bucket, n) VALUES ($1, $2, $3, 1)
ON CONFLICT (k, w, bucket) DO UPDATE SET n = h.n + 1
RETURNING h.n, (SELECT p.n FROM %[1]s.hits p WHERE p.k = $1 AND p.w = $2 AND p.bucket = $3 - 1)`),
		hitClean: f(`DELETE FROM %[1]s.hits WHERE k = $1 AND w = $2 AND bucket < $3 - 1`),
	}
}

// qualified prefixes each of a list of columns with a table alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = alias + "." + c
	}
	return strings.Join(parts, ", ")
}

// unavailable wraps a failure that is not a documented outcome. The error
// of the driver never carries query arguments, so no hash leaks through it.
func (s *Store) unavailable(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000" || pe.Code == "42703") {
		return fmt.Errorf("%w: %w: postgres: %s: schema %q is not migrated (call Migrate): %w", store.ErrUnavailable, store.ErrNoStore, op, s.schema, err)
	}
	return fmt.Errorf("%w: postgres: %s: %w", store.ErrUnavailable, op, err)
}

// Ping checks that the server answers and that the schema is migrated to
// the version this package expects.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.pool.QueryRow(ctx, s.sql.ping).Scan(&v); err != nil {
		return s.unavailable("ping", err)
	}
	if want := latestVersion(); v < want {
		return fmt.Errorf("%w: %w: postgres: ping: schema %q is at version %d, want %d (call Migrate)", store.ErrUnavailable, store.ErrNoStore, s.schema, v, want)
	}
	return nil
}

// scanRecord reads recordCols, after the destinations in prefix.
func scanRecord(row pgx.Row, r *store.Record, prefix ...any) error {
	var (
		secret                []byte
		status                int16
		failures              int32
		consumed, revoked     *time.Time
		identity, ip, ua, sid *string
	)
	dest := append(prefix, &r.ID, &r.Member, &r.Purpose, &r.Batch, &r.Recipient, &secret, &r.State,
		&r.IssuedAt, &r.ExpiresAt, &status, &failures, &consumed, &revoked, &identity, &ip, &ua, &sid, &r.Seq)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	copy(r.SecretHash[:], secret)
	r.IssuedAt, r.ExpiresAt = r.IssuedAt.UTC(), r.ExpiresAt.UTC()
	r.Status, r.Failures = store.Status(status), int(failures)
	if consumed != nil {
		r.ConsumedAt = consumed.UTC()
	}
	if revoked != nil {
		r.RevokedAt = revoked.UTC()
	}
	r.Consumer = store.Presentation{Identity: deref(identity), IP: deref(ip), UserAgent: deref(ua), Session: deref(sid)}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nullable stores an empty string as NULL, which costs no bytes in a row.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Insert implements [store.Tokens]. A few records go in one INSERT; more go
// in one COPY. Either is one statement, so the insert is all or nothing.
func (s *Store) Insert(ctx context.Context, recs []store.Record) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("insert", err)
	}
	if len(recs) == 0 {
		return nil
	}
	if err := store.ValidateInsert(recs); err != nil {
		return err
	}
	ids := make([][16]byte, len(recs))
	for i := range recs {
		ids[i], _ = store.ParseID(recs[i].ID)
	}
	var err error
	if len(recs) <= smallInsert {
		err = s.insertSmall(ctx, recs, ids)
	} else {
		err = s.insertCopy(ctx, recs, ids)
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return fmt.Errorf("%w: postgres: an id is already held", store.ErrDuplicate)
		}
		return s.unavailable("insert", err)
	}
	return nil
}

func (s *Store) insertSmall(ctx context.Context, recs []store.Record, ids [][16]byte) error {
	n := len(recs)
	var (
		members, purposes, batches, recipients = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		secrets, states                        = make([][]byte, n), make([][]byte, n)
		issued, expires                        = make([]time.Time, n), make([]time.Time, n)
	)
	for i := range recs {
		r := &recs[i]
		members[i], purposes[i], batches[i], recipients[i] = r.Member, r.Purpose, r.Batch, r.Recipient
		secrets[i], states[i] = r.SecretHash[:], r.State
		issued[i], expires[i] = store.Micro(r.IssuedAt), store.Micro(r.ExpiresAt)
	}
	_, err := s.pool.Exec(ctx, s.sql.insert, ids, members, purposes, batches, recipients, secrets, states, issued, expires)
	return err
}

// insertCopy draws the records' number of the sequence, then copies them
// in. A number drawn by a COPY that then fails is simply never used.
func (s *Store) insertCopy(ctx context.Context, recs []store.Record, ids [][16]byte) error {
	var seq int64
	if err := s.pool.QueryRow(ctx, s.sql.nextSeq).Scan(&seq); err != nil {
		return err
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{s.schema, "tokens"}, copyCols, &recordSource{recs: recs, ids: ids, i: -1, seq: seq})
	return err
}

// recordSource feeds records to COPY without building every row up front.
type recordSource struct {
	recs []store.Record
	ids  [][16]byte
	seq  int64
	i    int
	row  [10]any
}

func (rs *recordSource) Next() bool { rs.i++; return rs.i < len(rs.recs) }
func (rs *recordSource) Err() error { return nil }
func (rs *recordSource) Values() ([]any, error) {
	r := &rs.recs[rs.i]
	var state any
	if r.State != nil {
		state = r.State
	}
	rs.row = [10]any{rs.ids[rs.i], r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], state,
		store.Micro(r.IssuedAt), store.Micro(r.ExpiresAt), rs.seq}
	return rs.row[:], nil
}

// Get implements [store.Tokens].
func (s *Store) Get(ctx context.Context, id string) (store.Record, error) {
	if !store.ValidID(id) {
		if err := ctx.Err(); err != nil {
			return store.Record{}, s.unavailable("get", err)
		}
		return store.Record{}, store.ErrNotFound
	}
	var r store.Record
	if err := scanRecord(s.pool.QueryRow(ctx, s.sql.get, id), &r); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.Record{}, store.ErrNotFound
		}
		return store.Record{}, s.unavailable("get", err)
	}
	return r, nil
}

// Peek implements [store.Tokens]: the checks of Consume, in one SELECT for
// an unconfirmed request, and in the present statement (the one a refused
// Consume runs) for a confirmed or mismatched one.
func (s *Store) Peek(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if req.Confirmation == store.Unconfirmed {
		return s.check(ctx, "peek", &req)
	}
	if err := s.validate(ctx, "peek", &req); err != nil {
		return store.Record{}, err
	}
	r, err := s.present(ctx, "peek", &req)
	if err == nil && req.Confirmation == store.Mismatched {
		err = store.ErrMismatch
	}
	return r, err
}

// consumeAttempts bounds how often Consume runs again when a hold was lifted
// between its update and the check of the reason.
const consumeAttempts = 3

// Consume implements [store.Tokens].
//
// The success path is one statement and one round trip: an UPDATE whose
// WHERE clause holds every check (status, secret hash, the token's claims,
// expiry, state, and no guard on the record's global, batch or member key
// that is held or has a watermark after its issue, found with one index
// scan). Its row lock serialises concurrent consumers, and under Read
// Committed a consumer that waited for the lock evaluates the whole clause
// again on the newest version of the row, so exactly one consumer wins.
// When the UPDATE changes nothing, a second statement tells why in contract
// order; it runs in a newer snapshot, which sees the committed change that
// made the UPDATE fail. For an unconfirmed request it is Peek's SELECT; for
// a confirmed or mismatched one it is the present statement, which also
// counts the failure of a mismatch and makes the same write for a
// confirmation, so that a right and a wrong identity cost the same. Only if
// that statement finds the record consumable (a hold was lifted in between)
// is the UPDATE tried again.
func (s *Store) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if err := s.validate(ctx, "consume", &req); err != nil {
		return store.Record{}, err
	}
	p := &req.Presentation
	mismatched := req.Confirmation == store.Mismatched
	for range consumeAttempts {
		var r store.Record
		err := scanRecord(s.pool.QueryRow(ctx, s.sql.consume, req.ID, req.SecretHash[:], store.Micro(req.At), stateArg(req.State),
			req.Member, req.Purpose, req.Batch, mismatched,
			nullable(p.Identity), nullable(p.IP), nullable(p.UserAgent), nullable(p.Session)), &r)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return store.Record{}, s.unavailable("consume", err)
		}
		if req.Confirmation == store.Unconfirmed {
			r, err = s.check(ctx, "consume", &req)
		} else {
			r, err = s.present(ctx, "consume", &req)
		}
		if err != nil {
			return r, err
		}
		if mismatched {
			return r, store.ErrMismatch
		}
	}
	return store.Record{}, fmt.Errorf("%w: postgres: consume: the record changed during every attempt", store.ErrUnavailable)
}

func stateArg(st []byte) any {
	if st == nil {
		return nil
	}
	return st
}

// validate checks the context and the request; a malformed id is a record
// that is not found.
func (s *Store) validate(ctx context.Context, op string, req *store.ConsumeRequest) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable(op, err)
	}
	if err := req.Validate(); err != nil {
		return err
	}
	if !store.ValidID(req.ID) {
		return store.ErrNotFound
	}
	return nil
}

// outcomeOf maps an outcome code to the contract's error.
func (s *Store) outcomeOf(op string, outcome int16) error {
	if outcome == outcomeOK {
		return nil
	}
	if err, ok := outcomeErr[outcome]; ok {
		return err
	}
	return fmt.Errorf("%w: postgres: %s: unknown outcome %d", store.ErrUnavailable, op, outcome)
}

// check runs the checks of Consume in one SELECT and returns the record with
// the first failing check's error, or nil if it passes them all.
func (s *Store) check(ctx context.Context, op string, req *store.ConsumeRequest) (store.Record, error) {
	if err := s.validate(ctx, op, req); err != nil {
		return store.Record{}, err
	}
	var (
		r       store.Record
		outcome int16
	)
	row := s.pool.QueryRow(ctx, s.sql.peek, req.ID, req.SecretHash[:], store.Micro(req.At), stateArg(req.State),
		req.Member, req.Purpose, req.Batch)
	if err := scanRecord(row, &r, &outcome); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.Record{}, store.ErrNotFound
		}
		return store.Record{}, s.unavailable(op, err)
	}
	if err := s.outcomeOf(op, outcome); err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return store.Record{}, err
		}
		return r, err
	}
	return r, nil
}

// present runs the present statement for a confirmed or mismatched request
// and returns the record after it with the outcome the record had before.
// A record that is not found, or fails the secret check, changes nothing,
// and Peek's SELECT says which.
func (s *Store) present(ctx context.Context, op string, req *store.ConsumeRequest) (store.Record, error) {
	n := int32(0)
	if req.Confirmation == store.Mismatched {
		n = 1
	}
	var (
		r       store.Record
		outcome int16
	)
	err := scanRecord(s.pool.QueryRow(ctx, s.sql.present, req.ID, req.SecretHash[:], store.Micro(req.At), stateArg(req.State),
		req.Member, req.Purpose, req.Batch, n, int32(req.MaxFailures)), &r, &outcome)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.check(ctx, op, req)
	}
	if err != nil {
		return store.Record{}, s.unavailable(op, err)
	}
	if err := s.outcomeOf(op, outcome); err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return store.Record{}, err
		}
		return r, err
	}
	return r, nil
}

// Fail implements [store.Tokens] in one UPDATE.
func (s *Store) Fail(ctx context.Context, id string, at time.Time, max int) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, s.unavailable("fail", err)
	}
	if !store.ValidID(id) {
		return store.Record{}, store.ErrNotFound
	}
	if max < 0 || max > 1<<30 {
		return store.Record{}, fmt.Errorf("%w: postgres: fail limit out of range", store.ErrInvalid)
	}
	var r store.Record
	if err := scanRecord(s.pool.QueryRow(ctx, s.sql.fail, id, store.Micro(at), int32(max)), &r); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.Record{}, store.ErrNotFound
		}
		return store.Record{}, s.unavailable("fail", err)
	}
	return r, nil
}

// where renders a valid filter as a condition on tokens, appending its
// arguments.
func where(f *store.Filter, args []any) (string, []any) {
	if f.All {
		return "TRUE", args
	}
	var conds []string
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if len(f.IDs) > 0 {
		add("id = ANY($?::uuid[])", f.IDs)
	}
	if len(f.Members) > 0 {
		add("member = ANY($?::text[])", f.Members)
	}
	if len(f.Batches) > 0 {
		// batch <> '' lets a generic plan use the partial batch index.
		add("batch = ANY($?::text[]) AND batch <> ''", f.Batches)
	}
	if f.Purpose != "" {
		add("purpose = $?", f.Purpose)
	}
	if !f.IssuedFrom.IsZero() {
		add("issued_at >= $?", store.MicroCeil(f.IssuedFrom))
	}
	if !f.IssuedBefore.IsZero() {
		add("issued_at < $?", store.MicroCeil(f.IssuedBefore))
	}
	if f.Consumed {
		conds = append(conds, "consumed_at IS NOT NULL")
	}
	return strings.Join(conds, " AND "), args
}

// Revoke implements [store.Tokens] in one UPDATE.
func (s *Store) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("revoke", err)
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	cond, args := where(&f, []any{store.Micro(at)})
	tag, err := s.pool.Exec(ctx, "UPDATE "+s.sql.tokens+" SET status = 3, revoked_at = $1 WHERE status <> 3 AND "+cond, args...)
	if err != nil {
		return 0, s.unavailable("revoke", err)
	}
	return tag.RowsAffected(), nil
}

// Records implements [store.Tokens].
func (s *Store) Records(ctx context.Context, q store.RecordQuery) ([]store.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("records", err)
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	cond, args := where(&q.Filter, nil)
	if q.After != "" {
		args = append(args, q.After)
		cond += " AND id > $" + strconv.Itoa(len(args)) + "::uuid"
	}
	args = append(args, q.PageSize())
	sql := "SELECT " + recordCols + " FROM " + s.sql.tokens + " WHERE " + cond +
		" ORDER BY id LIMIT $" + strconv.Itoa(len(args))
	rows, _ := s.pool.Query(ctx, sql, args...)
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Record, error) {
		var r store.Record
		err := scanRecord(row, &r)
		return r, err
	})
	if err != nil {
		return nil, s.unavailable("records", err)
	}
	return recs, nil
}

// Count implements [store.Tokens].
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("count", err)
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	cond, args := where(&f, nil)
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+s.sql.tokens+" WHERE "+cond, args...).Scan(&n); err != nil {
		return 0, s.unavailable("count", err)
	}
	return n, nil
}

// Purge implements [store.Tokens] in one statement: records and ledger
// entries go together or not at all.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.unavailable("purge", err)
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	var n int64
	if err := s.pool.QueryRow(ctx, s.sql.purge, store.Micro(before), before.UnixMicro()).Scan(&n); err != nil {
		return 0, s.unavailable("purge", err)
	}
	return n, nil
}

// guardKey is the key of a hold or watermark in the guards table: the
// scope's digit followed by the batch or member id.
func guardKey(scope store.Scope, key string) string {
	return strconv.Itoa(int(scope)) + key
}

// Freeze implements [store.Holds].
func (s *Store) Freeze(ctx context.Context, h store.Hold) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("freeze", err)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if len(h.Reason) > store.MaxReasonLen {
		return fmt.Errorf("%w: postgres: hold reason longer than %d bytes", store.ErrInvalid, store.MaxReasonLen)
	}
	if _, err := s.pool.Exec(ctx, s.sql.freeze, guardKey(h.Scope, h.Key), store.Micro(h.Since), h.Reason); err != nil {
		return s.unavailable("freeze", err)
	}
	return nil
}

// Thaw implements [store.Holds].
func (s *Store) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, s.unavailable("thaw", err)
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, s.sql.thaw, guardKey(scope, key))
	if err != nil {
		return false, s.unavailable("thaw", err)
	}
	return tag.RowsAffected() > 0, nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("holds", err)
	}
	rows, _ := s.pool.Query(ctx, s.sql.holds)
	holds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Hold, error) {
		var (
			h      store.Hold
			k      string
			reason *string
		)
		err := row.Scan(&k, &h.Since, &reason)
		if err == nil && k != "" {
			h.Scope, h.Key = store.Scope(k[0]-'0'), k[1:]
		}
		h.Since, h.Reason = h.Since.UTC(), deref(reason)
		return h, err
	})
	if err != nil {
		return nil, s.unavailable("holds", err)
	}
	return holds, nil
}

// Append implements [store.Ledger] in one INSERT.
func (s *Store) Append(ctx context.Context, events ...store.Event) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("append", err)
	}
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		at                                    = make([]time.Time, n)
		kind, reason, tid, member, batch, pur = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ident, ip, ua, sess, actor, detail    = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		count                                 = make([]int64, n)
	)
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			return err
		}
		at[i], kind[i], reason[i], tid[i] = store.Micro(e.At), string(e.Kind), e.Reason, e.TokenID
		member[i], batch[i], pur[i] = e.Member, e.Batch, e.Purpose
		ident[i], ip[i], ua[i], sess[i] = e.Presentation.Identity, e.Presentation.IP, e.Presentation.UserAgent, e.Presentation.Session
		count[i], actor[i], detail[i] = e.Count, e.Actor, e.Detail
	}
	if _, err := s.pool.Exec(ctx, s.sql.appendEvents, at, kind, reason, tid, member, batch, pur,
		ident, ip, ua, sess, count, actor, detail); err != nil {
		return s.unavailable("append", err)
	}
	return nil
}

// Ledger entries are ordered by (time, ord, key): issued entries (ord 0)
// before consumed ones (1) before appended events (2) at the same
// microsecond, then by token id or by sequence number. A cursor is that
// triple as "<unix µs>.<ord>.<id or seq>".
const (
	ordIssued   = 0
	ordConsumed = 1
	ordAppended = 2
)

type eventKey struct {
	at  time.Time
	ord int
	id  string // ordIssued, ordConsumed
	seq int64  // ordAppended
}

func (k eventKey) String() string {
	key := k.id
	if k.ord == ordAppended {
		key = strconv.FormatInt(k.seq, 10)
	}
	return strconv.FormatInt(k.at.UnixMicro(), 10) + "." + strconv.Itoa(k.ord) + "." + key
}

func parseEventKey(c string) (eventKey, error) {
	bad := fmt.Errorf("%w: postgres: malformed ledger cursor", store.ErrInvalid)
	at, rest, ok1 := strings.Cut(c, ".")
	ord, key, ok2 := strings.Cut(rest, ".")
	us, err1 := strconv.ParseInt(at, 10, 64)
	o, err2 := strconv.Atoi(ord)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || o < ordIssued || o > ordAppended {
		return eventKey{}, bad
	}
	k := eventKey{at: time.UnixMicro(us).UTC(), ord: o}
	if o == ordAppended {
		seq, err := strconv.ParseInt(key, 10, 64)
		if err != nil || seq < 0 {
			return eventKey{}, bad
		}
		k.seq = seq
	} else {
		if !store.ValidID(key) {
			return eventKey{}, bad
		}
		k.id = key
	}
	return k, nil
}

// eventQuery builds the ledger query: one branch per source, each with the
// filters, the cursor and the limit pushed down so that it can use the
// indexes, merged in key order.
type eventQuery struct {
	args     []any
	branches []string
}

func (b *eventQuery) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// after renders the cursor condition for a branch of the given ord, whose
// time column is at and whose key column and cast are key.
func (b *eventQuery) after(k *eventKey, ord int, at, key string, keyVal any) string {
	switch {
	case k == nil:
		return ""
	case ord > k.ord:
		return " AND " + at + " >= " + b.arg(k.at)
	case ord < k.ord:
		return " AND " + at + " > " + b.arg(k.at)
	}
	t := b.arg(k.at)
	return " AND (" + at + " > " + t + " OR (" + at + " = " + t + " AND " + key + " > " + b.arg(keyVal) + "))"
}

func (b *eventQuery) window(q *store.EventQuery, at string) string {
	var w string
	if !q.Since.IsZero() {
		w += " AND " + at + " >= " + b.arg(store.Micro(q.Since))
	}
	if !q.Until.IsZero() {
		w += " AND " + at + " < " + b.arg(store.Micro(q.Until))
	}
	return w
}

// Events implements [store.Ledger]: appended events and the entries derived
// from the records, merged in one query.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", s.unavailable("events", err)
	}
	if err := q.Validate(); err != nil {
		return nil, "", err
	}
	var cur *eventKey
	if q.After != "" {
		k, err := parseEventKey(q.After)
		if err != nil {
			return nil, "", err
		}
		cur = &k
	}
	b := &eventQuery{}
	limit := b.arg(q.PageSize() + 1)
	var who string
	// The <> '' conditions let generic plans use the partial indexes.
	if q.Batch != "" {
		who += " AND t.batch = " + b.arg(q.Batch) + " AND t.batch <> ''"
	}
	if q.Member != "" {
		who += " AND t.member = " + b.arg(q.Member) + " AND t.member <> ''"
	}
	var id string
	if cur != nil && cur.ord != ordAppended {
		id = cur.id
	}
	if q.Wants(store.EventIssued) {
		b.branches = append(b.branches, `SELECT t.issued_at AS at, 0 AS ord, t.id AS kid, 0::bigint AS kseq,
	'issued' AS kind, '' AS reason, t.id::text AS token_id, t.member::text AS member, t.batch::text AS batch, t.purpose::text AS purpose,
	'' AS identity, '' AS ip, '' AS user_agent, '' AS session, 0::bigint AS count, '' AS actor, t.recipient AS detail
FROM `+s.sql.tokens+` t WHERE TRUE`+who+b.window(&q, "t.issued_at")+
			b.after(cur, ordIssued, "t.issued_at", "t.id", id)+`
ORDER BY 1, 3 LIMIT `+limit)
	}
	if q.Wants(store.EventConsumed) {
		b.branches = append(b.branches, `SELECT t.consumed_at AS at, 1 AS ord, t.id AS kid, 0::bigint AS kseq,
	'consumed' AS kind, '' AS reason, t.id::text AS token_id, t.member::text AS member, t.batch::text AS batch, t.purpose::text AS purpose,
	coalesce(t.c_identity, '') AS identity, coalesce(t.c_ip, '') AS ip, coalesce(t.c_user_agent, '') AS user_agent,
	coalesce(t.c_session, '') AS session, 0::bigint AS count, '' AS actor, '' AS detail
FROM `+s.sql.tokens+` t WHERE t.consumed_at IS NOT NULL`+who+b.window(&q, "t.consumed_at")+
			b.after(cur, ordConsumed, "t.consumed_at", "t.id", id)+`
ORDER BY 1, 3 LIMIT `+limit)
	}
	var kinds []string
	for _, k := range q.Kinds {
		if k != store.EventIssued && k != store.EventConsumed {
			kinds = append(kinds, string(k))
		}
	}
	if len(q.Kinds) == 0 || len(kinds) > 0 {
		cond := strings.ReplaceAll(who, "t.", "e.")
		if len(kinds) > 0 {
			cond += " AND e.kind = ANY(" + b.arg(kinds) + "::text[])"
		}
		var seq int64
		if cur != nil && cur.ord == ordAppended {
			seq = cur.seq
		}
		b.branches = append(b.branches, `SELECT e.occurred_at AS at, 2 AS ord, NULL::uuid AS kid, e.seq AS kseq,
	e.kind::text AS kind, e.reason, coalesce(e.token_id::text, '') AS token_id, e.member::text AS member,
	e.batch::text AS batch, e.purpose, e.identity, e.ip, e.user_agent, e.session, e.count, e.actor, e.detail
FROM `+s.sql.events+` e WHERE TRUE`+cond+b.window(&q, "e.occurred_at")+
			b.after(cur, ordAppended, "e.occurred_at", "e.seq", seq)+`
ORDER BY 1, 4 LIMIT `+limit)
	}
	sql := "SELECT * FROM ((" + strings.Join(b.branches, ") UNION ALL (") + ")) x ORDER BY at, ord, kid, kseq LIMIT " + limit
	rows, _ := s.pool.Query(ctx, sql, b.args...)
	var keys []eventKey
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Event, error) {
		var (
			e    store.Event
			k    eventKey
			kid  *string
			kind string
		)
		err := row.Scan(&e.At, &k.ord, &kid, &k.seq, &kind, &e.Reason, &e.TokenID, &e.Member, &e.Batch, &e.Purpose,
			&e.Presentation.Identity, &e.Presentation.IP, &e.Presentation.UserAgent, &e.Presentation.Session,
			&e.Count, &e.Actor, &e.Detail)
		e.At, e.Kind = e.At.UTC(), store.EventKind(kind)
		k.at, k.id = e.At, deref(kid)
		e.Cursor = k.String()
		keys = append(keys, k)
		return e, err
	})
	if err != nil {
		return nil, "", s.unavailable("events", err)
	}
	next := ""
	if len(evs) > q.PageSize() {
		evs = evs[:q.PageSize()]
		next = evs[len(evs)-1].Cursor
	}
	return evs, next, nil
}

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_name.sql, and {schema} in it stands for the quoted schema.
func migrations() []migration {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		panic(err) // the pattern is a constant
	}
	var out []migration
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			panic("postgres: migration file without a version: " + name)
		}
		body, err := migrationFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out
}

func latestVersion() int {
	m := migrations()
	return m[len(m)-1].version
}

// Migrate creates the schema and its tables, or upgrades them, by applying
// the embedded migrations not yet recorded in the schema's
// schema_migrations table. It runs in one transaction under a transaction
// advisory lock keyed by the schema name, so that instances migrating at
// the same time apply each migration once; it is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	q := pgx.Identifier{s.schema}.Sanitize()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.unavailable("migrate", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	h := fnv.New64a()
	h.Write([]byte("oncelink.migrate." + s.schema))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
		return s.unavailable("migrate", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", s.schema).Scan(&exists); err != nil {
		return s.unavailable("migrate", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+q); err != nil {
			return s.unavailable("migrate", err)
		}
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+q+`.schema_migrations (
	version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return s.unavailable("migrate", err)
	}
	rows, _ := tx.Query(ctx, "SELECT version FROM "+q+".schema_migrations")
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return s.unavailable("migrate", err)
	}
	for _, m := range migrations() {
		if slices.Contains(done, int32(m.version)) {
			continue
		}
		if _, err := tx.Exec(ctx, strings.ReplaceAll(m.sql, "{schema}", q)); err != nil {
			return s.unavailable("migrate "+m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+q+".schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return s.unavailable("migrate", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return s.unavailable("migrate", err)
	}
	return nil
}
