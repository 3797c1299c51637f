package admin

import (
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store"
)

// jsonFilter is the JSON form of a [store.Filter], as the HTTP API and the
// ledger's entries use it. Times are RFC 3339.
type jsonFilter struct {
	All          bool       `json:"all,omitempty"`
	IDs          []string   `json:"ids,omitempty"`
	Members      []string   `json:"members,omitempty"`
	Batches      []string   `json:"batches,omitempty"`
	Purpose      string     `json:"purpose,omitempty"`
	IssuedFrom   *time.Time `json:"issued_from,omitempty"`
	IssuedBefore *time.Time `json:"issued_before,omitempty"`
	Consumed     bool       `json:"consumed,omitempty"`
}

// toJSON returns the JSON form of f.
func toJSON(f store.Filter) jsonFilter {
	j := jsonFilter{All: f.All, IDs: f.IDs, Members: f.Members, Batches: f.Batches, Purpose: f.Purpose, Consumed: f.Consumed}
	if !f.IssuedFrom.IsZero() {
		t := f.IssuedFrom
		j.IssuedFrom = &t
	}
	if !f.IssuedBefore.IsZero() {
		t := f.IssuedBefore
		j.IssuedBefore = &t
	}
	return j
}

// filter returns the store filter j describes.
func (j jsonFilter) filter() store.Filter {
	f := store.Filter{All: j.All, IDs: j.IDs, Members: j.Members, Batches: j.Batches, Purpose: j.Purpose, Consumed: j.Consumed}
	if j.IssuedFrom != nil {
		f.IssuedFrom = *j.IssuedFrom
	}
	if j.IssuedBefore != nil {
		f.IssuedBefore = *j.IssuedBefore
	}
	return f
}

// checkJSONFilter refuses what [store.Filter.Validate] refuses, in the
// words of the request's JSON fields; the error wraps [ErrRequest].
func checkJSONFilter(f store.Filter) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrRequest, fmt.Sprintf(format, a...))
	}
	rest := f
	rest.All = false
	switch {
	case f.IsEmpty():
		return bad(`the filter is empty: set "all": true to revoke everything, or ids, members, batches, purpose, issued_from, issued_before or consumed`)
	case f.All && !rest.IsEmpty():
		return bad(`"all" cannot be combined with another field of the filter`)
	case len(f.IDs)+len(f.Members)+len(f.Batches) > store.MaxFilterValues:
		return bad("ids, members and batches name %d values together, at most %d", len(f.IDs)+len(f.Members)+len(f.Batches), store.MaxFilterValues)
	case !f.IssuedFrom.IsZero() && !f.IssuedBefore.IsZero() && !f.IssuedBefore.After(f.IssuedFrom):
		return bad("issued_before must be after issued_from")
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrRequest, err)
	}
	return nil
}
