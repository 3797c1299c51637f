package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
)

// stallLedger holds an exclusive lock on the PostgreSQL store's events
// table from a connection of its own, so that every ledger write waits,
// until the returned function releases it.
func stallLedger(t *testing.T, url string) func() {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	schema := cfg.RuntimeParams["oncelink_schema"]
	delete(cfg.RuntimeParams, "oncelink_schema")
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{schema, "events"}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			tx.Rollback(ctx)
			conn.Close(ctx)
		})
	}
	t.Cleanup(release)
	return release
}

// refusals is how many refusals a test records.
func refusals(t *testing.T, st store.Store) (itemised, unitemised int64) {
	t.Helper()
	q := store.EventQuery{Kinds: []store.EventKind{store.EventRefused}, Limit: store.MaxPage}
	for {
		evs, next, err := st.Events(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if store.Reason(e.Reason) == store.ReasonUnitemised {
				unitemised += e.Count
			} else {
				itemised++
			}
		}
		if next == "" {
			return itemised, unitemised
		}
		q.After = next
	}
}

// TestStalledLedgerDoesNotBlockLogins replays used links a hundred times at
// once while the ledger cannot be written, on PostgreSQL with a pool of
// the default size: a member's login must still go through, and once the
// ledger answers again every refusal is in it.
func TestStalledLedgerDoesNotBlockLogins(t *testing.T) {
	testenv.PostgresURL(t)
	st, url := teststores.Postgres(t)
	f := setup(t, nil, st, WithMemberLimit(1000, time.Hour))
	used := f.mint(t, ann)
	if _, err := f.v.Consume(ctx, login(used.URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatal(err)
	}
	bob := f.mint(t, token.Request{Member: "m-18", Purpose: token.PurposeLogin, Recipient: "bob@example.org"})
	release := stallLedger(t, url)

	const replays = 100
	var wg sync.WaitGroup
	for i := 0; i < replays; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if _, err := f.v.Consume(rctx, login(used.URL, Identity{Email: "ann@example.org"})); !errors.Is(err, ErrUsed) {
				t.Errorf("replay: %v, want ErrUsed", err)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // let the replays reach the ledger
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := f.v.Consume(lctx, login(bob.URL, Identity{Email: "bob@example.org"}))
	cancel()
	release()
	wg.Wait()
	if err != nil {
		t.Fatalf("a login while replays wait on a stalled ledger: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		itemised, unitemised := refusals(t, st)
		if itemised+unitemised == replays {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ledger holds %d refusals and %d not itemised, want %d in all", itemised, unitemised, replays)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFullLedgerQueueCountsRefusals overfills the queue of a stalled
// ledger: the refusals past the bound are not itemised but counted, and
// the ledger says how many once it answers again.
func TestFullLedgerQueueCountsRefusals(t *testing.T) {
	testenv.PostgresURL(t)
	st, url := teststores.Postgres(t)
	f := setup(t, nil, st, WithMemberLimit(1000, time.Hour))
	f.v.ledger.max = 10
	used := f.mint(t, ann)
	if _, err := f.v.Consume(ctx, login(used.URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatal(err)
	}
	release := stallLedger(t, url)
	const replays = 60
	var wg sync.WaitGroup
	for i := 0; i < replays; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.v.Consume(ctx, login(used.URL, Identity{Email: "ann@example.org"})); !errors.Is(err, ErrUsed) {
				t.Errorf("replay: %v, want ErrUsed", err)
			}
		}()
	}
	wg.Wait() // every replay answered while the ledger was stalled
	release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		itemised, unitemised := refusals(t, st)
		if itemised+unitemised == replays {
			if unitemised == 0 {
				t.Fatalf("%d refusals itemised past a bound of 10", itemised)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ledger holds %d refusals and %d not itemised, want %d in all", itemised, unitemised, replays)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failingLedger is a memory store whose ledger writes fail while fail is
// set: a store that is down for its ledger only.
type failingLedger struct {
	store.Store
	mu   sync.Mutex
	fail bool
}

func (s *failingLedger) Append(ctx context.Context, evs ...store.Event) error {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("%w: ledger down", store.ErrUnavailable)
	}
	return s.Store.Append(ctx, evs...)
}

func (s *failingLedger) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int64, error) {
	return s.Store.(store.Counters).Hit(ctx, key, window, now)
}

// TestLedgerFailureStillRefuses: a refusal whose ledger write fails is
// still a refusal, and the next write that succeeds records it as not
// itemised.
func TestLedgerFailureStillRefuses(t *testing.T) {
	st := &failingLedger{Store: memstore.New(), fail: true}
	f := setup(t, nil, st)
	l := f.mint(t, ann)
	for i := 0; i < 3; i++ {
		if _, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "bob@example.org"})); !errors.Is(err, ErrMismatch) {
			t.Fatalf("mismatch with a failing ledger: %v", err)
		}
	}
	st.mu.Lock()
	st.fail = false
	st.mu.Unlock()
	if _, err := f.v.Consume(ctx, login(l.URL, Identity{Email: "carl@example.org"})); !errors.Is(err, ErrMismatch) {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		itemised, unitemised := refusals(t, st)
		if itemised == 1 && unitemised == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ledger holds %d refusals and %d not itemised, want 1 and 3", itemised, unitemised)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
