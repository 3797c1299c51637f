package redisstore

import (
	"context"

	"github.com/oncelink/oncelink/store"
)

// Freeze implements [store.Holds].
func (s *Store) Freeze(ctx context.Context, h store.Hold) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	since := ""
	if !h.Since.IsZero() {
		since = fmtInt(store.UnixMicro(h.Since))
	}
	v, err := freezeScript.Run(ctx, s.c, []string{s.k.ctl}, holdField(h.Scope, h.Key), since+":"+h.Reason).Result()
	return written("freeze", v, err)
}

// Thaw implements [store.Holds].
func (s *Store) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, err
	}
	v, err := thawScript.Run(ctx, s.c, []string{s.k.ctl}, holdField(scope, key)).Result()
	if err := written("thaw", v, err); err != nil {
		return false, err
	}
	return v == int64(1), nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	g, err := s.control(ctx)
	if err != nil {
		return nil, err
	}
	return g.Holds(), nil
}
