package verify

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Defaults of the circuit breaker, which is on unless [WithoutBreaker]: a
// batch is frozen when, within 15 minutes, at least the larger of 3 and
// 0.01% of its links were each presented with mismatching identities by
// two or more people, or the larger of 10 and 5% of its links had
// mismatches at all.
const (
	defaultBreakerWindow         = 15 * time.Minute
	defaultBreakerShared         = 3
	defaultBreakerSharedFraction = 0.0001
	defaultBreakerLinks          = 10
	defaultBreakerLinkFraction   = 0.05
)

// Breaker configures the circuit breaker ([WithBreaker]). A zero field
// takes its default.
//
// The breaker tells the incident this library answers from typing errors.
// In the incident, a mailer reused one message across each group of ten
// members, so one link reached ten people, and each typed their own
// address: one link, several people, several identities. A typing error is
// one person and one link. So the breaker counts links and people, not
// events: a link counts once however often it fails; it is shared when two
// of its mismatching presentations differ both in the identity typed and
// in the client (address and user agent) that typed it, so that one person
// retrying, on one device or on two with the same typo, is one person. Only
// mismatches on links that were still consumable count: one on a link
// already used, revoked, expired, frozen or stale is recorded in the ledger
// and tells the breaker nothing. The thresholds grow with the batch, since
// typing errors do, and a trip or a thaw of the batch starts a new window.
type Breaker struct {
	// Window is how long a mismatch counts, 1 second to 7 days; 15
	// minutes by default.
	Window time.Duration
	// Shared and SharedFraction: the batch is frozen when, within the
	// window, at least max(Shared, SharedFraction × links in the batch)
	// links were each shared (3 and 0.0001 by default). Shared is lowered
	// to one link in ten of a smaller batch: a batch sent in groups of ten
	// sharing one message has no more shared links than that, so a batch of
	// ten freezes on its first shared link.
	Shared         int
	SharedFraction float64
	// Links and LinkFraction: or when at least max(Links, LinkFraction ×
	// links in the batch) links had mismatches (10 and 0.05 by default).
	Links        int
	LinkFraction float64
	// OnTrip, if not nil, is called with the evidence when the breaker
	// freezes a batch. It may be called by more than one instance for one
	// trip; a panic in it is recovered and logged.
	OnTrip func(context.Context, Trip)
}

// Trip is the evidence the circuit breaker hands the site when it freezes a
// batch.
type Trip struct {
	// Batch is the batch that was frozen; At is when.
	Batch string
	At    time.Time
	// Window is the breaker's window.
	Window time.Duration
	// Links is how many links of the batch had identity mismatches within
	// the window, Shared how many of them were presented by several people,
	// People how many clients presented them, and Mismatches how many
	// distinct presentations (identity and client) did not match.
	Links, Shared, People, Mismatches int
	// Sent is how many links the batch has, as the store counted them.
	Sent int64
	// Rule names the threshold that was met.
	Rule string
	// Evidence is mismatches the breaker counted (at most 100): token ids,
	// members, presented identities, addresses, user agents.
	Evidence []store.Event
}

// WithBreaker configures the circuit breaker; see [Breaker] for the rule.
// Mismatches are counted in the process and read from the shared ledger at
// most once a second per batch, so every instance of the site sees the
// others', and a ledger that cannot be written does not blind the
// instance that sees them.
func WithBreaker(b Breaker) Option {
	return func(c *config) error {
		b = b.withDefaults()
		switch {
		case b.Window < time.Second || b.Window > 7*24*time.Hour:
			return fmt.Errorf("%w: breaker window outside 1s to 7 days", ErrConfig)
		case b.Shared < 1 || b.Shared > 1e6 || b.Links < 1 || b.Links > 1e6:
			return fmt.Errorf("%w: breaker thresholds outside 1 to 1000000", ErrConfig)
		case !(b.SharedFraction >= 0 && b.SharedFraction <= 1) || !(b.LinkFraction >= 0 && b.LinkFraction <= 1):
			return fmt.Errorf("%w: breaker fractions outside 0 to 1", ErrConfig)
		}
		c.breaker = &b
		return nil
	}
}

// WithoutBreaker turns the circuit breaker off: mismatches are still counted
// per link and recorded, but no batch is frozen automatically.
func WithoutBreaker() Option {
	return func(c *config) error {
		c.breaker = nil
		return nil
	}
}

func (b Breaker) withDefaults() Breaker {
	if b.Window == 0 {
		b.Window = defaultBreakerWindow
	}
	if b.Shared == 0 {
		b.Shared = defaultBreakerShared
	}
	if b.SharedFraction == 0 {
		b.SharedFraction = defaultBreakerSharedFraction
	}
	if b.Links == 0 {
		b.Links = defaultBreakerLinks
	}
	if b.LinkFraction == 0 {
		b.LinkFraction = defaultBreakerLinkFraction
	}
	return b
}

// thresholds returns the shared links and the links that trip a batch of
// sent links. The shared minimum never exceeds one link in ten: a batch
// sent in groups of ten sharing one message has no more shared links.
func (b *Breaker) thresholds(sent int64) (shared, links int) {
	scale := func(min int, f float64) int {
		return max(min, int(math.Ceil(f*float64(sent))))
	}
	minShared := b.Shared
	if sent > 0 {
		minShared = min(minShared, max(1, int((sent+9)/10)))
	}
	return scale(minShared, b.SharedFraction), scale(b.Links, b.LinkFraction)
}

// How the breaker bounds its work and memory.
const (
	breakerRead    = time.Second     // the ledger is read at most this often per batch
	breakerSkew    = 5 * time.Minute // and again this far back, for instances whose clocks lag
	breakerCount   = time.Minute     // the batch's links are counted at most this often
	breakerPage    = 1000            // ledger entries a page
	breakerPages   = 10              // pages a read
	maxPresenters  = 8               // distinct presentations kept a link
	maxEvidence    = 100
	maxWatchLinks  = 200000
	maxWatchedSets = 1000
)

// breaker is the circuit breaker of one verifier.
type breaker struct {
	cfg     Breaker
	mu      sync.Mutex
	batches map[string]*watch
}

func newBreaker(cfg *Breaker) *breaker {
	if cfg == nil {
		return nil
	}
	return &breaker{cfg: *cfg, batches: map[string]*watch{}}
}

// watch is what the breaker knows of one batch.
type watch struct {
	mu       sync.Mutex
	since    time.Time // the last trip or thaw: nothing before it counts
	links    map[string][]presented
	evidence []store.Event
	touched  time.Time
	readAt   time.Time
	reading  bool
	tripping bool
	sent     int64
	sentAt   time.Time
}

// presented is one distinct mismatching presentation of a link.
type presented struct {
	identity, client uint64
	at               time.Time
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// watchOf returns the watch of a batch, making room for it if needed.
func (b *breaker) watchOf(batch string, now time.Time) *watch {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.batches[batch]
	if !ok {
		if len(b.batches) >= maxWatchedSets {
			var oldest string
			for k, o := range b.batches {
				if oldest == "" || o.touched.Before(b.batches[oldest].touched) {
					oldest = k
				}
			}
			delete(b.batches, oldest)
		}
		w = &watch{links: map[string][]presented{}}
		b.batches[batch] = w
	}
	w.touched = now
	return w
}

// add records a mismatch on a consumable link. The caller holds w.mu.
func (w *watch) add(e store.Event) {
	if e.At.Before(w.since) || e.TokenID == "" {
		return
	}
	p := presented{identity: hash64(e.Presentation.Identity), client: hash64(e.Presentation.IP, e.Presentation.UserAgent), at: e.At}
	seen, ok := w.links[e.TokenID]
	if !ok && len(w.links) >= maxWatchLinks {
		return
	}
	for _, s := range seen {
		if s.identity == p.identity && s.client == p.client {
			return
		}
	}
	if len(seen) < maxPresenters {
		w.links[e.TokenID] = append(seen, p)
		if len(w.evidence) < maxEvidence {
			w.evidence = append(w.evidence, e)
		}
	}
}

// tally counts what is left within the window starting at start, and
// forgets the rest. The caller holds w.mu.
func (w *watch) tally(start time.Time) Trip {
	var t Trip
	clients := map[uint64]bool{}
	for id, seen := range w.links {
		keep := seen[:0]
		for _, p := range seen {
			if !p.at.Before(start) {
				keep = append(keep, p)
				clients[p.client] = true
			}
		}
		if len(keep) == 0 {
			delete(w.links, id)
			continue
		}
		w.links[id] = keep
		t.Links++
		t.Mismatches += len(keep)
		if shared(keep) {
			t.Shared++
		}
	}
	t.People = len(clients)
	ev := w.evidence[:0]
	for _, e := range w.evidence {
		if !e.At.Before(start) {
			ev = append(ev, e)
		}
	}
	w.evidence = ev
	t.Evidence = append([]store.Event(nil), ev...)
	return t
}

// shared reports whether two presentations differ in identity and client.
func shared(ps []presented) bool {
	for i := range ps {
		for j := i + 1; j < len(ps); j++ {
			if ps[i].identity != ps[j].identity && ps[i].client != ps[j].client {
				return true
			}
		}
	}
	return false
}

// observe runs after a mismatch on a consumable link of a batch: it counts
// it, reads the ledger and the batch's size when they are due, and trips.
func (v *Verifier) observe(ctx context.Context, now time.Time, c token.Claims, ev store.Event) {
	b := v.breaker
	if b == nil || c.Batch == "" {
		return
	}
	w := b.watchOf(c.Batch, now)
	w.mu.Lock()
	w.add(ev)
	read := !w.reading && (w.readAt.IsZero() || now.Sub(w.readAt) >= breakerRead)
	if read {
		w.reading = true
	}
	count := read && (w.sentAt.IsZero() || now.Sub(w.sentAt) >= breakerCount)
	last := w.readAt
	w.mu.Unlock()
	if read {
		v.readLedger(ctx, w, c.Batch, now, last, count)
	}
	w.mu.Lock()
	start := now.Add(-b.cfg.Window)
	if w.since.After(start) {
		start = w.since
	}
	t := w.tally(start)
	wantShared, wantLinks := b.cfg.thresholds(w.sent)
	t.Sent = w.sent
	switch {
	case t.Shared >= wantShared:
		t.Rule = fmt.Sprintf("%d links each presented with mismatching identities by several people (threshold %d)", t.Shared, wantShared)
	case t.Links >= wantLinks:
		t.Rule = fmt.Sprintf("%d links with identity mismatches (threshold %d)", t.Links, wantLinks)
	}
	trip := t.Rule != "" && !w.tripping
	if trip {
		w.tripping = true
	}
	w.mu.Unlock()
	if trip {
		t.Batch, t.At, t.Window = c.Batch, now, b.cfg.Window
		ok := v.trip(ctx, t)
		w.mu.Lock()
		if ok {
			w.since, w.links, w.evidence = now, map[string][]presented{}, nil
		}
		w.tripping = false
		w.mu.Unlock()
	}
}

// readLedger merges the mismatches, thaws and trips the ledger holds for
// the batch since the window began (and a little before the last read, for
// instances whose clocks lag), and counts the batch's links when due.
func (v *Verifier) readLedger(ctx context.Context, w *watch, batch string, now, last time.Time, count bool) {
	since := now.Add(-v.breaker.cfg.Window)
	if !last.IsZero() && last.Add(-breakerSkew).After(since) {
		since = last.Add(-breakerSkew)
	}
	q := store.EventQuery{Batch: batch, Kinds: []store.EventKind{store.EventRefused, store.EventThawed, store.EventBreaker},
		Since: since, Limit: breakerPage}
	var evs []store.Event
	for page := 0; page < breakerPages; page++ {
		got, next, err := v.st.Events(ctx, q)
		if err != nil {
			v.cfg.logger.ErrorContext(ctx, "oncelink: breaker could not read the ledger; counting this instance's mismatches only", "batch", batch, "error", err)
			break
		}
		evs = append(evs, got...)
		if next == "" {
			break
		}
		q.After = next
	}
	var sent int64 = -1
	if count {
		n, err := v.st.Count(ctx, store.Filter{Batches: []string{batch}})
		if err != nil {
			v.cfg.logger.ErrorContext(ctx, "oncelink: breaker could not count the batch; using its minimum thresholds", "batch", batch, "error", err)
		} else {
			sent = n
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range evs {
		switch {
		case e.Kind == store.EventThawed || e.Kind == store.EventBreaker:
			if e.At.After(w.since) {
				w.since = e.At
			}
		case store.Reason(e.Reason) == store.ReasonMismatch && e.Detail == "":
			w.add(e)
		}
	}
	w.readAt, w.reading = now, false
	if count {
		w.sentAt = now
		if sent >= 0 {
			w.sent = sent
		}
	}
}

// trip freezes the batch, records the trip and tells the site. It reports
// whether the batch is frozen.
func (v *Verifier) trip(ctx context.Context, t Trip) bool {
	holds, err := v.st.Holds(ctx)
	if err == nil {
		for _, h := range holds {
			if h.Scope == store.ScopeBatch && h.Key == t.Batch {
				return true // already frozen: by this breaker on another instance, or by an operator
			}
		}
	}
	reason := store.CleanText(fmt.Sprintf("breaker: %s within %v", t.Rule, t.Window), store.MaxReasonLen)
	if err := v.st.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: t.Batch, Since: t.At, Reason: reason}); err != nil {
		v.cfg.logger.ErrorContext(ctx, "oncelink: breaker could not freeze the batch", "batch", t.Batch, "error", err)
		return false
	}
	v.cfg.logger.WarnContext(ctx, "oncelink: breaker froze a batch", "batch", t.Batch, "links", t.Links, "shared", t.Shared, "window", t.Window)
	if err := v.st.Append(ctx, store.Event{At: t.At, Kind: store.EventBreaker, Batch: t.Batch, Count: int64(t.Links), Actor: "breaker", Detail: reason}); err != nil {
		v.cfg.logger.ErrorContext(ctx, "oncelink: breaker trip not recorded", "batch", t.Batch, "error", err)
	}
	if f := v.breaker.cfg.OnTrip; f != nil {
		func() {
			defer func() {
				if r := recover(); r != nil {
					v.cfg.logger.ErrorContext(ctx, "oncelink: breaker callback panicked", "batch", t.Batch, "panic", fmt.Sprint(r))
				}
			}()
			f(ctx, t)
		}()
	}
	return true
}
