package sqlitestore

import (
	"context"
	"database/sql"
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
		if err := o(&cfg); err != nil {
			return nil, err
		}
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
	if err := s.w.QueryRowContext(ctx, journalModeSQL).Scan(&mode); err != nil {
		return unavailable("open", err)
	}
	if err := s.w.QueryRowContext(ctx, synchronousSQL).Scan(&sync); err != nil {
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
	s.get = prep(s.r, getSQL)
	s.fail = prep(s.w, failSQL)
	s.insert = prep(s.w, insertSQL(insertChunk))
	s.hit = prep(s.w, hitSQL)
	if err != nil {
		return unavailable("prepare", err)
	}
	return nil
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
	if err := s.r.QueryRowContext(ctx, pingSQL).Scan(&n); err != nil {
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

// micro is a time as stored: unix microseconds ([store.UnixMicro]), NULL
// for the zero time.
func micro(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return store.UnixMicro(t)
}

// fromMicro is a stored time, NULL for the zero time.
func fromMicro(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return store.FromUnixMicro(n.Int64)
}

// blob binds b, or NULL when b is nil.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
