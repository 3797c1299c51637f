package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store"
)

// insertChunk is the number of rows of one multi-row INSERT: 10 parameters
// a row, far below the protocol's 65,535, and about 100 KB a statement.
const insertChunk = 500

// Outcome codes of the check procedure, in contract order.
const (
	outcomeOK      = 0
	outcomeSecret  = 2
	outcomeRevoked = 3
	outcomeUsed    = 4
	outcomeExpired = 5
	outcomeFrozen  = 6
	outcomeStale   = 7
	// outcomeChanged: Consume's UPDATE changed nothing, yet the record now
	// passes every check (possible under READ COMMITTED, if a hold was
	// lifted in between): Consume runs again.
	outcomeChanged = 8
	// outcomeMismatch: a mismatched request of a record that passed every
	// check; its failure was counted.
	outcomeMismatch = 9
)

var outcomeErr = map[int]error{
	outcomeSecret:   store.ErrSecret,
	outcomeRevoked:  store.ErrRevoked,
	outcomeUsed:     store.ErrUsed,
	outcomeExpired:  store.ErrExpired,
	outcomeFrozen:   store.ErrFrozen,
	outcomeStale:    store.ErrStale,
	outcomeMismatch: store.ErrMismatch,
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanRecord reads recordCols, after the destinations in prefix.
func scanRecord(row scanner, r *store.Record, prefix ...any) error {
	var (
		id, secret            []byte
		consumed, revoked     sql.NullTime
		identity, ip, ua, sid sql.NullString
		status                int
	)
	dest := append(prefix, &id, &r.Member, &r.Purpose, &r.Batch, &r.Recipient, &secret, &r.State,
		&r.IssuedAt, &r.ExpiresAt, &status, &r.Failures, &consumed, &revoked, &identity, &ip, &ua, &sid, &r.Seq)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	if len(id) != 16 || len(secret) != 32 {
		return fmt.Errorf("malformed record: id of %d bytes, secret hash of %d", len(id), len(secret))
	}
	r.ID = store.FormatID([16]byte(id))
	copy(r.SecretHash[:], secret)
	r.IssuedAt, r.ExpiresAt = r.IssuedAt.UTC(), r.ExpiresAt.UTC()
	r.Status = store.Status(status)
	if consumed.Valid {
		r.ConsumedAt = consumed.Time.UTC()
	}
	if revoked.Valid {
		r.RevokedAt = revoked.Time.UTC()
	}
	r.Consumer = store.Presentation{Identity: identity.String, IP: ip.String, UserAgent: ua.String, Session: sid.String}
	return nil
}

// Insert implements [store.Tokens]. One record goes in one INSERT that
// draws its number from the sequence, one round trip. More records draw
// one number first, then go in one INSERT statement, up to insertChunk of
// them, or in INSERTs of insertChunk rows inside one transaction. Either
// way the insert is all or nothing, and the number is drawn before the
// records commit: see WatermarkNow.
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
	err := retry(ctx, func() error {
		if len(recs) == 1 {
			return s.insertOne(ctx, &recs[0])
		}
		seq, err := s.nextSeq(ctx)
		if err != nil {
			return err
		}
		if len(recs) <= insertChunk {
			return s.insertChunk(ctx, nil, recs, seq)
		}
		return s.inTx(ctx, func(tx *sql.Tx) error {
			for i := 0; i < len(recs); i += insertChunk {
				if err := s.insertChunk(ctx, tx, recs[i:min(i+insertChunk, len(recs))], seq); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if errNumber(err) == erDupEntry {
		return fmt.Errorf("%w: mysqlstore: an id is already held", store.ErrDuplicate)
	}
	if err != nil {
		return s.unavailable("insert", err)
	}
	return nil
}

// recordArgs appends the values of the columns the issuer fills, in
// insertCols order, to args.
func recordArgs(args []any, r *store.Record) []any {
	id, _ := store.ParseID(r.ID)
	return append(args, id[:], r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], stateArg(r.State),
		store.Micro(r.IssuedAt), store.Micro(r.ExpiresAt))
}

// insertOne inserts one record with a prepared statement that draws its
// number of the sequence.
func (s *Store) insertOne(ctx context.Context, r *store.Record) error {
	st, err := s.stmt(ctx, s.sql.insertOne)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, recordArgs(make([]any, 0, insertWidth-1), r)...)
	return err
}

// nextSeq draws the next number of the store's sequence.
func (s *Store) nextSeq(ctx context.Context) (int64, error) {
	st, err := s.stmt(ctx, s.sql.nextSeq)
	if err != nil {
		return 0, err
	}
	var seq int64
	err = st.QueryRowContext(ctx).Scan(&seq)
	return seq, err
}

// insertChunk inserts up to insertChunk records numbered seq in one
// statement, in tx when it is not nil. A full chunk uses a prepared
// statement.
func (s *Store) insertChunk(ctx context.Context, tx *sql.Tx, recs []store.Record, seq int64) error {
	args := make([]any, 0, insertWidth*len(recs))
	for i := range recs {
		args = append(recordArgs(args, &recs[i]), seq)
	}
	if len(recs) != insertChunk {
		_, err := execer(s.db, tx).ExecContext(ctx, s.sql.insert+rows(len(recs), insertWidth), args...)
		return err
	}
	st, err := s.stmt(ctx, s.sql.insertChunk)
	if err != nil {
		return err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

type execerContext interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func execer(db *sql.DB, tx *sql.Tx) execerContext {
	if tx != nil {
		return tx
	}
	return db
}

// inTx runs fn in a transaction and commits it, or rolls it back if fn or
// the commit fails.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Get implements [store.Tokens].
func (s *Store) Get(ctx context.Context, id string) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, s.unavailable("get", err)
	}
	key, ok := store.ParseID(id)
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	st, err := s.stmt(ctx, s.sql.get)
	if err != nil {
		return store.Record{}, s.unavailable("get", err)
	}
	var r store.Record
	if err := scanRecord(st.QueryRowContext(ctx, key[:]), &r); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.Record{}, store.ErrNotFound
		}
		return store.Record{}, s.unavailable("get", err)
	}
	return r, nil
}

// call runs one of the procedures that return the check row and reads the
// row; found is false when the record does not exist. A row of fewer
// columns than the outcome and recordCols comes from procedures older
// than this package.
func (s *Store) call(ctx context.Context, query string, r *store.Record, args ...any) (outcome int, found bool, err error) {
	found, err = s.callRow(ctx, query, func(rows *sql.Rows) error {
		if cols, err := rows.Columns(); err == nil && len(cols) < 1+recordWidth {
			return errOlderProcedures
		}
		return scanRecord(rows, r, &outcome)
	}, args...)
	return outcome, found, err
}

// callRow runs a CALL that returns at most one row, reads the row with
// scan, and reads the procedure's status to its end, so that a failure
// after the row (a commit that failed, a lost connection) is an error and
// never a success. found is false when there was no row. A CALL that
// InnoDB rolled back as a deadlock victim runs again.
func (s *Store) callRow(ctx context.Context, query string, scan func(*sql.Rows) error, args ...any) (found bool, err error) {
	err = retry(ctx, func() error {
		st, err := s.stmt(ctx, query)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		found = false
		for rows.Next() {
			if found {
				return errors.New("more than one row from one call")
			}
			if err := scan(rows); err != nil {
				return err
			}
			found = true
		}
		for rows.NextResultSet() {
			for rows.Next() {
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return rows.Close()
	})
	return found, err
}

// request checks the context and a consume request, and returns the
// record's key; a malformed id is a record that is not found.
func (s *Store) request(ctx context.Context, op string, req *store.ConsumeRequest) ([16]byte, error) {
	if err := ctx.Err(); err != nil {
		return [16]byte{}, s.unavailable(op, err)
	}
	if err := req.Validate(); err != nil {
		return [16]byte{}, err
	}
	id, ok := store.ParseID(req.ID)
	if !ok {
		return id, store.ErrNotFound
	}
	return id, nil
}

// presentArgs are the arguments the consume procedure takes for a
// request, before the presentation.
func presentArgs(id []byte, req *store.ConsumeRequest) []any {
	return []any{id, req.SecretHash[:], store.Micro(req.At), stateArg(req.State), req.Member, req.Purpose, req.Batch,
		int(req.Confirmation), req.MaxFailures}
}

// Peek implements [store.Tokens] in one CALL: the check procedure for an
// unconfirmed request, read only; for a confirmed or mismatched one, the
// consume procedure without its UPDATE, which counts a mismatch, and
// writes the record alike for a confirmation, as a refused Consume does.
func (s *Store) Peek(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	id, err := s.request(ctx, "peek", &req)
	if err != nil {
		return store.Record{}, err
	}
	var (
		r       store.Record
		outcome int
		found   bool
	)
	if req.Confirmation == store.Unconfirmed {
		outcome, found, err = s.call(ctx, s.sql.peek, &r, id[:], req.SecretHash[:], store.Micro(req.At), stateArg(req.State),
			req.Member, req.Purpose, req.Batch)
	} else {
		outcome, found, err = s.call(ctx, s.sql.present, &r, presentArgs(id[:], &req)...)
	}
	return s.result("peek", r, outcome, found, err)
}

// consumeAttempts bounds how often Consume runs again when the record
// passed every check just after its UPDATE found it failing one.
const consumeAttempts = 3

// Consume implements [store.Tokens] with one CALL, one round trip: the
// consume procedure runs the UPDATE whose WHERE clause holds every check,
// then, when it changed nothing, in the same transaction, counts the
// failure of a mismatched request (the same write, adding 0, for a
// confirmed one) and returns the record with the outcome in contract
// order. See the package documentation.
func (s *Store) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	id, err := s.request(ctx, "consume", &req)
	if err != nil {
		return store.Record{}, err
	}
	p := &req.Presentation
	args := append(presentArgs(id[:], &req), nullable(p.Identity), nullable(p.IP), nullable(p.UserAgent), nullable(p.Session))
	for range consumeAttempts {
		var r store.Record
		outcome, found, err := s.call(ctx, s.sql.consume, &r, args...)
		if err != nil || outcome != outcomeChanged {
			return s.result("consume", r, outcome, found, err)
		}
	}
	return store.Record{}, fmt.Errorf("%w: mysqlstore: consume: the record changed during every attempt", store.ErrUnavailable)
}

// result turns what the check procedure returned into Peek's and
// Consume's answer.
func (s *Store) result(op string, r store.Record, outcome int, found bool, err error) (store.Record, error) {
	switch {
	case err != nil:
		return store.Record{}, s.unavailable(op, err)
	case !found:
		return store.Record{}, store.ErrNotFound
	case outcome == outcomeOK:
		return r, nil
	}
	if oe, ok := outcomeErr[outcome]; ok {
		return r, oe
	}
	return store.Record{}, fmt.Errorf("%w: mysqlstore: %s: unexpected outcome %d", store.ErrUnavailable, op, outcome)
}

// Fail implements [store.Tokens] with one CALL: the fail procedure counts
// the failure and returns the record in the same transaction.
func (s *Store) Fail(ctx context.Context, id string, at time.Time, max int) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, s.unavailable("fail", err)
	}
	key, ok := store.ParseID(id)
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	if max < 0 || max > 1<<30 {
		return store.Record{}, fmt.Errorf("%w: mysqlstore: fail limit out of range", store.ErrInvalid)
	}
	var r store.Record
	_, found, err := s.call(ctx, s.sql.fail, &r, key[:], store.Micro(at), max)
	switch {
	case err != nil:
		return store.Record{}, s.unavailable("fail", err)
	case !found:
		return store.Record{}, store.ErrNotFound
	}
	return r, nil
}
