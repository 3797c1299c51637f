package memstore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Watermark implements [store.Tokens].
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guards.Mark(store.Mark{Member: member, Before: store.MicroCeil(before)})
	return nil
}

// WatermarkNow implements [store.Tokens]: the mark takes the next number
// of the store's sequence, under the lock every Insert takes.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Mark{}, err
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeq++
	s.guards.Mark(store.Mark{Member: member, Seq: s.lastSeq})
	return s.guards.MarkOf(member), nil
}

// Marks implements [store.Tokens].
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.guards.Marks(), nil
}

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
