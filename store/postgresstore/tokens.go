package postgresstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oncelink/oncelink/store"
)

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

// smallInsert is the largest Insert done with one INSERT statement rather
// than COPY.
const smallInsert = 32

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
