package memstore

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
	h.Since = store.Micro(h.Since)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guards.Freeze(h)
	return nil
}

// Thaw implements [store.Holds].
func (s *Store) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guards.Thaw(scope, key), nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.guards.Holds(), nil
}
