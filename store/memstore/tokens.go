package memstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Insert implements [store.Tokens].
func (s *Store) Insert(ctx context.Context, recs []store.Record) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	if err := store.ValidateInsert(recs); err != nil {
		return err
	}
	ids := make([][16]byte, len(recs))
	for i := range recs {
		ids[i], _ = parseID(recs[i].ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.index[id]; ok {
			return store.ErrDuplicate
		}
	}
	s.recs = slices.Grow(s.recs, len(recs))
	s.lastSeq++
	for i := range recs {
		r := &recs[i]
		p := rec{
			id:      ids[i],
			secret:  r.SecretHash,
			issued:  store.UnixMicro(r.IssuedAt),
			expires: store.UnixMicro(r.ExpiresAt),
			seq:     s.lastSeq,
			mr:      r.Member + r.Recipient,
			mlen:    uint16(len(r.Member)),
			purpose: s.purposes.add(r.Purpose),
			batch:   s.batches.add(r.Batch),
			status:  store.StatusIssued,
		}
		if r.State != nil {
			var st [store.StateLen]byte
			copy(st[:], r.State)
			p.state = &st
		}
		s.index[ids[i]] = uint32(len(s.recs))
		s.recs = append(s.recs, p)
	}
	return nil
}

func (s *Store) find(id string) (*rec, bool) {
	key, ok := parseID(id)
	if !ok {
		return nil, false
	}
	i, ok := s.index[key]
	if !ok {
		return nil, false
	}
	return &s.recs[i], true
}

// Get implements [store.Tokens].
func (s *Store) Get(ctx context.Context, id string) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.find(id)
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	return s.toRecord(r), nil
}

// check runs the consume checks in contract order, by [store.Check]. The
// caller holds the lock.
func (s *Store) check(r *rec, req *store.ConsumeRequest) error {
	v := s.view(r)
	return store.Check(&v, s.guards, req)
}

// Peek implements [store.Tokens].
func (s *Store) Peek(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if err := req.Validate(); err != nil {
		return store.Record{}, err
	}
	if req.Confirmation != store.Mismatched {
		s.mu.RLock()
		defer s.mu.RUnlock()
		r, ok := s.find(req.ID)
		if !ok {
			return store.Record{}, store.ErrNotFound
		}
		return s.toRecord(r), s.check(r, &req)
	}
	return s.present(&req, false)
}

// Consume implements [store.Tokens].
func (s *Store) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if err := req.Validate(); err != nil {
		return store.Record{}, err
	}
	return s.present(&req, true)
}

// present runs the checks under the write lock, counts the failure of a
// mismatched request whatever the record's state, and consumes.
func (s *Store) present(req *store.ConsumeRequest, consume bool) (store.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.find(req.ID)
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	// The checks judge the record as it was before the count.
	err := s.check(r, req)
	if errors.Is(err, store.ErrSecret) {
		return s.toRecord(r), err
	}
	if req.Confirmation == store.Mismatched {
		s.fail(r, req.At, req.MaxFailures)
		return s.toRecord(r), err
	}
	if err != nil || !consume {
		return s.toRecord(r), err
	}
	r.status = store.StatusConsumed
	r.consumed = store.UnixMicro(req.At)
	if !req.Presentation.IsZero() {
		p := req.Presentation
		r.consumer = &p
	} else {
		r.consumer = nil
	}
	return s.toRecord(r), nil
}

// fail counts one failure, revoking an issued record at max (max > 0).
func (s *Store) fail(r *rec, at time.Time, max int) {
	r.failures++
	if max > 0 && int(r.failures) >= max && r.status == store.StatusIssued {
		r.status = store.StatusRevoked
		r.revoked = store.UnixMicro(at)
	}
}

// Fail implements [store.Tokens].
func (s *Store) Fail(ctx context.Context, id string, at time.Time, max int) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.find(id)
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	s.fail(r, at, max)
	return s.toRecord(r), nil
}
