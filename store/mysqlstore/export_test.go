package mysqlstore

import "context"

// MigrateTo applies the migrations up to version v only, as an earlier
// version of the package did.
func MigrateTo(ctx context.Context, s *Store, v int) error { return s.migrate(ctx, v) }
