package token

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oncelink/oncelink/store"
)

// signBlock is the number of links a signing worker signs at a time when
// the store takes records as they come.
const signBlock = 512

// errSkipped marks a block that was not signed because another failed.
var errSkipped = errors.New("oncelink: block not signed")

// record mints one link per request of a batch and records them all with
// one store call, all or nothing. A store that takes records as they are
// made ([store.StreamInserter]) writes the first blocks while every core
// signs the next, so that a batch costs about the longer of signing and
// writing rather than their sum; any other store gets them all at once.
// A bad request is returned as it is; a store's failure is an
// [*insertError].
func (i *Issuer) record(ctx context.Context, batch string, reqs []Request) ([]*Link, error) {
	if _, ok := i.st.(store.StreamInserter); !ok || len(reqs) <= signBlock {
		links, recs, err := i.mintMany(ctx, batch, reqs)
		if err != nil {
			return nil, err
		}
		if err := i.st.Insert(ctx, recs); err != nil {
			return nil, &insertError{err}
		}
		return links, nil
	}
	p := i.sign(ctx, batch, reqs)
	var bad error // the request or signing error the records stopped at
	seq := func(yield func(store.Record, error) bool) {
		for b := range p.done {
			select {
			case <-p.done[b]:
			case <-ctx.Done():
				yield(store.Record{}, ctx.Err())
				return
			}
			if p.errs[b] != nil {
				bad = p.stop()
				yield(store.Record{}, bad)
				return
			}
			for n := b * signBlock; n < min((b+1)*signBlock, len(reqs)); n++ {
				if !yield(p.recs[n], nil) {
					return
				}
			}
		}
	}
	err := store.InsertSeq(ctx, i.st, seq)
	p.stop()
	switch {
	case bad != nil && errors.Is(err, bad):
		return nil, bad
	case err != nil:
		return nil, &insertError{err}
	}
	return p.links, nil
}

// insertError is the store's failure to record a batch.
type insertError struct{ err error }

func (e *insertError) Error() string { return e.err.Error() }
func (e *insertError) Unwrap() error { return e.err }

// signing is a batch being signed by workers, block by block in order.
type signing struct {
	links   []*Link
	recs    []store.Record
	done    []chan struct{} // closed when the block is signed, or skipped
	errs    []error         // the block's error, once done
	next    atomic.Int64    // the next block to sign
	stopped atomic.Bool
	wg      sync.WaitGroup
}

// sign starts signing reqs on every core.
func (i *Issuer) sign(ctx context.Context, batch string, reqs []Request) *signing {
	now := i.cfg.clock()
	key := i.keys.snapshot().active
	blocks := (len(reqs) + signBlock - 1) / signBlock
	p := &signing{links: make([]*Link, len(reqs)), recs: make([]store.Record, len(reqs)),
		done: make([]chan struct{}, blocks), errs: make([]error, blocks)}
	for b := range p.done {
		p.done[b] = make(chan struct{})
	}
	for range min(runtime.GOMAXPROCS(0), blocks) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				b := int(p.next.Add(1) - 1)
				if b >= blocks {
					return
				}
				if p.stopped.Load() {
					p.errs[b] = errSkipped
				} else {
					p.errs[b] = i.signRange(ctx, batch, reqs, b*signBlock, min((b+1)*signBlock, len(reqs)), now, key, p)
				}
				if p.errs[b] != nil {
					p.stopped.Store(true)
				}
				close(p.done[b])
			}
		}()
	}
	return p
}

// signRange signs reqs[lo:hi] into p.
func (i *Issuer) signRange(ctx context.Context, batch string, reqs []Request, lo, hi int, now time.Time, key *Key, p *signing) error {
	for n := lo; n < hi; n++ {
		if reqs[n].Recipient == "" {
			return fmt.Errorf("%w: request %d of batch %q has no recipient", ErrRequest, n, batch)
		}
		l, rec, err := i.mint(ctx, reqs[n], batch, now, key)
		if err != nil {
			return fmt.Errorf("request %d: %w", n, err)
		}
		p.links[n], p.recs[n] = l, rec
	}
	return nil
}

// stop stops the workers, waits for them, and returns the first error of a
// block that was signed, if any.
func (p *signing) stop() error {
	p.stopped.Store(true)
	p.wg.Wait()
	for _, err := range p.errs {
		if err != nil && err != errSkipped {
			return err
		}
	}
	return nil
}
