package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/oncelink/oncelink/store"
)

// BatchReport describes one batch a site sent: its links by what Consume
// would decide for each now, and the presentations refused.
type BatchReport struct {
	store.BatchSummary
	store.Tally
	// Refused is how many presentations of its links were refused (the
	// ledger's refusals: mismatches, used, revoked, frozen...).
	Refused int64 `json:"refused"`
	// Held reports whether a batch hold stands on it.
	Held bool `json:"held"`
}

// Batches lists the batches the store holds links of, oldest first, with
// their counts: the names an operator freezes, revokes and reports by. It
// needs a store that lists batches ([store.BatchLister]); others answer
// [store.ErrUnsupported].
func (a *Admin) Batches(ctx context.Context) ([]BatchReport, error) {
	lister, ok := a.st.(store.BatchLister)
	if !ok {
		return nil, fmt.Errorf("%w: the store does not list batches", store.ErrUnsupported)
	}
	var sums []store.BatchSummary
	q := store.BatchQuery{Limit: store.MaxPage}
	for {
		page, err := lister.Batches(ctx, q)
		if err != nil {
			return nil, err
		}
		sums = append(sums, page...)
		if len(page) < q.PageSize() {
			break
		}
		q.After = page[len(page)-1].Batch
	}
	holds, err := a.st.Holds(ctx)
	if err != nil {
		return nil, err
	}
	now := a.clock()
	out := make([]BatchReport, 0, len(sums))
	for _, sum := range sums {
		b := BatchReport{BatchSummary: sum}
		if b.Tally, err = store.TallyOf(ctx, a.st, store.Filter{Batches: []string{sum.Batch}}, now); err != nil {
			return nil, err
		}
		if b.Refused, err = a.refusals(ctx, sum.Batch); err != nil {
			return nil, err
		}
		b.Held = slices.ContainsFunc(holds, func(h store.Hold) bool { return h.Scope == store.ScopeBatch && h.Key == sum.Batch })
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(x, y BatchReport) int {
		if c := x.FirstIssued.Compare(y.FirstIssued); c != 0 {
			return c
		}
		return strings.Compare(x.Batch, y.Batch)
	})
	return out, nil
}

// refusals counts the refused presentations of a batch's links in the
// ledger.
func (a *Admin) refusals(ctx context.Context, batch string) (int64, error) {
	q := store.EventQuery{Batch: batch, Kinds: []store.EventKind{store.EventRefused}, Limit: store.MaxPage}
	var n int64
	for {
		page, next, err := a.st.Events(ctx, q)
		if err != nil {
			return 0, err
		}
		for _, e := range page {
			if e.TokenID != "" {
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		if n > maxReportEvents {
			return 0, fmt.Errorf("%w: more than %d refusals in batch %q", ErrRequest, maxReportEvents, batch)
		}
		q.After = next
	}
}
