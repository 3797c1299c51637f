package sqlitestore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Watermark implements [store.Tokens]: one upsert that keeps the later time.
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO marks (member, before_at) VALUES (?, ?)
		ON CONFLICT (member) DO UPDATE SET before_at = max(before_at, excluded.before_at)`, member, store.MicroCeil(before).UnixMicro())
	if err != nil {
		return unavailable("watermark", err)
	}
	return nil
}

// WatermarkNow implements [store.Tokens]: one IMMEDIATE transaction that
// draws the next number of the sequence and keeps the greater mark. It
// holds the write lock, so every Insert committed before it has a smaller
// number and every later one a greater.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Mark{}, err
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Mark{}, unavailable("watermark", err)
	}
	defer tx.Rollback()
	var seq, at int64
	if err := tx.QueryRowContext(ctx, nextSeqSQL).Scan(&seq); err != nil {
		return store.Mark{}, unavailable("watermark", err)
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO marks (member, before_at, before_seq) VALUES (?, 0, ?)
		ON CONFLICT (member) DO UPDATE SET before_seq = max(before_seq, excluded.before_seq)
		RETURNING before_at, before_seq`, member, seq).Scan(&at, &seq)
	if err != nil {
		return store.Mark{}, unavailable("watermark", err)
	}
	if err := tx.Commit(); err != nil {
		return store.Mark{}, unavailable("watermark", err)
	}
	return markOf(member, at, seq), nil
}

// markOf is a row of marks as a [store.Mark]: before_at 0 is no time.
func markOf(member string, at, seq int64) store.Mark {
	m := store.Mark{Member: member, Seq: seq}
	if at != 0 {
		m.Before = time.UnixMicro(at).UTC()
	}
	return m
}

// Marks implements [store.Tokens].
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, "SELECT member, before_at, before_seq FROM marks ORDER BY member")
	if err != nil {
		return nil, unavailable("marks", err)
	}
	defer rows.Close()
	var out []store.Mark
	for rows.Next() {
		var member string
		var at, seq int64
		if err := rows.Scan(&member, &at, &seq); err != nil {
			return nil, unavailable("marks", err)
		}
		out = append(out, markOf(member, at, seq))
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("marks", err)
	}
	return out, nil
}
