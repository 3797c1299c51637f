package admin

import (
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
