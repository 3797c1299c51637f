package store

import (
	"fmt"
	"time"
)

// EventKind names an entry of the audit ledger.
type EventKind string

// Kinds of ledger entries.
const (
	// EventIssued: a record was inserted. Stores derive it from the record.
	EventIssued EventKind = "issued"
	// EventConsumed: a record was consumed. Stores derive it from the record
	// or write it in the same operation as the consumption.
	EventConsumed EventKind = "consumed"
	// EventRefused: a presentation was refused; Reason says why
	// ("mismatch", "used", "revoked", "expired", "frozen", "stale",
	// "signature", "malformed", ...).
	EventRefused EventKind = "refused"
	// EventRevoked: records were revoked; Detail describes the filter and
	// Count how many.
	EventRevoked EventKind = "revoked"
	// EventWatermark: a watermark was set; Member is its member ("" for all).
	EventWatermark EventKind = "watermark"
	// EventFrozen and EventThawed: a hold was placed or lifted.
	EventFrozen EventKind = "frozen"
	EventThawed EventKind = "thawed"
	// EventBreaker: the circuit breaker froze a batch.
	EventBreaker EventKind = "breaker"
	// EventBlocked: the send guard refused an outgoing message.
	EventBlocked EventKind = "blocked"
	// EventSessions: sessions were handed to the site's session revoker.
	EventSessions EventKind = "sessions"
)

// Valid reports whether k is one of the kinds above.
func (k EventKind) Valid() bool {
	switch k {
	case EventIssued, EventConsumed, EventRefused, EventRevoked, EventWatermark,
		EventFrozen, EventThawed, EventBreaker, EventBlocked, EventSessions:
		return true
	}
	return false
}

// Event is one entry of the audit ledger. It never holds a token or a
// secret.
type Event struct {
	// Cursor identifies the event within its store; it is set by the store
	// and opaque to callers.
	Cursor string    `json:"cursor,omitempty"`
	At     time.Time `json:"at"`
	Kind   EventKind `json:"kind"`
	// Reason is a short machine-readable code (for refusals) or a few words.
	Reason string `json:"reason,omitempty"`
	// TokenID, Member, Batch and Purpose say what the event is about; any
	// may be empty.
	TokenID string `json:"token_id,omitempty"`
	Member  string `json:"member,omitempty"`
	Batch   string `json:"batch,omitempty"`
	Purpose string `json:"purpose,omitempty"`
	// Presentation is set for presentations (consumed, refused).
	Presentation Presentation `json:"presentation,omitzero"`
	// Count is the number of records a bulk event affected.
	Count int64 `json:"count,omitempty"`
	// Actor is who asked for an operator's action.
	Actor string `json:"actor,omitempty"`
	// Detail is free text: a filter, a hold's reason, evidence.
	Detail string `json:"detail,omitempty"`
}

// MaxDetailLen bounds [Event.Detail].
const MaxDetailLen = 4 * MaxReasonLen

// Validate checks an event before it is appended: a known kind, a time,
// and every text field bounded text ([ValidText]); the error wraps
// [ErrInvalid]. Stores derive issued and consumed entries themselves, so
// those kinds cannot be appended.
func (e *Event) Validate() error {
	switch {
	case !e.Kind.Valid():
		return fmt.Errorf("%w: unknown event kind %q", ErrInvalid, e.Kind)
	case e.Kind == EventIssued || e.Kind == EventConsumed:
		return fmt.Errorf("%w: %s entries are recorded by the store itself", ErrInvalid, e.Kind)
	case e.At.IsZero():
		return fmt.Errorf("%w: event time must be set", ErrInvalid)
	case e.TokenID != "" && !ValidID(e.TokenID):
		return fmt.Errorf("%w: event token id is not a canonical uuid", ErrInvalid)
	case !ValidText(e.Member, MaxMemberLen), !ValidText(e.Batch, MaxBatchLen), !ValidText(e.Purpose, MaxPurposeLen),
		!ValidText(e.Reason, MaxReasonLen), !ValidText(e.Actor, MaxMemberLen), !ValidText(e.Detail, MaxDetailLen),
		!e.Presentation.valid():
		return fmt.Errorf("%w: event field out of bounds or not text", ErrInvalid)
	}
	return nil
}

// EventQuery selects ledger entries. Every field that is set must match.
type EventQuery struct {
	Batch  string
	Member string
	// Kinds selects entries of one of these kinds; none means every kind.
	Kinds []EventKind
	// Since selects entries at or after it; Until entries strictly before.
	// Both are compared exactly with ledger times, which stores keep to
	// the microsecond: rounded up to the microsecond ([UnixMicroCeil]).
	Since time.Time
	Until time.Time
	// After is the Cursor of the last entry of the previous page.
	After string
	// Limit is the most entries to return: 1 to [MaxPage]; 0 means 1000.
	Limit int
}

// Validate checks the query; the error wraps [ErrInvalid].
func (q EventQuery) Validate() error {
	if !ValidText(q.Batch, MaxBatchLen) || !ValidText(q.Member, MaxMemberLen) {
		return fmt.Errorf("%w: query batch or member too long or not text", ErrInvalid)
	}
	for _, k := range q.Kinds {
		if !k.Valid() {
			return fmt.Errorf("%w: unknown event kind %q", ErrInvalid, k)
		}
	}
	if !ValidText(q.After, 256) {
		return fmt.Errorf("%w: query cursor too long or not text", ErrInvalid)
	}
	if q.Limit < 0 || q.Limit > MaxPage {
		return fmt.Errorf("%w: query limit must be 0 to %d", ErrInvalid, MaxPage)
	}
	return nil
}

// PageSize returns the effective limit of the query.
func (q EventQuery) PageSize() int {
	if q.Limit == 0 {
		return 1000
	}
	return q.Limit
}

// Wants reports whether an entry of kind k is selected by the query's kinds.
func (q EventQuery) Wants(k EventKind) bool {
	if len(q.Kinds) == 0 {
		return true
	}
	for _, w := range q.Kinds {
		if w == k {
			return true
		}
	}
	return false
}

// Match reports whether e is selected by the query, cursor aside.
func (q EventQuery) Match(e *Event) bool {
	if q.Batch != "" && e.Batch != q.Batch {
		return false
	}
	if q.Member != "" && e.Member != q.Member {
		return false
	}
	if !q.Wants(e.Kind) {
		return false
	}
	if !q.Since.IsZero() && e.At.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !e.At.Before(q.Until) {
		return false
	}
	return true
}
