package mysqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/oncelink/oncelink/store"
)

// watermarkKey is the scope and key of the guards row of a watermark.
func watermarkKey(member string) (store.Scope, string) {
	if member == "" {
		return store.ScopeGlobal, ""
	}
	return store.ScopeMember, member
}

// Watermark implements [store.Tokens] in one upsert of one guards row.
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("watermark", err)
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	scope, key := watermarkKey(member)
	err := retry(ctx, func() error {
		_, err := s.db.ExecContext(ctx, s.sql.watermark, int(scope), key, store.MicroCeil(before))
		return err
	})
	if err != nil {
		return s.unavailable("watermark", err)
	}
	return nil
}

// WatermarkNow implements [store.Tokens] in one upsert of one guards row
// that draws the next number of the store's sequence, NEXTVAL, and keeps
// the higher of it and the mark in place; it returns the row as it now
// stands (RETURNING), in the same round trip.
//
// NEXTVAL hands out numbers in increasing order across every connection
// of the server, and every Insert draws its number before its records
// commit. So every Insert that returned before WatermarkNow began drew a
// lower number, and is covered; every Insert that begins after it returned
// draws a higher one, and is not; an Insert that drew before it and
// commits after it is covered too, the safe side.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctx.Err(); err != nil {
		return store.Mark{}, s.unavailable("watermark", err)
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	scope, key := watermarkKey(member)
	var (
		before sql.NullTime
		seq    sql.NullInt64
	)
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, s.sql.watermarkNow, int(scope), key).Scan(&before, &seq)
	})
	if err != nil {
		return store.Mark{}, s.unavailable("watermark", err)
	}
	return markOf(member, before, seq), nil
}

// markOf is the mark of member with a guards row's cutoff and cutoff_seq.
func markOf(member string, before sql.NullTime, seq sql.NullInt64) store.Mark {
	m := store.Mark{Member: member, Seq: seq.Int64}
	if before.Valid {
		m.Before = before.Time.UTC()
	}
	return m
}

// Marks implements [store.Tokens]: one mark per guards row, with its time
// and its sequence number.
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable("marks", err)
	}
	marks, err := collect(ctx, s.db, s.sql.marks, nil, func(rows *sql.Rows) (store.Mark, error) {
		var (
			member string
			before sql.NullTime
			seq    sql.NullInt64
		)
		err := rows.Scan(&member, &before, &seq)
		return markOf(member, before, seq), err
	})
	if err != nil {
		return nil, s.unavailable("marks", err)
	}
	return marks, nil
}
