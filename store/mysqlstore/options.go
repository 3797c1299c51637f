package mysqlstore

import (
	"fmt"

	"github.com/oncelink/oncelink/store"
)

// Option configures [Open]. An option that is given a bad value makes Open
// fail with an error wrapping [store.ErrInvalid].
type Option func(*config) error

type config struct {
	prefix   string
	maxConns int
}

// DefaultTablePrefix is the prefix of the store's tables and procedures
// unless [WithTablePrefix] names another.
const DefaultTablePrefix = "oncelink_"

// defaultMaxConns bounds the connections a store opens unless
// [WithMaxConns] says otherwise.
const defaultMaxConns = 16

func defaults() config {
	return config{prefix: DefaultTablePrefix, maxConns: defaultMaxConns}
}

// WithTablePrefix names the prefix of the store's tables (tokens, guards,
// events, hits, migrations), sequence (seq) and procedures (check,
// consume, fail, hit), so that
// several stores, or a store and a site's own tables, share one database.
// It is "" or a lower-case letter followed by at most 31 lower-case
// letters, digits and underscores.
func WithTablePrefix(prefix string) Option {
	return func(c *config) error {
		if !safePrefix(prefix) {
			return fmt.Errorf("%w: mysqlstore: table prefix %q is not a lower-case identifier of at most 32 bytes", store.ErrInvalid, prefix)
		}
		c.prefix = prefix
		return nil
	}
}

// WithMaxConns bounds the connections the store keeps open, 1 to 1000; the
// default is 16. Calls beyond it wait for a connection, within their
// context's deadline.
func WithMaxConns(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 1000 {
			return fmt.Errorf("%w: mysqlstore: max connections %d out of range 1 to 1000", store.ErrInvalid, n)
		}
		c.maxConns = n
		return nil
	}
}

func safePrefix(s string) bool {
	if len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || i > 0 && (c == '_' || '0' <= c && c <= '9')) {
			return false
		}
	}
	return true
}
