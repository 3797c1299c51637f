package postgresstore

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oncelink/oncelink/store"
)

var _ store.StreamInserter = (*Store)(nil)

// InsertSeq implements [store.StreamInserter] with one COPY, fed as recs
// yields: the server writes the first rows while the caller makes the
// next. A COPY is one statement, so the insert is all or nothing; a record
// that fails its checks, or an error recs yields, aborts it.
func (s *Store) InsertSeq(ctx context.Context, recs iter.Seq2[store.Record, error]) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("insert", err)
	}
	next, stop := iter.Pull2(recs)
	defer stop()
	first, err, ok := next()
	if !ok {
		return nil
	}
	if err != nil {
		return err
	}
	var seq int64
	if err := s.pool.QueryRow(ctx, s.sql.nextSeq).Scan(&seq); err != nil {
		return s.unavailable("insert", err)
	}
	src := &seqSource{next: next, seq: seq, rec: first, held: true}
	_, err = s.pool.CopyFrom(ctx, pgx.Identifier{s.schema, "tokens"}, copyCols, src)
	if src.err != nil {
		return src.err
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

// seqSource feeds COPY from a pulled sequence of records, checking each.
type seqSource struct {
	next func() (store.Record, error, bool)
	seq  int64
	rec  store.Record
	held bool // rec is the first record, not yet read by Next
	err  error
	row  [10]any
}

func (q *seqSource) Next() bool {
	if q.held {
		q.held = false
	} else {
		r, err, ok := q.next()
		if !ok {
			return false
		}
		if err != nil {
			q.err = err
			return false
		}
		q.rec = r
	}
	if err := q.rec.Validate(); err != nil {
		q.err = err
		return false
	}
	return true
}

func (q *seqSource) Err() error { return q.err }

func (q *seqSource) Values() ([]any, error) {
	r := &q.rec
	id, _ := store.ParseID(r.ID)
	var state any
	if r.State != nil {
		state = r.State
	}
	q.row = [10]any{id, r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], state,
		store.Micro(r.IssuedAt), store.Micro(r.ExpiresAt), q.seq}
	return q.row[:], nil
}
