package store

import (
	"context"
	"iter"
)

// StreamInserter is an optional capability: inserting records while they
// are being made, so that a caller that signs links can sign the next ones
// while the store writes the first. [InsertSeq] uses it when a store has
// it and collects the records for [Tokens.Insert] otherwise.
type StreamInserter interface {
	// InsertSeq inserts the records recs yields, all or nothing, as
	// Insert does: each record is checked ([Record.Validate]), an id held
	// already or yielded twice fails the whole call with [ErrDuplicate],
	// and any failure leaves none of them in the store, as does a process
	// that dies during the call. A non-nil error yielded by recs stops the
	// insert and InsertSeq returns it, having inserted nothing.
	InsertSeq(ctx context.Context, recs iter.Seq2[Record, error]) error
}

// InsertSeq inserts the records recs yields into t, all or nothing: with
// one [StreamInserter.InsertSeq] call when t has it, and otherwise with
// one [Tokens.Insert] of them all, once recs has yielded every one.
func InsertSeq(ctx context.Context, t Tokens, recs iter.Seq2[Record, error]) error {
	if s, ok := t.(StreamInserter); ok {
		return s.InsertSeq(ctx, recs)
	}
	var all []Record
	for r, err := range recs {
		if err != nil {
			return err
		}
		all = append(all, r)
	}
	return t.Insert(ctx, all)
}
