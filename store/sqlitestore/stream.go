package sqlitestore

import (
	"bytes"
	"context"
	"iter"

	"github.com/oncelink/oncelink/store"
)

var _ store.StreamInserter = (*Store)(nil)

// InsertSeq implements [store.StreamInserter]: one IMMEDIATE transaction,
// as Insert, whose multi-row INSERT statements run as recs yields their
// rows, so that the caller makes the next records while SQLite writes the
// first. A record that fails its checks, or an error recs yields, rolls
// the transaction back.
func (s *Store) InsertSeq(ctx context.Context, recs iter.Seq2[store.Record, error]) error {
	if err := ctxErr(ctx); err != nil {
		return err
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
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("insert", err)
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.QueryRowContext(ctx, nextSeqSQL).Scan(&seq); err != nil {
		return unavailable("insert", err)
	}
	st := tx.StmtContext(ctx, s.insert)
	args := make([]any, 0, insertCols*insertChunk)
	r, more := first, true
	for more {
		if err := r.Validate(); err != nil {
			return err
		}
		id, _ := parseID(r.ID)
		secret := r.SecretHash
		var state any
		if r.State != nil {
			state = bytes.Clone(r.State)
		}
		args = append(args, id, r.Member, r.Purpose, r.Batch, r.Recipient, secret[:], state,
			store.UnixMicro(r.IssuedAt), store.UnixMicro(r.ExpiresAt), seq)
		if len(args) == cap(args) {
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return insertErr(err)
			}
			args = args[:0]
		}
		if r, err, more = next(); err != nil {
			return err
		}
	}
	if len(args) > 0 {
		if _, err := tx.ExecContext(ctx, insertSQL(len(args)/insertCols), args...); err != nil {
			return insertErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable("insert", err)
	}
	return nil
}
