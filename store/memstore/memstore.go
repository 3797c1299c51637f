package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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

func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func (s *Store) toRecord(r *rec) store.Record {
	out := store.Record{
		ID:         formatID(r.id),
		Member:     r.mr[:r.mlen],
		Purpose:    s.purposes.names[r.purpose],
		Batch:      s.batches.names[r.batch],
		Recipient:  r.mr[r.mlen:],
		SecretHash: r.secret,
		IssuedAt:   fromMicro(r.issued),
		ExpiresAt:  fromMicro(r.expires),
		Seq:        r.seq,
		Status:     r.status,
		Failures:   int(r.failures),
		ConsumedAt: fromMicro(r.consumed),
		RevokedAt:  fromMicro(r.revoked),
	}
	if r.state != nil {
		out.State = append([]byte(nil), r.state[:]...)
	}
	if r.consumer != nil {
		out.Consumer = *r.consumer
	}
	return out
}

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
			issued:  micro(store.Micro(r.IssuedAt)),
			expires: micro(store.Micro(r.ExpiresAt)),
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

// view is the record r as the checks read it, without copying its
// strings.
func (s *Store) view(r *rec) store.Record {
	v := store.Record{
		Member:     r.mr[:r.mlen],
		Purpose:    s.purposes.names[r.purpose],
		Batch:      s.batches.names[r.batch],
		SecretHash: r.secret,
		IssuedAt:   fromMicro(r.issued),
		ExpiresAt:  fromMicro(r.expires),
		Seq:        r.seq,
		Status:     r.status,
	}
	if r.state != nil {
		v.State = r.state[:]
	}
	return v
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
	r.consumed = micro(store.Micro(req.At))
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
		r.revoked = micro(store.Micro(at))
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

// match is [store.Filter.Match] on a packed record, without unpacking it.
func (s *Store) match(f *store.Filter, r *rec, batchIDs map[uint32]bool, ids map[[16]byte]bool) bool {
	if f.All {
		return true
	}
	if ids != nil && !ids[r.id] {
		return false
	}
	if len(f.Members) > 0 && !slices.Contains(f.Members, r.mr[:r.mlen]) {
		return false
	}
	if batchIDs != nil && !batchIDs[r.batch] {
		return false
	}
	if f.Purpose != "" && s.purposes.names[r.purpose] != f.Purpose {
		return false
	}
	if !f.IssuedFrom.IsZero() && r.issued < store.MicroCeil(f.IssuedFrom).UnixMicro() {
		return false
	}
	if !f.IssuedBefore.IsZero() && r.issued >= store.MicroCeil(f.IssuedBefore).UnixMicro() {
		return false
	}
	if f.Consumed && r.consumed == 0 {
		return false
	}
	return true
}

// matcher prepares the lookups a filter needs and returns a predicate.
func (s *Store) matcher(f *store.Filter) func(*rec) bool {
	var batchIDs map[uint32]bool
	if len(f.Batches) > 0 {
		batchIDs = make(map[uint32]bool, len(f.Batches))
		for _, b := range f.Batches {
			if id, ok := s.batches.lookup(b); ok {
				batchIDs[id] = true
			}
		}
	}
	var ids map[[16]byte]bool
	if len(f.IDs) > 0 {
		ids = make(map[[16]byte]bool, len(f.IDs))
		for _, v := range f.IDs {
			id, _ := parseID(v)
			ids[id] = true
		}
	}
	return func(r *rec) bool { return s.match(f, r, batchIDs, ids) }
}

// Revoke implements [store.Tokens].
func (s *Store) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := s.matcher(&f)
	when := micro(store.Micro(at))
	var n int64
	for i := range s.recs {
		r := &s.recs[i]
		if r.status != store.StatusRevoked && ok(r) {
			r.status = store.StatusRevoked
			r.revoked = when
			n++
		}
	}
	return n, nil
}

// Records implements [store.Tokens].
func (s *Store) Records(ctx context.Context, q store.RecordQuery) ([]store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var after [16]byte
	if q.After != "" {
		after, _ = parseID(q.After)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ok := s.matcher(&q.Filter)
	var hits []*rec
	for i := range s.recs {
		r := &s.recs[i]
		if (q.After == "" || string(r.id[:]) > string(after[:])) && ok(r) {
			hits = append(hits, r)
		}
	}
	slices.SortFunc(hits, func(a, b *rec) int { return strings.Compare(string(a.id[:]), string(b.id[:])) })
	if len(hits) > q.PageSize() {
		hits = hits[:q.PageSize()]
	}
	out := make([]store.Record, len(hits))
	for i, r := range hits {
		out[i] = s.toRecord(r)
	}
	return out, nil
}

// Count implements [store.Tokens].
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ok := s.matcher(&f)
	var n int64
	for i := range s.recs {
		if ok(&s.recs[i]) {
			n++
		}
	}
	return n, nil
}

// Purge implements [store.Tokens].
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	cut := before.UnixMicro()
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for i := 0; i < len(s.recs); {
		if s.recs[i].expires >= cut {
			i++
			continue
		}
		delete(s.index, s.recs[i].id)
		last := len(s.recs) - 1
		if i != last {
			s.recs[i] = s.recs[last]
			s.index[s.recs[i].id] = uint32(i)
		}
		s.recs[last] = rec{}
		s.recs = s.recs[:last]
		n++
	}
	kept := s.events[:0]
	for _, e := range s.events {
		if !e.At.Before(before) {
			kept = append(kept, e)
		}
	}
	clear(s.events[len(kept):])
	s.events = kept
	for k := range s.hits {
		if (k.bucket+1)*k.window.Microseconds() < cut {
			delete(s.hits, k)
		}
	}
	return n, nil
}

// Append implements [store.Ledger].
func (s *Store) Append(ctx context.Context, events ...store.Event) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateEvents(events); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		s.seq++
		e.At = store.Micro(e.At)
		e.Cursor = "" // set when listed
		s.events = append(s.events, e)
		s.events[len(s.events)-1].Cursor = strconv.FormatUint(s.seq, 10)
	}
	return nil
}

// eventKey orders ledger entries: time, then issued before consumed before
// appended events, then id or sequence.
type eventKey struct {
	at  int64
	ord int
	key string
}

func (k eventKey) String() string {
	return strconv.FormatInt(k.at, 10) + "." + strconv.Itoa(k.ord) + "." + k.key
}

func (k eventKey) compare(o eventKey) int {
	switch {
	case k.at != o.at:
		if k.at < o.at {
			return -1
		}
		return 1
	case k.ord != o.ord:
		return k.ord - o.ord
	}
	return strings.Compare(k.key, o.key)
}

func parseEventKey(c string) (eventKey, error) {
	at, rest, ok1 := strings.Cut(c, ".")
	ord, key, ok2 := strings.Cut(rest, ".")
	us, err1 := strconv.ParseInt(at, 10, 64)
	o, err2 := strconv.Atoi(ord)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return eventKey{}, fmt.Errorf("%w: malformed ledger cursor", store.ErrInvalid)
	}
	return eventKey{us, o, key}, nil
}

// Events implements [store.Ledger].
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, "", err
	}
	if err := q.Validate(); err != nil {
		return nil, "", err
	}
	var after eventKey
	if q.After != "" {
		var err error
		if after, err = parseEventKey(q.After); err != nil {
			return nil, "", err
		}
	}
	type keyed struct {
		k eventKey
		e store.Event
	}
	var hits []keyed
	add := func(k eventKey, e store.Event) {
		if q.After != "" && k.compare(after) <= 0 {
			return
		}
		if q.Match(&e) {
			e.Cursor = k.String()
			hits = append(hits, keyed{k, e})
		}
	}
	s.mu.RLock()
	for i := range s.recs {
		r := &s.recs[i]
		member := r.mr[:r.mlen]
		if q.Member != "" && member != q.Member {
			continue
		}
		batch := s.batches.names[r.batch]
		if q.Batch != "" && batch != q.Batch {
			continue
		}
		base := store.Event{TokenID: formatID(r.id), Member: member, Batch: batch, Purpose: s.purposes.names[r.purpose]}
		if q.Wants(store.EventIssued) {
			e := base
			e.Kind, e.At, e.Detail = store.EventIssued, fromMicro(r.issued), r.mr[r.mlen:]
			add(eventKey{r.issued, 0, e.TokenID}, e)
		}
		if r.consumed != 0 && q.Wants(store.EventConsumed) {
			e := base
			e.Kind, e.At = store.EventConsumed, fromMicro(r.consumed)
			if r.consumer != nil {
				e.Presentation = *r.consumer
			}
			add(eventKey{r.consumed, 1, e.TokenID}, e)
		}
	}
	for _, e := range s.events {
		seq, _ := strconv.ParseUint(e.Cursor, 10, 64)
		add(eventKey{e.At.UnixMicro(), 2, fmt.Sprintf("%020d", seq)}, e)
	}
	s.mu.RUnlock()
	slices.SortFunc(hits, func(a, b keyed) int { return a.k.compare(b.k) })
	next := ""
	if len(hits) > q.PageSize() {
		hits = hits[:q.PageSize()]
		next = hits[len(hits)-1].k.String()
	}
	out := make([]store.Event, len(hits))
	for i := range hits {
		out[i] = hits[i].e
	}
	return out, next, nil
}
