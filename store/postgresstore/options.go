package postgresstore

import (
	"strings"
)

// Option configures a [Store].
type Option func(*config)

type config struct {
	schema string
}

// WithSchema names the schema that holds the store's tables. It must be a
// lower-case identifier: a letter or underscore, then letters, digits or
// underscores, at most 63 bytes, not starting with "pg_".
func WithSchema(name string) Option {
	return func(c *config) { c.schema = name }
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
