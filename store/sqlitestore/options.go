package sqlitestore

import (
	"fmt"
	"runtime"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Option configures [Open]. An option that is given a bad value makes Open
// fail with an error wrapping [store.ErrInvalid].
type Option func(*config) error

type config struct {
	busyTimeout time.Duration
	readers     int
	mustExist   bool
}

func defaults() config {
	return config{busyTimeout: 5 * time.Second, readers: max(4, runtime.GOMAXPROCS(0))}
}

// WithBusyTimeout sets how long an operation waits for another process's
// write lock on the file before it gives up with an error wrapping
// [store.ErrUnavailable]. The default is 5 seconds. Writers of one [Store]
// queue on its single write connection and do not count against it. It
// must be at least a millisecond.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: sqlite: busy timeout must be at least 1ms", store.ErrInvalid)
		}
		c.busyTimeout = d
		return nil
	}
}

// WithReaders sets the number of read-only connections used by Get, Peek,
// the refusal path of Consume, Records, Count and Events. The default is
// GOMAXPROCS, at least 4. It must be at least 1.
func WithReaders(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: sqlite: at least one read connection is needed", store.ErrInvalid)
		}
		c.readers = n
		return nil
	}
}

// MustExist makes [Open] open only a store that is already there: the file
// must exist and hold an oncelink schema with every migration applied.
// Open then creates nothing, migrates nothing and writes nothing to a file
// that is not such a store, and fails with an error wrapping
// [store.ErrNoStore]. Operators' tools use it, so that a mistyped path is an
// error rather than a new, empty store.
func MustExist() Option {
	return func(c *config) error { c.mustExist = true; return nil }
}
