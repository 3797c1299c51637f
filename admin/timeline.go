package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Bounds of a timeline's work.
const (
	// MaxTimelineBuckets is the most buckets a timeline holds. A query
	// whose window would need more at its Step is refused with
	// [ErrRequest]; without a Step, a coarser one is chosen.
	MaxTimelineBuckets = 1440
	// MaxTimelineEvents is the most ledger entries one timeline reads; past
	// it the timeline is refused with [ErrRequest] (narrow the window).
	MaxTimelineEvents = 2_000_000
	// minTimelineStep is the finest step a query may ask for.
	minTimelineStep = time.Second
)

// TimelineQuery selects what a timeline covers: one batch (or every link
// when empty), from Since (inclusive) to Until (exclusive), in buckets of
// Step.
//
// A zero Step is one minute, or the next coarser round step (2, 5, 10, 15,
// 30 minutes, 1, 2, 3, 6, 12 hours, 1, 2, 4... days) when the window would
// otherwise need more than [MaxTimelineBuckets]. A zero Since starts at the
// first entry in scope, a zero Until ends after the last one; buckets then
// fall on multiples of Step.
type TimelineQuery struct {
	Batch string
	Since time.Time
	Until time.Time
	Step  time.Duration
}

// TimelineBucket counts the ledger entries of one step, from At
// (inclusive) to At plus the timeline's Step (exclusive).
//
// Every presentation of a link is a click, and exactly one of a login, a
// mismatch or another refusal: Clicks = Logins + Mismatches + Refusals.
type TimelineBucket struct {
	At time.Time `json:"at"`
	// Issued is links issued (sent).
	Issued int `json:"issued"`
	// Clicks is presentations of links, accepted or refused.
	Clicks int `json:"clicks"`
	// Logins is links consumed.
	Logins int `json:"logins"`
	// Mismatches is presentations refused because the identity did not
	// match the link's member.
	Mismatches int `json:"mismatches"`
	// Refusals is presentations refused for any other reason: used
	// (replayed), revoked, frozen, expired, forged, malformed...
	Refusals int `json:"refusals"`
	// Blocked is outgoing messages the send guard refused.
	Blocked int `json:"blocked"`
	// Freezes is holds placed, by an operator or the breaker.
	Freezes int `json:"freezes"`
	// Thaws is holds lifted.
	Thaws int `json:"thaws"`
	// Revocations is revocations and watermarks.
	Revocations int `json:"revocations"`
}

// Timeline is the ledger of a batch (or of everything) over time, in
// buckets of Step from Start.
type Timeline struct {
	Batch   string           `json:"batch,omitempty"`
	Start   time.Time        `json:"start"`
	Step    time.Duration    `json:"step"`
	Buckets []TimelineBucket `json:"buckets"`
}

// End returns the end of the last bucket (exclusive).
func (t *Timeline) End() time.Time {
	return t.Start.Add(time.Duration(len(t.Buckets)) * t.Step)
}

// Total returns the sum of the buckets.
func (t *Timeline) Total() TimelineBucket {
	var s TimelineBucket
	for _, b := range t.Buckets {
		s.add(&b)
	}
	s.At = t.Start
	return s
}

func (b *TimelineBucket) add(o *TimelineBucket) {
	b.Issued += o.Issued
	b.Clicks += o.Clicks
	b.Logins += o.Logins
	b.Mismatches += o.Mismatches
	b.Refusals += o.Refusals
	b.Blocked += o.Blocked
	b.Freezes += o.Freezes
	b.Thaws += o.Thaws
	b.Revocations += o.Revocations
}

// count adds one ledger entry to the bucket; it reports whether the entry
// is one a timeline counts.
func (b *TimelineBucket) count(e *store.Event) bool {
	switch e.Kind {
	case store.EventIssued:
		b.Issued++
	case store.EventConsumed:
		b.Clicks++
		b.Logins++
	case store.EventRefused:
		b.Clicks++
		if store.Reason(e.Reason) == store.ReasonMismatch {
			b.Mismatches++
		} else {
			b.Refusals++
		}
	case store.EventBlocked:
		b.Blocked++
	case store.EventFrozen, store.EventBreaker:
		b.Freezes++
	case store.EventThawed:
		b.Thaws++
	case store.EventRevoked, store.EventWatermark:
		b.Revocations++
	default:
		return false
	}
	return true
}

// timelineEventCap is [MaxTimelineEvents]; tests lower it.
var timelineEventCap = MaxTimelineEvents

// globalActions are the kinds of operators' actions on every link, which a
// batch's timeline shows too: they cover the batch.
var globalActions = []store.EventKind{store.EventFrozen, store.EventThawed, store.EventRevoked, store.EventWatermark, store.EventBreaker}

// Timeline counts the ledger's entries in q's scope over time: links
// issued, clicks (logins, mismatches, other refusals), messages the send
// guard blocked, freezes, thaws and revocations. A batch's timeline also
// counts the actions on every link (a global freeze, revoking everything).
// It reads at most [MaxTimelineEvents] entries and returns at most
// [MaxTimelineBuckets] buckets.
func (a *Admin) Timeline(ctx context.Context, q TimelineQuery) (*Timeline, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	fine := q.Step
	if fine == 0 {
		fine = time.Minute
	}
	tl := tally{anchor: q.Since, fine: fine, counts: map[int64]*TimelineBucket{}}
	read := 0
	visit := tl.visit
	eq := store.EventQuery{Batch: q.Batch, Since: q.Since, Until: q.Until, Limit: store.MaxPage}
	if err := a.eachEvent(ctx, eq, &read, visit); err != nil {
		return nil, err
	}
	if q.Batch != "" {
		eq = store.EventQuery{Kinds: globalActions, Since: q.Since, Until: q.Until, Limit: store.MaxPage}
		err := a.eachEvent(ctx, eq, &read, func(e *store.Event) {
			if e.Batch == "" && e.Member == "" {
				visit(e)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return q.build(&tl)
}

func (q *TimelineQuery) validate() error {
	switch {
	case !store.ValidText(q.Batch, store.MaxBatchLen):
		return fmt.Errorf("%w: batch too long or not text", ErrRequest)
	case q.Step < 0 || (q.Step > 0 && q.Step < minTimelineStep):
		return fmt.Errorf("%w: a timeline's step must be at least %s", ErrRequest, minTimelineStep)
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since):
		return fmt.Errorf("%w: the window ends before it starts", ErrRequest)
	}
	if q.Step > 0 && !q.Since.IsZero() && !q.Until.IsZero() {
		if n := buckets(q.Since, q.Until, q.Step); n > MaxTimelineBuckets {
			return fmt.Errorf("%w: %d steps of %s in the window, more than %d; widen the step or narrow the window",
				ErrRequest, n, q.Step, MaxTimelineBuckets)
		}
	}
	return nil
}

// eachEvent pages through the entries eq selects, counting them in read,
// and refuses past [MaxTimelineEvents].
func (a *Admin) eachEvent(ctx context.Context, eq store.EventQuery, read *int, visit func(*store.Event)) error {
	for {
		page, next, err := a.st.Events(ctx, eq)
		if err != nil {
			return err
		}
		*read += len(page)
		if *read > timelineEventCap {
			return fmt.Errorf("%w: more than %d ledger entries in scope; narrow the window", ErrRequest, MaxTimelineEvents)
		}
		for i := range page {
			visit(&page[i])
		}
		if next == "" {
			return nil
		}
		eq.After = next
	}
}

// tally is the entries read, counted in buckets of the finest step, keyed
// by their number from the anchor: the query's Since, or the first entry
// read on a multiple of fine. There are never more keys than entries read.
type tally struct {
	anchor      time.Time
	fine        time.Duration
	counts      map[int64]*TimelineBucket
	first, last time.Time
}

// visit counts one entry, if it is one a timeline counts.
func (tl *tally) visit(e *store.Event) {
	var one TimelineBucket
	if !one.count(e) {
		return
	}
	if tl.anchor.IsZero() {
		tl.anchor = e.At.Truncate(tl.fine)
	}
	if tl.first.IsZero() || e.At.Before(tl.first) {
		tl.first = e.At
	}
	if e.At.After(tl.last) {
		tl.last = e.At
	}
	k := floorDiv(int64(e.At.Sub(tl.anchor)), int64(tl.fine))
	if b, ok := tl.counts[k]; ok {
		b.add(&one)
	} else {
		tl.counts[k] = &one
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// buckets returns how many steps cover [from, to).
func buckets(from, to time.Time, step time.Duration) int64 {
	d := to.Sub(from)
	return int64((d + step - 1) / step)
}

// roundSteps are the steps a timeline without one chooses from, finest
// first; past the last, days double.
var roundSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// chooseStep returns the finest round step that covers [from, to) in at
// most MaxTimelineBuckets buckets, aligned on its multiples.
func chooseStep(from, to time.Time, aligned bool) time.Duration {
	fits := func(s time.Duration) bool {
		f := from
		if aligned {
			f = from.Truncate(s)
		}
		return buckets(f, to, s) <= MaxTimelineBuckets
	}
	for _, s := range roundSteps {
		if fits(s) {
			return s
		}
	}
	s := 24 * time.Hour
	for !fits(s) {
		s *= 2
	}
	return s
}

// build lays the tally out as buckets over the window: the query's, or
// the span of the entries read.
func (q *TimelineQuery) build(tl *tally) (*Timeline, error) {
	t := &Timeline{Batch: q.Batch, Step: tl.fine, Buckets: []TimelineBucket{}}
	from, to := q.Since, q.Until
	if tl.first.IsZero() && (from.IsZero() || to.IsZero()) {
		// Nothing in scope, and no window to lay empty buckets over.
		t.Start = from.UTC()
		return t, nil
	}
	aligned := from.IsZero()
	if aligned {
		from = tl.first.Truncate(tl.fine)
	}
	if to.IsZero() {
		to = tl.last.Add(1) // exclusive end, just past the last entry
	}
	step := tl.fine
	if q.Step == 0 {
		step = chooseStep(from, to, aligned)
	} else if n := buckets(from, to, step); n > MaxTimelineBuckets {
		return nil, fmt.Errorf("%w: %d steps of %s from the first entry to the last, more than %d; widen the step or narrow the window",
			ErrRequest, n, step, MaxTimelineBuckets)
	}
	if aligned {
		// Steps are multiples of the fine step, and both are aligned on
		// their multiples since the zero time: every fine bucket falls
		// whole in one coarse bucket.
		from = from.Truncate(step)
	}
	t.Start, t.Step = from.UTC(), step
	t.Buckets = make([]TimelineBucket, buckets(from, to, step))
	for i := range t.Buckets {
		t.Buckets[i].At = t.Start.Add(time.Duration(i) * step)
	}
	for k, b := range tl.counts {
		at := tl.anchor.Add(time.Duration(k) * tl.fine)
		i := floorDiv(int64(at.Sub(from)), int64(step))
		if i >= 0 && i < int64(len(t.Buckets)) {
			t.Buckets[i].add(b)
		}
	}
	return t, nil
}
