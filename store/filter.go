package store

import (
	"fmt"
	"time"
)

// MaxFilterValues bounds the number of ids, members and batches one filter
// may name, so that one call costs bounded work.
const MaxFilterValues = 10000

// Filter selects records. Every field that is set must match (AND); within a
// list, any value matches (OR). A filter with nothing set is invalid: to
// select every record, set All and nothing else.
type Filter struct {
	// All selects every record. It cannot be combined with another field.
	All bool
	// IDs, Members and Batches select records with one of the values.
	IDs     []string
	Members []string
	Batches []string
	// Purpose selects records minted for this purpose.
	Purpose string
	// IssuedFrom selects records issued at or after it.
	IssuedFrom time.Time
	// IssuedBefore selects records issued strictly before it.
	//
	// Records are kept to the microsecond; both bounds are compared exactly,
	// that is, rounded up to the microsecond ([MicroCeil]).
	IssuedBefore time.Time
	// Consumed narrows the selection to records that were consumed,
	// whatever happened to them after (a later revocation included).
	Consumed bool
}

// IsEmpty reports whether f selects nothing at all because nothing is set.
func (f Filter) IsEmpty() bool {
	return !f.All && len(f.IDs) == 0 && len(f.Members) == 0 && len(f.Batches) == 0 &&
		f.Purpose == "" && f.IssuedFrom.IsZero() && f.IssuedBefore.IsZero() && !f.Consumed
}

// Validate reports a filter a store must refuse: empty, All combined with
// another field, too many values, an id that is not a UUID, or an empty
// value in a list. The error wraps [ErrInvalid].
func (f Filter) Validate() error {
	if f.IsEmpty() {
		return fmt.Errorf("%w: empty filter (set All to select everything)", ErrInvalid)
	}
	if f.All && (len(f.IDs) > 0 || len(f.Members) > 0 || len(f.Batches) > 0 || f.Purpose != "" ||
		!f.IssuedFrom.IsZero() || !f.IssuedBefore.IsZero() || f.Consumed) {
		return fmt.Errorf("%w: filter All cannot be combined with another field", ErrInvalid)
	}
	if n := len(f.IDs) + len(f.Members) + len(f.Batches); n > MaxFilterValues {
		return fmt.Errorf("%w: filter names %d values, more than %d", ErrInvalid, n, MaxFilterValues)
	}
	for _, id := range f.IDs {
		if !ValidID(id) {
			return fmt.Errorf("%w: filter id is not a canonical uuid", ErrInvalid)
		}
	}
	for _, m := range f.Members {
		if m == "" || !ValidText(m, MaxMemberLen) {
			return fmt.Errorf("%w: filter member must be 1 to %d bytes", ErrInvalid, MaxMemberLen)
		}
	}
	for _, b := range f.Batches {
		if b == "" || !ValidText(b, MaxBatchLen) {
			return fmt.Errorf("%w: filter batch must be 1 to %d bytes", ErrInvalid, MaxBatchLen)
		}
	}
	if !ValidText(f.Purpose, MaxPurposeLen) {
		return fmt.Errorf("%w: filter purpose longer than %d bytes", ErrInvalid, MaxPurposeLen)
	}
	if !f.IssuedFrom.IsZero() && !f.IssuedBefore.IsZero() && !f.IssuedBefore.After(f.IssuedFrom) {
		return fmt.Errorf("%w: filter window is empty (IssuedBefore not after IssuedFrom)", ErrInvalid)
	}
	return nil
}

// Match reports whether r is selected by f. Stores may use it; SQL stores
// express the same rules in their queries.
func (f Filter) Match(r *Record) bool {
	if f.All {
		return true
	}
	if len(f.IDs) > 0 && !contains(f.IDs, r.ID) {
		return false
	}
	if len(f.Members) > 0 && !contains(f.Members, r.Member) {
		return false
	}
	if len(f.Batches) > 0 && !contains(f.Batches, r.Batch) {
		return false
	}
	if f.Purpose != "" && f.Purpose != r.Purpose {
		return false
	}
	if !f.IssuedFrom.IsZero() && r.IssuedAt.Before(MicroCeil(f.IssuedFrom)) {
		return false
	}
	if !f.IssuedBefore.IsZero() && !r.IssuedAt.Before(MicroCeil(f.IssuedBefore)) {
		return false
	}
	if f.Consumed && r.ConsumedAt.IsZero() {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// MaxPage bounds the number of records or events one query returns.
const MaxPage = 10000

// RecordQuery pages through the records a filter selects, in ascending id
// order (ids are UUIDv7, so this is roughly the order of issue).
type RecordQuery struct {
	Filter Filter
	// After is the id of the last record of the previous page, "" for the
	// first page.
	After string
	// Limit is the most records to return: 1 to [MaxPage]; 0 means 1000.
	Limit int
}

// Validate checks the query; the error wraps [ErrInvalid].
func (q RecordQuery) Validate() error {
	if err := q.Filter.Validate(); err != nil {
		return err
	}
	if q.After != "" && !ValidID(q.After) {
		return fmt.Errorf("%w: query cursor is not a canonical uuid", ErrInvalid)
	}
	if q.Limit < 0 || q.Limit > MaxPage {
		return fmt.Errorf("%w: query limit must be 0 to %d", ErrInvalid, MaxPage)
	}
	return nil
}

// PageSize returns the effective limit of the query.
func (q RecordQuery) PageSize() int {
	if q.Limit == 0 {
		return 1000
	}
	return q.Limit
}
