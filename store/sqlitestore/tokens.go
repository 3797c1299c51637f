package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store"
)

// insertChunk is the number of rows of one multi-row INSERT statement:
// insertCols parameters a row, well under SQLite's limit on bound
// parameters.
const (
	insertChunk = 128
	insertCols  = 10
)

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
			store.UnixMicro(r.IssuedAt), store.UnixMicro(r.ExpiresAt), nil)
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
		return store.Mark{Member: m, Before: store.FromUnixMicro(at.Int64), Seq: seq.Int64}
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
	at := store.UnixMicro(req.At)
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
	recs, uerr := queryRecords(tx.StmtContext(ctx, s.fail).QueryContext(ctx, n, req.MaxFailures, store.UnixMicro(req.At), id))
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
