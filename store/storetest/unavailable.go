package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

// unavailableSlack is how long after its deadline an operation
// WantUnavailable checks may still return: a margin for the scheduler of a
// loaded machine, not for the store.
const unavailableSlack = time.Second

// WantUnavailable runs op with a context whose deadline is deadline away,
// and reports to t unless op fails as a store must when its engine cannot
// answer (a closed port, a silent server, a lock held elsewhere): with an
// error wrapping [store.ErrUnavailable] that is no check outcome
// ([store.IsOutcome]), within the deadline and a second. name
// says which operation it is in the report; the test goes on.
func WantUnavailable(t testing.TB, name string, deadline time.Duration, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := op(ctx)
	took := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("%s: %v, want ErrUnavailable", name, err)
	}
	if store.IsOutcome(err) {
		t.Errorf("%s: a failure looks like a check outcome: %v", name, err)
	}
	if took > deadline+unavailableSlack {
		t.Errorf("%s took %v with a deadline of %v", name, took, deadline)
	}
}
