package sqlitestore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

var _ store.BatchLister = (*Store)(nil)

// Batches implements [store.BatchLister]: one grouped read of the batch
// index.
func (s *Store) Batches(ctx context.Context, q store.BatchQuery) ([]store.BatchSummary, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT batch, count(*), min(issued_at), max(issued_at) FROM tokens
		WHERE batch > ? GROUP BY batch ORDER BY batch LIMIT ?`, q.After, q.PageSize())
	if err != nil {
		return nil, unavailable("batches", err)
	}
	defer rows.Close()
	out := []store.BatchSummary{}
	for rows.Next() {
		var b store.BatchSummary
		var first, last int64
		if err := rows.Scan(&b.Batch, &b.Links, &first, &last); err != nil {
			return nil, unavailable("batches", err)
		}
		b.FirstIssued, b.LastIssued = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("batches", err)
	}
	return out, nil
}

var _ store.Tallier = (*Store)(nil)

// decideSQL is store.Decide in SQL, on a row of tokens at the time of the
// first parameter: the predicate of consumeSQL, outcome by outcome, without
// the secret and the state. Its values are the outcome codes of
// store.Tally: 0 issued, 3 revoked, 4 used, 5 expired, 6 frozen.
const decideSQL = `CASE
	WHEN status = 3 OR EXISTS (SELECT 1 FROM marks WHERE member IN ('', tokens.member)
		AND (before_at > tokens.issued_at OR before_seq > tokens.seq)) THEN 3
	WHEN status = 2 THEN 4
	WHEN expires_at <= ? THEN 5
	WHEN EXISTS (SELECT 1 FROM holds WHERE scope = 1 AND hold_key = '')
		OR (tokens.batch <> '' AND EXISTS (SELECT 1 FROM holds WHERE scope = 2 AND hold_key = tokens.batch))
		OR EXISTS (SELECT 1 FROM holds WHERE scope = 3 AND hold_key = tokens.member) THEN 6
	ELSE 0 END`

// Tally implements [store.Tallier]: one grouped SELECT on a read
// connection, in one snapshot.
func (s *Store) Tally(ctx context.Context, f store.Filter, at time.Time) (store.Tally, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Tally{}, err
	}
	if err := f.Validate(); err != nil {
		return store.Tally{}, err
	}
	cond, args := where(&f)
	rows, err := s.r.QueryContext(ctx, "SELECT "+decideSQL+", count(*) FROM tokens WHERE "+cond+" GROUP BY 1",
		append([]any{at.UnixMicro()}, args...)...)
	if err != nil {
		return store.Tally{}, unavailable("tally", err)
	}
	defer rows.Close()
	var t store.Tally
	for rows.Next() {
		var outcome, n int64
		if err := rows.Scan(&outcome, &n); err != nil {
			return store.Tally{}, unavailable("tally", err)
		}
		switch outcome {
		case 0:
			t.Issued += n
		case 3:
			t.Revoked += n
		case 4:
			t.Consumed += n
		case 5:
			t.Expired += n
		case 6:
			t.Frozen += n
		}
	}
	if err := rows.Err(); err != nil {
		return store.Tally{}, unavailable("tally", err)
	}
	return t, nil
}
