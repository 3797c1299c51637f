package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Store    = (*Store)(nil)
	_ store.Pinger   = (*Store)(nil)
	_ store.Counters = (*Store)(nil)
)

// Store is an in-memory store. The zero value is not usable; call [New].
type Store struct {
	mu    sync.RWMutex
	index map[[16]byte]uint32 // id -> position in recs
	recs  []rec

	purposes intern
	batches  intern

	guards  *store.Guards // watermarks and holds
	lastSeq int64         // the store's sequence: the last number drawn

	events []store.Event
	seq    uint64

	hits map[hitKey]int64 // counts per key, window and bucket
}

// rec is one record, packed. Times are unix microseconds, 0 when unset.
type rec struct {
	id       [16]byte
	secret   [32]byte
	issued   int64
	expires  int64
	consumed int64
	revoked  int64
	seq      int64  // the store's sequence number of the record
	mr       string // member followed by recipient
	state    *[store.StateLen]byte
	consumer *store.Presentation
	purpose  uint32
	batch    uint32 // 0 = none
	failures int32
	mlen     uint16
	status   store.Status
}

// New returns an empty store.
func New() *Store {
	s := &Store{
		index:  make(map[[16]byte]uint32),
		guards: store.NewGuards(nil, nil),
		hits:   make(map[hitKey]int64),
	}
	s.batches.add("") // batch 0 is "no batch"
	return s
}

// Len returns the number of records held.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.recs)
}

// Ping always succeeds.
func (s *Store) Ping(ctx context.Context) error { return ctxErr(ctx) }

// intern maps strings to small numbers, so that a purpose or batch shared by
// many records is kept once.
type intern struct {
	ids   map[string]uint32
	names []string
}

func (in *intern) add(s string) uint32 {
	if in.ids == nil {
		in.ids = make(map[string]uint32)
	}
	if id, ok := in.ids[s]; ok {
		return id
	}
	id := uint32(len(in.names))
	in.ids[s] = id
	in.names = append(in.names, s)
	return id
}

func (in *intern) lookup(s string) (uint32, bool) {
	id, ok := in.ids[s]
	return id, ok
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return nil
}

func parseID(s string) ([16]byte, bool) { return store.ParseID(s) }

func formatID(id [16]byte) string { return store.FormatID(id) }

func (s *Store) toRecord(r *rec) store.Record {
	out := store.Record{
		ID:         formatID(r.id),
		Member:     r.mr[:r.mlen],
		Purpose:    s.purposes.names[r.purpose],
		Batch:      s.batches.names[r.batch],
		Recipient:  r.mr[r.mlen:],
		SecretHash: r.secret,
		IssuedAt:   store.FromUnixMicro(r.issued),
		ExpiresAt:  store.FromUnixMicro(r.expires),
		Seq:        r.seq,
		Status:     r.status,
		Failures:   int(r.failures),
		ConsumedAt: store.FromUnixMicro(r.consumed),
		RevokedAt:  store.FromUnixMicro(r.revoked),
	}
	if r.state != nil {
		out.State = append([]byte(nil), r.state[:]...)
	}
	if r.consumer != nil {
		out.Consumer = *r.consumer
	}
	return out
}

// view is the record r as the checks read it, without copying its
// strings.
func (s *Store) view(r *rec) store.Record {
	v := store.Record{
		Member:     r.mr[:r.mlen],
		Purpose:    s.purposes.names[r.purpose],
		Batch:      s.batches.names[r.batch],
		SecretHash: r.secret,
		IssuedAt:   store.FromUnixMicro(r.issued),
		ExpiresAt:  store.FromUnixMicro(r.expires),
		Seq:        r.seq,
		Status:     r.status,
	}
	if r.state != nil {
		v.State = r.state[:]
	}
	return v
}
