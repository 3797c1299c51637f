package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// brokenEnv names, in the environment of the test binary started again by
// TestSuiteFindsBrokenStores, the broken store TestBrokenStore runs the
// suite against.
const brokenEnv = "ONCELINK_STORETEST_BROKEN"

// A brokenStore is the memory store with one rule of the contract broken,
// and the cases of the suite that must report it.
type brokenStore struct {
	rule  string // the rule it breaks: it ...
	store func() store.Store
	fails []string
}

var broken = []brokenStore{
	{"breaks nothing", func() store.Store { return memstore.New() }, nil},
	{"answers ErrUsed for a revoked link", func() store.Store { return usedForRevoked{memstore.New()} },
		[]string{"Order", "WatermarkGlobal", "PeekDecides"}},
	{"lets two consumers win one link", func() store.Store { return twoWinners{memstore.New()} },
		[]string{"ConcurrentConsume"}},
	{"ignores a hold", func() store.Store { return holdsIgnored{memstore.New()} },
		[]string{"Freeze", "FreezeScopes"}},
	{"rounds the cut-off of Purge down", func() store.Store { return cutOffRoundedDown{memstore.New()} },
		[]string{"SubMicrosecondPurge", "CountersSubMicrosecondPurge"}},
	{"ignores a canceled context", func() store.Store { return contextIgnored{memstore.New()} },
		[]string{"CanceledContext"}},
}

// usedForRevoked answers ErrUsed where a revoked link is refused.
type usedForRevoked struct{ *memstore.Store }

func (s usedForRevoked) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	r, err := s.Store.Consume(ctx, req)
	if errors.Is(err, store.ErrRevoked) {
		err = store.ErrUsed
	}
	return r, err
}

// twoWinners checks a link and consumes it in two steps, so that every
// consumer that checked before the first one consumed wins too.
type twoWinners struct{ *memstore.Store }

func (s twoWinners) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if req.Confirmation == store.Mismatched {
		return s.Store.Consume(ctx, req)
	}
	r, err := s.Store.Peek(ctx, req)
	if err != nil {
		return r, err
	}
	time.Sleep(time.Millisecond)
	s.Store.Consume(ctx, req)
	r.Status, r.ConsumedAt, r.Consumer = store.StatusConsumed, store.Micro(req.At), req.Presentation
	return r, nil
}

// holdsIgnored places no hold, and says it did.
type holdsIgnored struct{ *memstore.Store }

func (holdsIgnored) Freeze(context.Context, store.Hold) error { return nil }

// cutOffRoundedDown rounds Purge's cut-off down to the microsecond rather
// than up.
type cutOffRoundedDown struct{ *memstore.Store }

func (s cutOffRoundedDown) Purge(ctx context.Context, before time.Time) (int64, error) {
	return s.Store.Purge(ctx, store.Micro(before))
}

// contextIgnored lists the watermarks whatever its context says.
type contextIgnored struct{ *memstore.Store }

func (s contextIgnored) Marks(context.Context) ([]store.Mark, error) {
	return s.Store.Marks(context.Background())
}

// TestBrokenStore runs the suite against the broken store whose rule
// brokenEnv names.
// It runs only when TestSuiteFindsBrokenStores starts it.
func TestBrokenStore(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs only in the process TestSuiteFindsBrokenStores starts")
	}
	i := slices.IndexFunc(broken, func(b brokenStore) bool { return b.rule == name })
	if i < 0 {
		t.Fatalf("no broken store that %s", name)
	}
	storetest.Run(t, func(t *testing.T) store.Store { return broken[i].store() })
}

// failed matches the report of a failed case of the suite.
var failed = regexp.MustCompile(`--- FAIL: TestBrokenStore/(\w+)`)

// TestSuiteFindsBrokenStores runs the suite, in a process of its own,
// against stores that each break one rule of the contract, and checks that
// it fails each of them in the cases that test the rule, and passes the
// store that breaks nothing.
func TestSuiteFindsBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite six times")
	}
	for _, b := range broken {
		t.Run(b.rule, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStore$", "-test.v", "-test.count=1", "-test.timeout=5m")
			cmd.Env = append(os.Environ(), brokenEnv+"="+b.rule)
			out, err := cmd.CombinedOutput()
			var got []string
			for _, m := range failed.FindAllSubmatch(out, -1) {
				got = append(got, string(m[1]))
			}
			if b.fails == nil {
				if err != nil || len(got) > 0 {
					t.Fatalf("the suite failed a store that breaks nothing (%v): %v\n%s", err, got, out)
				}
				return
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a store that %s: %v\n%s", b.rule, err, out)
			}
			for _, want := range b.fails {
				if !slices.Contains(got, want) {
					t.Errorf("the suite did not fail %s on a store that %s; it failed %v", want, b.rule, got)
				}
			}
		})
	}
}
