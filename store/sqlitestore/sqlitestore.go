package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Store    = (*Store)(nil)
	_ store.Pinger   = (*Store)(nil)
	_ store.Counters = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks a file as an oncelink store (PRAGMA application_id,
// "oncl"); it is set by the first migration.
const applicationID = 0x6f6e636c

// insertChunk is the number of rows of one multi-row INSERT statement:
// insertCols parameters a row, well under SQLite's limit on bound
// parameters.
const (
	insertChunk = 128
	insertCols  = 10
)

// nextSeqSQL draws the next number of the store's sequence. It runs inside
// a write transaction, so numbers follow the order of the commits.
const nextSeqSQL = "UPDATE sequence SET last = last + 1 RETURNING last"

// Store is a [store.Store] in one SQLite file. It is safe for concurrent use
// by any number of goroutines and by several processes that open the same
// file. Call [Store.Close] when done.
type Store struct {
	w *sql.DB // one connection: every write goes through it
	r *sql.DB // read-only connections

	consume *sql.Stmt // on w
	probeW  *sql.Stmt // on w, inside the transaction of a contested refusal
	probeR  *sql.Stmt // on r
	get     *sql.Stmt // on r
	fail    *sql.Stmt // on w
	insert  *sql.Stmt // on w, insertChunk rows
	hit     *sql.Stmt // on w
}

// Open opens the store in the file at path, creating the file if needed,
// and brings its schema up to date. See the package documentation for the
// pragmas it sets and why.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("%w: sqlite: path must name a file", store.ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: sqlite: %w", store.ErrInvalid, err)
	}
	if cfg.mustExist {
		if err := probeFile(ctx, abs); err != nil {
			return nil, err
		}
	} else if err := create(abs); err != nil {
		return nil, unavailable("open", err)
	}
	busy := strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)
	common := url.Values{"_pragma": {"busy_timeout(" + busy + ")", "foreign_keys(1)", "synchronous(FULL)"}}
	wq, rq := url.Values{}, url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
		rq[k] = append([]string(nil), v...)
	}
	wq["_pragma"] = append(wq["_pragma"], "journal_mode(WAL)")
	wq.Set("_txlock", "immediate")
	rq["_pragma"] = append(rq["_pragma"], "query_only(1)")

	s := &Store{}
	if s.w, err = sql.Open("sqlite", fileURI(abs, wq)); err != nil {
		return nil, unavailable("open", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if s.r, err = sql.Open("sqlite", fileURI(abs, rq)); err != nil {
		s.w.Close()
		return nil, unavailable("open", err)
	}
	s.r.SetMaxOpenConns(cfg.readers)
	s.r.SetMaxIdleConns(cfg.readers)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	if err := s.setup(ctx, !cfg.mustExist); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// create makes the file, if it does not exist, readable by its owner only:
// SQLite would make it readable by everyone the umask allows, and gives its
// -wal and -shm files the mode of the database file. An existing file is
// not opened here: closing a descriptor of it would drop the POSIX locks
// other connections of this process hold on it.
func create(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// fileURI makes the SQLite URI of an absolute path with the driver's query
// parameters. A path that does not start with a slash (Windows) gets one.
func fileURI(abs string, q url.Values) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	p = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	return "file:" + p + "?" + q.Encode()
}

func (s *Store) setup(ctx context.Context, migrating bool) error {
	ro, err := readOnly(ctx, s.w)
	if err != nil {
		return unavailable("open", err)
	}
	if ro {
		return fmt.Errorf("%w: sqlite: open: the file is read-only", store.ErrUnavailable)
	}
	if err := migrate(ctx, s.w, migrating); err != nil {
		return err
	}
	var mode string
	var sync int
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return unavailable("open", err)
	}
	if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return unavailable("open", err)
	}
	if !strings.EqualFold(mode, "wal") || sync != 2 {
		return fmt.Errorf("%w: sqlite: open: the file is in journal mode %q with synchronous=%d, want WAL and FULL (is it on a network file system?)",
			store.ErrUnavailable, mode, sync)
	}
	prep := func(db *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.PrepareContext(ctx, q)
		return st
	}
	s.consume = prep(s.w, consumeSQL)
	s.probeW = prep(s.w, probeSQL)
	s.probeR = prep(s.r, probeSQL)
	s.get = prep(s.r, "SELECT "+recordCols+" FROM tokens WHERE id = ?")
	s.fail = prep(s.w, failSQL)
	s.insert = prep(s.w, insertSQL(insertChunk))
	s.hit = prep(s.w, hitSQL)
	if err != nil {
		return unavailable("prepare", err)
	}
	return nil
}

// migrate applies the embedded migrations the file lacks, in one IMMEDIATE
// transaction: a second process opening a fresh file waits for the first
// at BEGIN and then finds the schema in place. PRAGMA user_version holds the
// number of migrations applied. A file already up to date is only read, so
// opening it does not wait for another process's write lock.
//
// When migrating is false it applies nothing, and a file that lacks a
// migration is [store.ErrNoStore].
func migrate(ctx context.Context, db *sql.DB, migrating bool) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return unavailable("migrate", err)
	}
	version, err := schemaVersion(ctx, db, len(names))
	if err != nil || version == len(names) {
		return err
	}
	if !migrating {
		return fmt.Errorf("%w: sqlite: the file has schema version %d, this program needs %d (migrate it)", store.ErrNoStore, version, len(names))
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("migrate", err)
	}
	defer tx.Rollback()
	if version, err = schemaVersion(ctx, tx, len(names)); err != nil {
		return err
	}
	for i := version; i < len(names); i++ {
		body, err := migrationFS.ReadFile(names[i])
		if err != nil {
			return unavailable("migrate", err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return unavailable("migrate "+filepath.Base(names[i]), err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			return unavailable("migrate", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable("migrate", err)
	}
	return nil
}

// schemaVersion returns how many migrations the file has, and refuses a
// file of another application or with a newer schema than known.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, known int) (int, error) {
	var version, app int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, unavailable("migrate", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return 0, unavailable("migrate", err)
	}
	if app != applicationID && (app != 0 || version != 0) {
		return 0, fmt.Errorf("%w: sqlite: the file belongs to another application (application_id %d, user_version %d)",
			store.ErrUnavailable, app, version)
	}
	if version > known {
		return 0, fmt.Errorf("%w: sqlite: the file has schema version %d, newer than this program's %d",
			store.ErrUnavailable, version, known)
	}
	return version, nil
}

// readOnly reports whether SQLite opened the file read-only (it falls back
// to that, silently, when the file cannot be opened for writing).
func readOnly(ctx context.Context, db *sql.DB) (bool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var ro bool
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(interface{ IsReadOnly(string) (bool, error) })
		if !ok {
			return fmt.Errorf("driver connection %T cannot tell whether it is read-only", dc)
		}
		ro, err = c.IsReadOnly("main")
		return err
	})
	return ro, err
}

// Close closes the file. The store is unusable afterwards.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return unavailable("close", err)
	}
	return nil
}

// Ping reads from the file through a read connection.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM marks").Scan(&n); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// unavailable wraps a failure of the engine, the driver or the context.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: sqlite: %s: %w", store.ErrUnavailable, op, err)
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return unavailable("context", err)
	}
	return nil
}

// isDuplicate reports a primary key violation.
func isDuplicate(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE)
}

func parseID(s string) ([]byte, bool) {
	id, ok := store.ParseID(s)
	if !ok {
		return nil, false
	}
	return id[:], true
}

func formatID(id []byte) (string, error) {
	if len(id) != 16 {
		return "", fmt.Errorf("%w: sqlite: stored id of %d bytes", store.ErrUnavailable, len(id))
	}
	return store.FormatID([16]byte(id)), nil
}

// micro is a time as stored: unix microseconds, NULL for the zero time.
func micro(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicro(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

// blob binds b, or NULL when b is nil.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

const recordCols = `id, member, purpose, batch, recipient, secret_hash, state_hash, issued_at, expires_at,
	status, failures, consumed_at, revoked_at, consumer_identity, consumer_ip, consumer_agent, consumer_session, seq`

// row is a record as scanned, in the order of recordCols.
type row struct {
	id, secret, state                 []byte
	member, purpose, batch, recipient string
	issued, expires, seq              int64
	status, failures                  int64
	consumed, revoked                 sql.NullInt64
	identity, ip, agent, session      string
}

func (x *row) dest(extra ...any) []any {
	return append([]any{&x.id, &x.member, &x.purpose, &x.batch, &x.recipient, &x.secret, &x.state,
		&x.issued, &x.expires, &x.status, &x.failures, &x.consumed, &x.revoked,
		&x.identity, &x.ip, &x.agent, &x.session, &x.seq}, extra...)
}

func (x *row) record() (store.Record, error) {
	id, err := formatID(x.id)
	if err != nil {
		return store.Record{}, err
	}
	if len(x.secret) != 32 {
		return store.Record{}, fmt.Errorf("%w: sqlite: stored secret hash of %d bytes", store.ErrUnavailable, len(x.secret))
	}
	r := store.Record{
		ID:         id,
		Member:     x.member,
		Purpose:    x.purpose,
		Batch:      x.batch,
		Recipient:  x.recipient,
		SecretHash: [32]byte(x.secret),
		State:      x.state,
		IssuedAt:   time.UnixMicro(x.issued).UTC(),
		ExpiresAt:  time.UnixMicro(x.expires).UTC(),
		Seq:        x.seq,
		Status:     store.Status(x.status),
		Failures:   int(x.failures),
		ConsumedAt: fromMicro(x.consumed),
		RevokedAt:  fromMicro(x.revoked),
		Consumer:   store.Presentation{Identity: x.identity, IP: x.ip, UserAgent: x.agent, Session: x.session},
	}
	return r, nil
}

// queryRecords runs a query returning recordCols rows to the end: for a
// write with RETURNING, the last step is the one that commits.
func queryRecords(rows *sql.Rows, err error) ([]store.Record, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		var x row
		if err := rows.Scan(x.dest()...); err != nil {
			return nil, err
		}
		r, err := x.record()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// Insert implements [store.Tokens]: one IMMEDIATE transaction of multi-row
// INSERT statements.
func (s *Store) Insert(ctx context.Context, recs []store.Record) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	if err := store.ValidateInsert(recs); err != nil {
		return err
	}
	args := make([]any, 0, insertCols*len(recs))
	for i := range recs {
		r := &recs[i]
		id, _ := parseID(r.ID)
		secret := r.SecretHash
		var state any
		if r.State != nil {
			state = bytes.Clone(r.State)
		}
		args = append(args, id, r.Member, r.Purpose, r.Batch, r.Recipient, secret[:], state,
			r.IssuedAt.UnixMicro(), r.ExpiresAt.UnixMicro(), nil)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("insert", err)
	}
	defer tx.Rollback()
	// The transaction holds the write lock: no other Insert or
	// WatermarkNow draws a number between this one and the commit.
	var seq int64
	if err := tx.QueryRowContext(ctx, nextSeqSQL).Scan(&seq); err != nil {
		return unavailable("insert", err)
	}
	for i := insertCols - 1; i < len(args); i += insertCols {
		args[i] = seq
	}
	const chunk = insertCols * insertChunk
	full := len(recs) / insertChunk
	if full > 0 {
		st := tx.StmtContext(ctx, s.insert)
		for i := 0; i < full; i++ {
			if _, err := st.ExecContext(ctx, args[i*chunk:(i+1)*chunk]...); err != nil {
				return insertErr(err)
			}
		}
	}
	if rest := len(recs) % insertChunk; rest > 0 {
		if _, err := tx.ExecContext(ctx, insertSQL(rest), args[full*chunk:]...); err != nil {
			return insertErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable("insert", err)
	}
	return nil
}

func insertErr(err error) error {
	if isDuplicate(err) {
		return fmt.Errorf("%w: sqlite: an id is already held", store.ErrDuplicate)
	}
	return unavailable("insert", err)
}

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

// Get implements [store.Tokens].
func (s *Store) Get(ctx context.Context, id string) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	key, ok := parseID(id)
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	recs, err := queryRecords(s.get.QueryContext(ctx, key))
	if err != nil {
		return store.Record{}, unavailable("get", err)
	}
	if len(recs) == 0 {
		return store.Record{}, store.ErrNotFound
	}
	return recs[0], nil
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

// probe is a record with what its checks need.
type probe struct {
	row
	globalAt, globalSeq sql.NullInt64 // the global watermark
	memberAt, memberSeq sql.NullInt64 // the member's watermark
	frozen              bool
}

// guards are the watermarks and holds that cover the record: its marks,
// and a hold if any covers it.
func (p *probe) guards(member string) *store.Guards {
	mark := func(m string, at, seq sql.NullInt64) store.Mark {
		var before time.Time
		if at.Int64 != 0 {
			before = time.UnixMicro(at.Int64).UTC()
		}
		return store.Mark{Member: m, Before: before, Seq: seq.Int64}
	}
	var holds []store.Hold
	if p.frozen {
		holds = []store.Hold{{Scope: store.ScopeGlobal}}
	}
	return store.NewGuards([]store.Mark{mark("", p.globalAt, p.globalSeq), mark(member, p.memberAt, p.memberSeq)}, holds)
}

// check runs the checks of Consume in contract order, by [store.Check]:
// the same predicate as the WHERE clause of consumeSQL.
func (p *probe) check(r *store.Record, req *store.ConsumeRequest) error {
	return store.Check(r, p.guards(r.Member), req)
}

// runProbe reads the record of id and checks req against it. It returns
// the record, when there is one, with ErrNotFound, the first failing check,
// a failure wrapping ErrUnavailable, or nil when every check passes.
func runProbe(ctx context.Context, st *sql.Stmt, id []byte, req *store.ConsumeRequest) (store.Record, error) {
	var p probe
	err := st.QueryRowContext(ctx, id).Scan(p.dest(&p.globalAt, &p.globalSeq, &p.memberAt, &p.memberSeq, &p.frozen)...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, store.ErrNotFound
	}
	if err != nil {
		return store.Record{}, unavailable("check", err)
	}
	r, err := p.record()
	if err != nil {
		return store.Record{}, err
	}
	return r, p.check(&r, req)
}

func checkRequest(ctx context.Context, req *store.ConsumeRequest) ([]byte, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	id, ok := parseID(req.ID)
	if !ok {
		return nil, store.ErrNotFound
	}
	return id, nil
}

// Peek implements [store.Tokens]. An unconfirmed request is one read on a
// read connection; a confirmed or mismatched one goes through [Store.settle]
// on the write connection, like a refused Consume.
func (s *Store) Peek(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	id, err := checkRequest(ctx, &req)
	if err != nil {
		return store.Record{}, err
	}
	if req.Confirmation == store.Unconfirmed {
		return runProbe(ctx, s.probeR, id, &req)
	}
	return s.settle(ctx, id, &req, false, nil)
}

// consumeArgs are the arguments of consumeSQL.
func consumeArgs(id []byte, req *store.ConsumeRequest) []any {
	at := req.At.UnixMicro()
	secret := req.SecretHash
	p := &req.Presentation
	mismatched := 0
	if req.Confirmation == store.Mismatched {
		mismatched = 1
	}
	return []any{at, p.Identity, p.IP, p.UserAgent, p.Session, id, secret[:], at, blob(req.State),
		req.Member, req.Purpose, req.Batch, mismatched}
}

// Consume implements [store.Tokens].
//
// The success path is one statement: an UPDATE whose WHERE clause holds
// every check, with RETURNING. When it changes nothing, an unconfirmed
// request is read again on a read connection, which finds the reason in
// contract order. That read sees everything committed up to the UPDATE or
// later, so its reason was true at the moment of the read, and the refusal,
// which changed nothing, takes effect then. If the read finds no reason (a
// hold was lifted, or the record inserted, in between), and for every
// confirmed or mismatched request, Consume goes on in [Store.settle].
//
// A request without a time (req.At zero) is refused with [store.ErrInvalid]:
// a consumption at the zero time could not be told from no consumption.
func (s *Store) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	id, err := checkRequest(ctx, &req)
	if err != nil {
		return store.Record{}, err
	}
	args := consumeArgs(id, &req)
	recs, err := queryRecords(s.consume.QueryContext(ctx, args...))
	if err != nil {
		return store.Record{}, unavailable("consume", err)
	}
	if len(recs) == 1 {
		return recs[0], nil
	}
	if req.Confirmation == store.Unconfirmed {
		if r, err := runProbe(ctx, s.probeR, id, &req); err != nil {
			return r, err
		}
	}
	return s.settle(ctx, id, &req, true, args)
}

// errDisagree: the checks in Go and the consume statement disagree.
var errDisagree = fmt.Errorf("%w: sqlite: consume: the checks disagree with the update", store.ErrUnavailable)

// settle runs a presentation inside an IMMEDIATE transaction on the write
// connection, where nothing can change between its statements: for Consume,
// the consume statement; then the checks; then, for a confirmed or
// mismatched request that is refused, one update that adds 1 to the
// record's failures for a mismatch and 0 for a confirmation, so that the
// two cost the same write; a mismatch at the cap revokes an issued record.
func (s *Store) settle(ctx context.Context, id []byte, req *store.ConsumeRequest, consume bool, args []any) (store.Record, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Record{}, unavailable("consume", err)
	}
	defer tx.Rollback()
	if consume {
		recs, err := queryRecords(tx.StmtContext(ctx, s.consume).QueryContext(ctx, args...))
		if err != nil {
			return store.Record{}, unavailable("consume", err)
		}
		if len(recs) == 1 {
			if err := tx.Commit(); err != nil {
				return store.Record{}, unavailable("consume", err)
			}
			return recs[0], nil
		}
	}
	r, err := runProbe(ctx, tx.StmtContext(ctx, s.probeW), id, req)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrSecret), err != nil && !store.IsOutcome(err):
		return r, err
	case req.Confirmation == store.Unconfirmed || err == nil && req.Confirmation == store.Confirmed:
		if err == nil && consume {
			return store.Record{}, errDisagree
		}
		return r, err
	}
	n := 0
	if req.Confirmation == store.Mismatched {
		n = 1
	}
	recs, uerr := queryRecords(tx.StmtContext(ctx, s.fail).QueryContext(ctx, n, req.MaxFailures, req.At.UnixMicro(), id))
	if uerr != nil || len(recs) != 1 {
		return store.Record{}, unavailable("consume", errors.Join(uerr, errors.New("the record vanished")))
	}
	if cerr := tx.Commit(); cerr != nil {
		return store.Record{}, unavailable("consume", cerr)
	}
	// The outcome of the record as it was before the count: a mismatch on
	// a consumable record is store.ErrMismatch, by store.Check.
	return recs[0], err
}

// failSQL adds ?1 failures (1, or 0 for the same write without a failure)
// and revokes an issued record that reaches ?2 (> 0) failures at ?3.
const failSQL = `UPDATE tokens SET failures = failures + ?1,
	status = CASE WHEN ?1 > 0 AND ?2 > 0 AND failures + 1 >= ?2 AND status = 1 THEN 3 ELSE status END,
	revoked_at = CASE WHEN ?1 > 0 AND ?2 > 0 AND failures + 1 >= ?2 AND status = 1 THEN ?3 ELSE revoked_at END
WHERE id = ?4 RETURNING ` + recordCols

// Fail implements [store.Tokens]: one UPDATE statement.
func (s *Store) Fail(ctx context.Context, id string, at time.Time, max int) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	key, ok := parseID(id)
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	recs, err := queryRecords(s.fail.QueryContext(ctx, 1, int64(max), micro(at), key))
	if err != nil {
		return store.Record{}, unavailable("fail", err)
	}
	if len(recs) == 0 {
		return store.Record{}, store.ErrNotFound
	}
	return recs[0], nil
}

// where renders a valid filter as an SQL condition on tokens.
func where(f *store.Filter) (string, []any) {
	if f.All {
		return "1", nil
	}
	var conds []string
	var args []any
	in := func(col string, n int) {
		conds = append(conds, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", n), ",")+")")
	}
	if len(f.IDs) > 0 {
		in("id", len(f.IDs))
		for _, v := range f.IDs {
			id, _ := parseID(v)
			args = append(args, id)
		}
	}
	if len(f.Members) > 0 {
		in("member", len(f.Members))
		for _, v := range f.Members {
			args = append(args, v)
		}
	}
	if len(f.Batches) > 0 {
		in("batch", len(f.Batches))
		for _, v := range f.Batches {
			args = append(args, v)
		}
	}
	if f.Purpose != "" {
		conds = append(conds, "purpose = ?")
		args = append(args, f.Purpose)
	}
	if !f.IssuedFrom.IsZero() {
		conds = append(conds, "issued_at >= ?")
		args = append(args, store.MicroCeil(f.IssuedFrom).UnixMicro())
	}
	if !f.IssuedBefore.IsZero() {
		conds = append(conds, "issued_at < ?")
		args = append(args, store.MicroCeil(f.IssuedBefore).UnixMicro())
	}
	if f.Consumed {
		conds = append(conds, "consumed_at IS NOT NULL")
	}
	return strings.Join(conds, " AND "), args
}

// Revoke implements [store.Tokens]: one UPDATE statement.
func (s *Store) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	cond, args := where(&f)
	res, err := s.w.ExecContext(ctx, "UPDATE tokens SET status = 3, revoked_at = ? WHERE status <> 3 AND "+cond,
		append([]any{micro(at)}, args...)...)
	if err != nil {
		return 0, unavailable("revoke", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("revoke", err)
	}
	return n, nil
}

// Records implements [store.Tokens].
func (s *Store) Records(ctx context.Context, q store.RecordQuery) ([]store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	cond, args := where(&q.Filter)
	if q.After != "" {
		after, _ := parseID(q.After)
		cond += " AND id > ?"
		args = append(args, after)
	}
	args = append(args, q.PageSize())
	recs, err := queryRecords(s.r.QueryContext(ctx, "SELECT "+recordCols+" FROM tokens WHERE "+cond+" ORDER BY id LIMIT ?", args...))
	if err != nil {
		return nil, unavailable("records", err)
	}
	return recs, nil
}

// Count implements [store.Tokens].
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	cond, args := where(&f)
	var n int64
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM tokens WHERE "+cond, args...).Scan(&n); err != nil {
		return 0, unavailable("count", err)
	}
	return n, nil
}

// Purge implements [store.Tokens]: two DELETE statements in one
// transaction.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	cut := before.UnixMicro()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, unavailable("purge", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE expires_at < ?", cut)
	if err != nil {
		return 0, unavailable("purge", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("purge", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE at < ?", cut); err != nil {
		return 0, unavailable("purge", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM hits WHERE (bucket + 1) * w < ?", cut); err != nil {
		return 0, unavailable("purge", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, unavailable("purge", err)
	}
	return n, nil
}

// Freeze implements [store.Holds]: an insert that keeps an existing hold.
func (s *Store) Freeze(ctx context.Context, h store.Hold) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO holds (scope, hold_key, since, reason) VALUES (?, ?, ?, ?)
		ON CONFLICT (scope, hold_key) DO NOTHING`, int64(h.Scope), h.Key, micro(h.Since), h.Reason)
	if err != nil {
		return unavailable("freeze", err)
	}
	return nil
}

// Thaw implements [store.Holds]: one DELETE.
func (s *Store) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, err
	}
	res, err := s.w.ExecContext(ctx, "DELETE FROM holds WHERE scope = ? AND hold_key = ?", int64(scope), key)
	if err != nil {
		return false, unavailable("thaw", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, unavailable("thaw", err)
	}
	return n > 0, nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, "SELECT scope, hold_key, since, reason FROM holds ORDER BY scope, hold_key")
	if err != nil {
		return nil, unavailable("holds", err)
	}
	defer rows.Close()
	out := []store.Hold{}
	for rows.Next() {
		var h store.Hold
		var scope int64
		var since sql.NullInt64
		if err := rows.Scan(&scope, &h.Key, &since, &h.Reason); err != nil {
			return nil, unavailable("holds", err)
		}
		h.Scope, h.Since = store.Scope(scope), fromMicro(since)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("holds", err)
	}
	return out, nil
}

// Append implements [store.Ledger]: one transaction.
func (s *Store) Append(ctx context.Context, events ...store.Event) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateEvents(events); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("append", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO events
		(at, kind, reason, token_id, member, batch, purpose, identity, ip, agent, session, n, actor, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return unavailable("append", err)
	}
	defer st.Close()
	for i := range events {
		e := &events[i]
		var token any
		if e.TokenID != "" {
			id, _ := parseID(e.TokenID)
			token = id
		}
		p := &e.Presentation
		if _, err := st.ExecContext(ctx, e.At.UnixMicro(), string(e.Kind), e.Reason, token, e.Member, e.Batch, e.Purpose,
			p.Identity, p.IP, p.UserAgent, p.Session, e.Count, e.Actor, e.Detail); err != nil {
			return unavailable("append", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable("append", err)
	}
	return nil
}

// Ledger order: entries sort by time, then issued (0) before consumed (1)
// before appended (2), then by token id or sequence number. The cursor is
// "<at>.<ord>.<key>", key being the hex id or the sequence number.
const (
	ordIssued   = 0
	ordConsumed = 1
	ordAppended = 2
)

type cursor struct {
	at  int64
	ord int
	key any // []byte for ordIssued and ordConsumed, int64 for ordAppended
}

func (c cursor) String() string {
	k := ""
	switch v := c.key.(type) {
	case []byte:
		k = hex.EncodeToString(v)
	case int64:
		k = strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(c.at, 10) + "." + strconv.Itoa(c.ord) + "." + k
}

func parseCursor(s string) (cursor, error) {
	bad := fmt.Errorf("%w: sqlite: malformed ledger cursor", store.ErrInvalid)
	at, rest, ok1 := strings.Cut(s, ".")
	ord, key, ok2 := strings.Cut(rest, ".")
	us, err1 := strconv.ParseInt(at, 10, 64)
	o, err2 := strconv.Atoi(ord)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return cursor{}, bad
	}
	c := cursor{at: us, ord: o}
	switch o {
	case ordIssued, ordConsumed:
		id, err := hex.DecodeString(key)
		if err != nil || len(id) != 16 {
			return cursor{}, bad
		}
		c.key = id
	case ordAppended:
		seq, err := strconv.ParseInt(key, 10, 64)
		if err != nil {
			return cursor{}, bad
		}
		c.key = seq
	default:
		return cursor{}, bad
	}
	return c, nil
}

// arm is one SELECT of the ledger query, ordered by (at, key) within itself.
type arm struct {
	ord      int
	sel      string // the columns
	from     string // FROM and the conditions the arm always has
	at, key  string // its time and key columns
	appended bool
}

var arms = [...]arm{
	{ordIssued, `issued_at, 0, id, 'issued', '', id, member, batch, purpose, '', '', '', '', 0, '', recipient`,
		"FROM tokens WHERE 1", "issued_at", "id", false},
	{ordConsumed, `consumed_at, 1, id, 'consumed', '', id, member, batch, purpose,
		consumer_identity, consumer_ip, consumer_agent, consumer_session, 0, '', ''`,
		"FROM tokens WHERE consumed_at IS NOT NULL", "consumed_at", "id", false},
	{ordAppended, `at, 2, seq, kind, reason, token_id, member, batch, purpose, identity, ip, agent, session, n, actor, detail`,
		"FROM events WHERE 1", "at", "seq", true},
}

// eventsQuery builds the ledger query: one arm per source the query
// wants, each with the filters and the cursor condition, so that each arm
// can walk an index in order; the last parameter, the limit, is left to
// the caller. It returns "" when no source is wanted.
func eventsQuery(q *store.EventQuery, after *cursor) (string, []any) {
	var appendedKinds []any
	for _, k := range q.Kinds {
		if k != store.EventIssued && k != store.EventConsumed {
			appendedKinds = append(appendedKinds, string(k))
		}
	}
	var parts []string
	var args []any
	for _, a := range arms {
		switch {
		case a.ord == ordIssued && !q.Wants(store.EventIssued),
			a.ord == ordConsumed && !q.Wants(store.EventConsumed),
			a.appended && len(q.Kinds) > 0 && len(appendedKinds) == 0:
			continue
		}
		b := "SELECT " + a.sel + " " + a.from
		if q.Batch != "" {
			b += " AND batch = ?"
			args = append(args, q.Batch)
		}
		if q.Member != "" {
			b += " AND member = ?"
			args = append(args, q.Member)
		}
		if a.appended && len(q.Kinds) > 0 {
			b += " AND kind IN (" + strings.TrimSuffix(strings.Repeat("?,", len(appendedKinds)), ",") + ")"
			args = append(args, appendedKinds...)
		}
		if !q.Since.IsZero() {
			b += " AND " + a.at + " >= ?"
			args = append(args, q.Since.UnixMicro())
		}
		if !q.Until.IsZero() {
			b += " AND " + a.at + " < ?"
			args = append(args, q.Until.UnixMicro())
		}
		if after != nil {
			switch {
			case a.ord > after.ord:
				b += " AND " + a.at + " >= ?"
				args = append(args, after.at)
			case a.ord < after.ord:
				b += " AND " + a.at + " > ?"
				args = append(args, after.at)
			default:
				b += " AND (" + a.at + " > ? OR (" + a.at + " = ? AND " + a.key + " > ?))"
				args = append(args, after.at, after.at, after.key)
			}
		}
		parts = append(parts, b)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, " UNION ALL ") + " ORDER BY 1, 2, 3 LIMIT ?", args
}

// Events implements [store.Ledger]: one compound SELECT over the appended
// events and the entries derived from tokens, merged in ledger order, with
// keyset pagination.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, "", err
	}
	if err := q.Validate(); err != nil {
		return nil, "", err
	}
	var after *cursor
	if q.After != "" {
		c, err := parseCursor(q.After)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	query, args := eventsQuery(&q, after)
	if query == "" {
		return nil, "", nil
	}
	limit := q.PageSize()
	rows, err := s.r.QueryContext(ctx, query, append(args, limit+1)...)
	if err != nil {
		return nil, "", unavailable("events", err)
	}
	defer rows.Close()
	var out []store.Event
	var keys []cursor
	for rows.Next() {
		var e store.Event
		var c cursor
		var key any
		var kind string
		var token []byte
		p := &e.Presentation
		if err := rows.Scan(&c.at, &c.ord, &key, &kind, &e.Reason, &token, &e.Member, &e.Batch, &e.Purpose,
			&p.Identity, &p.IP, &p.UserAgent, &p.Session, &e.Count, &e.Actor, &e.Detail); err != nil {
			return nil, "", unavailable("events", err)
		}
		switch k := key.(type) {
		case []byte:
			c.key = bytes.Clone(k)
		case int64:
			c.key = k
		default:
			return nil, "", fmt.Errorf("%w: sqlite: events: unexpected key type %T", store.ErrUnavailable, key)
		}
		if token != nil {
			if e.TokenID, err = formatID(token); err != nil {
				return nil, "", err
			}
		}
		e.At, e.Kind, e.Cursor = time.UnixMicro(c.at).UTC(), store.EventKind(kind), c.String()
		out = append(out, e)
		keys = append(keys, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", unavailable("events", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = keys[limit-1].String()
	}
	return out, next, nil
}
