package mysqlstore

import (
	"context"
	"fmt"

	"github.com/oncelink/oncelink/store"
)

// WatermarkNow implements [store.Tokens] by refusing: this store does not
// yet number its records from a sequence of its own ([store.Record.Seq]),
// so it cannot say which records it has recorded so far. It changes
// nothing and returns an error wrapping [store.ErrUnsupported]; a
// watermark by time ([Store.Watermark]) works.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctx.Err(); err != nil {
		return store.Mark{}, s.unavailable("watermark", err)
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	return store.Mark{}, fmt.Errorf("%w: mysqlstore: a watermark by the store's sequence needs a sequence this store does not keep yet; use a watermark by time", store.ErrUnsupported)
}
