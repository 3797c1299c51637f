package store

import (
	"context"
	"time"
)

// Store is the whole contract of a backend: the records of links, the holds
// that freeze them, and the audit ledger. Every method is safe for
// concurrent use, takes effect for every process sharing the store as soon
// as it returns, and returns an error wrapping [ErrUnavailable] on any
// failure that is not a documented outcome. Every text a method is given
// must be bounded UTF-8 without NUL ([ValidText]); a store refuses anything
// else with [ErrInvalid], whatever its engine would have done. Every
// backend also has [Counters].
type Store interface {
	Tokens
	Holds
	Ledger
}

// Tokens keeps the records of issued links.
type Tokens interface {
	// Insert adds records, all or nothing: if any record is invalid
	// ([ErrInvalid]) or its id is already held or repeated ([ErrDuplicate]),
	// nothing is inserted. The store sets Status to [StatusIssued], draws
	// the records' Seq from its sequence, and clears the other fields it
	// keeps itself. An empty slice is a no-op.
	//
	// All or nothing holds whatever happens to the caller: if the process
	// that inserts is killed part way, no record of the call is ever
	// consumable, counted, listed or reported; the store removes what was
	// written, at once or later.
	Insert(ctx context.Context, recs []Record) error

	// Get returns the record as stored, or [ErrNotFound]. It checks nothing.
	Get(ctx context.Context, id string) (Record, error)

	// Peek runs the checks of Consume, in the same order, and consumes
	// nothing. It returns the record whenever one exists, with the outcome.
	// An [Unconfirmed] or [Confirmed] request that passes every check
	// changes nothing; a [Mismatched] one counts its failure as Consume
	// does (and is refused with [ErrMismatch] where Consume would have
	// been), so that Peek is no oracle. Like Consume, it refuses an invalid
	// request ([ConsumeRequest.Validate]) with [ErrInvalid].
	Peek(ctx context.Context, req ConsumeRequest) (Record, error)

	// Consume checks one record and marks it consumed, in one atomic
	// operation, in this order:
	//
	//  1. not found ([ErrNotFound]);
	//  2. secret: the secret hash, and the record's member, purpose and
	//     batch equal to the request's (the token's claims), else
	//     [ErrSecret]: a token re-signed with other claims is a forgery;
	//  3. a [Mismatched] request counts one failure here, whatever the
	//     record's state, and revokes an issued record whose failures reach
	//     MaxFailures (MaxFailures > 0) with RevokedAt = req.At;
	//  4. revoked (one by one, or by a watermark: IssuedAt before its time
	//     or Seq below its number), used, expired (ExpiresAt at or before
	//     req.At), frozen, stale, each judged on the record as it was
	//     before step 3;
	//  5. a [Mismatched] request that passed them all: [ErrMismatch].
	//
	// [Check] states steps 2, 4 and 5 in Go. The first failing check
	// decides the error; nothing changes but the
	// count of step 3. On success the record becomes [StatusConsumed] with
	// ConsumedAt = req.At and Consumer = req.Presentation, and is returned.
	// Of any number of concurrent calls for one record, at most one
	// succeeds, and every failure is counted once. On a refusal the record
	// is returned too whenever one exists, after the count.
	//
	// A [Confirmed] request that is refused, and a [Mismatched] one, cost
	// the same work: the same statements or script, adding 0 or 1 to the
	// failures (a write either way), so that their timing does not tell a
	// right guess of a settled link's identity from a wrong one.
	Consume(ctx context.Context, req ConsumeRequest) (Record, error)

	// Fail counts one failed identity confirmation for the record. When the
	// count reaches max (max > 0) and the record is still issued, it is
	// revoked in the same operation, with RevokedAt = at. It returns the
	// record after the change, or [ErrNotFound]. The verifier counts
	// failures with Consume and Peek ([Mismatched]) instead, in the same
	// operation as the checks; Fail is for callers that count otherwise.
	Fail(ctx context.Context, id string, at time.Time, max int) (Record, error)

	// Revoke revokes, one by one, every record the filter selects that is
	// not already revoked (consumed records included), with RevokedAt = at,
	// and returns how many it changed. It is idempotent: a second call
	// returns 0. The filter must be valid ([Filter.Validate]).
	Revoke(ctx context.Context, f Filter, at time.Time) (int64, error)

	// Watermark makes every record issued strictly before `before` refused
	// as revoked: the records of member, or of every member when member is
	// "". It costs one write whatever the number of records. A watermark
	// never moves back: an earlier time than the one in place changes
	// nothing. Like filter bounds, `before` is compared exactly: stores keep
	// it rounded up to the microsecond ([MicroCeil]).
	//
	// The time is compared with [Record.IssuedAt], which the minting
	// machine's clock set: a link minted by a machine whose clock is ahead
	// escapes a watermark at "now", and one minted later by a machine whose
	// clock is behind falls under it. To revoke "everything so far", use
	// WatermarkNow.
	Watermark(ctx context.Context, member string, before time.Time) error

	// WatermarkNow makes every record the store has recorded when it runs
	// refused as revoked: the records of member, or of every member when
	// member is "". It draws a number from the store's sequence and sets it
	// as the mark's Seq; every record whose [Record.Seq] is below it is
	// refused, whatever its IssuedAt, so that no clock decides. A record
	// inserted after WatermarkNow returns is never covered; one whose Insert
	// runs at the same time may be. It costs one write, never moves a mark
	// back, and returns the member's mark as it now stands.
	WatermarkNow(ctx context.Context, member string) (Mark, error)

	// Marks returns the watermarks in place, the global one (Member "")
	// first, then by member. A member with a time watermark and a sequence
	// watermark has one Mark with both.
	Marks(ctx context.Context) ([]Mark, error)

	// Records returns a page of the records a filter selects, in ascending
	// id order.
	Records(ctx context.Context, q RecordQuery) ([]Record, error)

	// Count returns how many records a filter selects.
	Count(ctx context.Context, f Filter) (int64, error)

	// Purge deletes the records that expired strictly before `before`, and
	// the ledger entries recorded strictly before it, and returns how many
	// records it deleted (a store that expires records by itself counts only
	// those it deleted). Watermarks and holds stay. Like filter bounds,
	// `before` is compared exactly: rounded up to the microsecond
	// ([UnixMicroCeil]).
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// Holds keeps the reversible freezes.
type Holds interface {
	// Freeze places a hold. Freezing what is already frozen keeps the hold
	// in place (its Since and Reason) and returns nil.
	Freeze(ctx context.Context, h Hold) error
	// Thaw lifts the hold on scope and key, and reports whether there was
	// one. Records it covered are consumable again if nothing else refuses
	// them.
	Thaw(ctx context.Context, scope Scope, key string) (bool, error)
	// Holds returns the holds in place, ordered by scope then key.
	Holds(ctx context.Context) ([]Hold, error)
}

// Ledger is the audit ledger: every issue, consumption, refusal and
// operator's action, queryable by batch, member and time.
type Ledger interface {
	// Append records events, all or nothing. Issued and consumed entries
	// cannot be appended: the store records them itself, with the record.
	Append(ctx context.Context, events ...Event) error
	// Events returns a page of entries in ascending time order (ties in an
	// order the store keeps stable) and the cursor of the next page, "" when
	// there is none. The store derives an issued entry for every record
	// (At = IssuedAt, Detail = recipient) and a consumed entry for every
	// consumption (At = ConsumedAt, Presentation = Consumer).
	Events(ctx context.Context, q EventQuery) ([]Event, string, error)
}

// Pinger is an optional capability: a cheap check that the store answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Tallier is an optional capability: counting the records a filter selects
// by what Consume would decide for each of them at a time, as [Decide]
// does, in one pass in the store. [TallyOf] uses it when a store has it and
// pages through [Tokens.Records] otherwise.
type Tallier interface {
	Tally(ctx context.Context, f Filter, at time.Time) (Tally, error)
}

// BatchLister is an optional capability: the batches the store holds
// records of, so that an operator can name the right one.
type BatchLister interface {
	// Batches returns a page of batch summaries in ascending batch order,
	// after q.After. Records without a batch are not listed.
	Batches(ctx context.Context, q BatchQuery) ([]BatchSummary, error)
}
