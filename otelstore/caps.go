package otelstore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

// The optional capabilities a store may have. The store New returns has
// exactly those of the store it instruments: a capability it claimed
// without having it would answer [store.ErrUnsupported] where the caller
// would have taken another path ([store.TallyOf] pages through records
// without a [store.Tallier]; the verifier refuses, when it is built, a
// store without [store.Counters]), and one it dropped would silently
// disable a feature. TestCapabilities checks every combination, and that
// this list names every optional interface package store declares.
const (
	capPing = 1 << iota
	capTally
	capBatches
	capHit
)

type pinger struct{ s *instrumented }

func (p pinger) Ping(ctx context.Context) error {
	start := time.Now()
	err := p.s.ping.Ping(ctx)
	p.s.done(ctx, opPing, start, err)
	return err
}

type tallier struct{ s *instrumented }

func (t tallier) Tally(ctx context.Context, f store.Filter, at time.Time) (store.Tally, error) {
	start := time.Now()
	res, err := t.s.tally.Tally(ctx, f, at)
	t.s.done(ctx, opTally, start, err)
	return res, err
}

type lister struct{ s *instrumented }

func (l lister) Batches(ctx context.Context, q store.BatchQuery) ([]store.BatchSummary, error) {
	start := time.Now()
	res, err := l.s.batches.Batches(ctx, q)
	l.s.done(ctx, opBatches, start, err)
	return res, err
}

type counters struct{ s *instrumented }

func (c counters) Hit(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error) {
	start := time.Now()
	n, err := c.s.hit.Hit(ctx, key, window, at)
	c.s.done(ctx, opHit, start, err)
	return n, err
}

// withCapabilities returns s as a store with the optional capabilities of
// the store it instruments, and no others.
func withCapabilities(s *instrumented) store.Store {
	caps := 0
	var ok bool
	if s.ping, ok = s.st.(store.Pinger); ok {
		caps |= capPing
	}
	if s.tally, ok = s.st.(store.Tallier); ok {
		caps |= capTally
	}
	if s.batches, ok = s.st.(store.BatchLister); ok {
		caps |= capBatches
	}
	if s.hit, ok = s.st.(store.Counters); ok {
		return withCounters(s, caps)
	}
	switch caps {
	case capPing:
		return struct {
			*instrumented
			pinger
		}{s, pinger{s}}
	case capTally:
		return struct {
			*instrumented
			tallier
		}{s, tallier{s}}
	case capPing | capTally:
		return struct {
			*instrumented
			pinger
			tallier
		}{s, pinger{s}, tallier{s}}
	case capBatches:
		return struct {
			*instrumented
			lister
		}{s, lister{s}}
	case capPing | capBatches:
		return struct {
			*instrumented
			pinger
			lister
		}{s, pinger{s}, lister{s}}
	case capTally | capBatches:
		return struct {
			*instrumented
			tallier
			lister
		}{s, tallier{s}, lister{s}}
	case capPing | capTally | capBatches:
		return struct {
			*instrumented
			pinger
			tallier
			lister
		}{s, pinger{s}, tallier{s}, lister{s}}
	}
	return s
}

// withCounters is withCapabilities for a store with [store.Counters],
// as every store of this module has.
func withCounters(s *instrumented, caps int) store.Store {
	switch caps {
	case capPing:
		return struct {
			*instrumented
			pinger
			counters
		}{s, pinger{s}, counters{s}}
	case capTally:
		return struct {
			*instrumented
			tallier
			counters
		}{s, tallier{s}, counters{s}}
	case capPing | capTally:
		return struct {
			*instrumented
			pinger
			tallier
			counters
		}{s, pinger{s}, tallier{s}, counters{s}}
	case capBatches:
		return struct {
			*instrumented
			lister
			counters
		}{s, lister{s}, counters{s}}
	case capPing | capBatches:
		return struct {
			*instrumented
			pinger
			lister
			counters
		}{s, pinger{s}, lister{s}, counters{s}}
	case capTally | capBatches:
		return struct {
			*instrumented
			tallier
			lister
			counters
		}{s, tallier{s}, lister{s}, counters{s}}
	case capPing | capTally | capBatches:
		return struct {
			*instrumented
			pinger
			tallier
			lister
			counters
		}{s, pinger{s}, tallier{s}, lister{s}, counters{s}}
	}
	return struct {
		*instrumented
		counters
	}{s, counters{s}}
}
