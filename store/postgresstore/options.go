package postgresstore

import (
	"fmt"
	"strings"

	"github.com/oncelink/oncelink/store"
)

// Option configures [New]. An option that is given a bad value makes New
// fail with an error wrapping [store.ErrInvalid].
type Option func(*config) error

type config struct {
	schema string
}

// DefaultSchema is the schema the store uses unless [WithSchema] names
// another.
const DefaultSchema = "oncelink"

func defaults() config { return config{schema: DefaultSchema} }

// WithSchema names the schema that holds the store's tables. It must be a
// lower-case identifier: a letter or underscore, then letters, digits or
// underscores, at most 63 bytes, not starting with "pg_".
func WithSchema(name string) Option {
	return func(c *config) error {
		if !safeIdent(name) {
			return fmt.Errorf("%w: postgres: schema name %q is not a safe identifier", store.ErrInvalid, name)
		}
		c.schema = name
		return nil
	}
}

func safeIdent(s string) bool {
	if s == "" || len(s) > 63 || strings.HasPrefix(s, "pg_") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
