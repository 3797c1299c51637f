package verify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Limits of the refusal ledger's queue.
const (
	// queueMax bounds the refusals waiting for their ledger write. Past it
	// a refusal is counted, not itemised: see [ledgerQueue].
	queueMax = 1024
	// queueWait bounds how long a refusal waits for its ledger write
	// before it answers; the write still happens.
	queueWait = 5 * time.Second
	// queueWrite bounds one ledger write.
	queueWrite = 10 * time.Second
)

// ledgerQueue writes refusals to the ledger in groups: a refusal joins the
// group being gathered, and one writer appends a whole group in one store
// call (one transaction) while the next one gathers. Concurrent refusals
// therefore cost the store a few writes, not one each, and hold at most
// one of its connections: a replay storm or a stalled ledger never takes
// the connections, or on SQLite the writer, that logins need.
//
// The queue is bounded. A refusal that finds it full is not itemised but
// counted, and the next group records the count as one entry with
// [store.ReasonUnitemised] ("N refusals not itemised"), as it does for the
// refusals of a group whose write failed: nothing is lost silently. A
// mismatch on a consumable link, which the circuit breakers of other
// instances read from the ledger, may use twice the bound.
//
// The verdict never depends on the write: a refusal is a refusal whether or
// not its entry was written. The refusal waits for its group's write (at
// most [queueWait], or its context), so that the ledger holds it when the
// call returns unless the ledger is slow.
type ledgerQueue struct {
	st     store.Ledger
	logger *slog.Logger
	max    int // the bound; twice it for the breaker's mismatches

	mu       sync.Mutex
	group    []store.Event
	done     chan struct{} // closed when group has been written or failed
	writing  bool
	lost     int64 // refusals not itemised, not yet recorded as such
	lostFrom time.Time
}

func newLedgerQueue(st store.Ledger, logger *slog.Logger) *ledgerQueue {
	return &ledgerQueue{st: st, logger: logger, max: queueMax, done: make(chan struct{})}
}

// add queues ev and returns a channel closed once its group is written or
// its write failed, or nil if ev was counted rather than queued. counted
// says whether a circuit breaker counts ev.
func (q *ledgerQueue) add(ev store.Event, counted bool) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	limit := q.max
	if counted {
		limit *= 2
	}
	if len(q.group) >= limit || ev.Validate() != nil {
		q.count(1, ev.At)
		return nil
	}
	q.group = append(q.group, ev)
	done := q.done
	if !q.writing {
		q.writing = true
		go q.write()
	}
	return done
}

// count adds n refusals not itemised. The caller holds q.mu.
func (q *ledgerQueue) count(n int64, at time.Time) {
	if q.lost == 0 || at.Before(q.lostFrom) {
		q.lostFrom = at
	}
	q.lost += n
}

// write appends groups until none is waiting.
func (q *ledgerQueue) write() {
	for {
		q.mu.Lock()
		group, done, lost, from := q.group, q.done, q.lost, q.lostFrom
		if len(group) == 0 && lost == 0 {
			q.writing = false
			q.mu.Unlock()
			return
		}
		q.group, q.done, q.lost = nil, make(chan struct{}), 0
		q.mu.Unlock()
		evs := group
		if lost > 0 {
			evs = append(evs, unitemised(lost, from))
		}
		ctx, cancel := context.WithTimeout(context.Background(), queueWrite)
		err := q.st.Append(ctx, evs...)
		cancel()
		close(done)
		if err != nil {
			q.logger.Error("oncelink: refusals not recorded in the ledger; counted for a later entry",
				"refusals", len(group), "not_itemised_before", lost, "error", err)
			for _, e := range group {
				if lost == 0 || e.At.Before(from) {
					from = e.At
				}
				lost++
			}
			q.mu.Lock()
			q.count(lost, from)
			q.mu.Unlock()
			// A ledger that fails is not retried at once: the next group
			// gathers meanwhile.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// unitemised is the entry that records n refusals not itemised since from.
func unitemised(n int64, from time.Time) store.Event {
	return store.Event{At: from, Kind: store.EventRefused, Reason: string(store.ReasonUnitemised), Count: n,
		Actor: "verifier", Detail: fmt.Sprintf("%d refusals not itemised (the refusal ledger was full or failing)", n)}
}

// wait waits for done, at most queueWait or until ctx ends.
func wait(ctx context.Context, done <-chan struct{}) {
	if done == nil {
		return
	}
	t := time.NewTimer(queueWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}
