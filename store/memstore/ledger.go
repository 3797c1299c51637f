package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/oncelink/oncelink/store"
)

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
			e.Kind, e.At, e.Detail = store.EventIssued, store.FromUnixMicro(r.issued), r.mr[r.mlen:]
			add(eventKey{r.issued, 0, e.TokenID}, e)
		}
		if r.consumed != 0 && q.Wants(store.EventConsumed) {
			e := base
			e.Kind, e.At = store.EventConsumed, store.FromUnixMicro(r.consumed)
			if r.consumer != nil {
				e.Presentation = *r.consumer
			}
			add(eventKey{r.consumed, 1, e.TokenID}, e)
		}
	}
	for _, e := range s.events {
		seq, _ := strconv.ParseUint(e.Cursor, 10, 64)
		add(eventKey{store.UnixMicro(e.At), 2, fmt.Sprintf("%020d", seq)}, e)
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
