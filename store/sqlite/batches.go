package sqlite

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
