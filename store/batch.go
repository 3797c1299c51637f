package store

import (
	"fmt"
	"time"
)

// BatchQuery pages through the batches of a store.
type BatchQuery struct {
	// After is the last batch of the previous page, "" for the first page.
	After string
	// Limit is the most batches to return: 1 to [MaxPage]; 0 means 1000.
	Limit int
}

// Validate checks the query; the error wraps [ErrInvalid].
func (q BatchQuery) Validate() error {
	if !ValidText(q.After, MaxBatchLen) {
		return fmt.Errorf("%w: batch cursor must be at most %d bytes of text", ErrInvalid, MaxBatchLen)
	}
	if q.Limit < 0 || q.Limit > MaxPage {
		return fmt.Errorf("%w: query limit must be 0 to %d", ErrInvalid, MaxPage)
	}
	return nil
}

// PageSize returns the effective limit of the query.
func (q BatchQuery) PageSize() int {
	if q.Limit == 0 {
		return 1000
	}
	return q.Limit
}

// BatchSummary describes the records a store holds of one batch.
type BatchSummary struct {
	Batch string `json:"batch"`
	// Links is how many records of the batch the store holds.
	Links int64 `json:"links"`
	// FirstIssued and LastIssued are the earliest and latest IssuedAt of
	// them.
	FirstIssued time.Time `json:"first_issued"`
	LastIssued  time.Time `json:"last_issued"`
}
