package otelstore

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/oncelink/oncelink/store"
)

// Recording never changes what the store answered: each method below runs
// after the store's call has returned, only reads its arguments and
// results, and recovers from a panic of the meter provider, which it
// reports to OpenTelemetry's error handler ([otel.Handle]). A panic of the
// store itself is not recovered here: it reaches the caller as it would
// without instrumentation (the verifier turns it into a refusal).

func recovered() {
	if r := recover(); r != nil {
		report(r)
	}
}

// report hands a recording panic to OpenTelemetry's error handler, and
// survives a handler that panics too.
func report(r any) {
	defer func() { _ = recover() }()
	otel.Handle(fmt.Errorf("otelstore: recording panicked: %v", r))
}

// done records a call's duration and, when it failed other than with a
// documented outcome, its error.
func (s *instrumented) done(ctx context.Context, o op, start time.Time, err error) {
	defer recovered()
	s.observe(ctx, o, start, err)
}

func (s *instrumented) observe(ctx context.Context, o op, start time.Time, err error) {
	s.in.duration.Record(ctx, time.Since(start).Seconds(), s.in.durationOf[o])
	s.failure(ctx, o, err)
}

func (s *instrumented) failure(ctx context.Context, o op, err error) {
	if err != nil && !store.IsOutcome(err) {
		s.in.errors.Add(ctx, 1, s.in.errorOf[o][errorType(err)])
	}
}

// inserted counts the links an Insert recorded, by kind: a link of no
// batch is minted on its own, one of a batch by MintBatch or MintStream.
func (s *instrumented) inserted(ctx context.Context, start time.Time, recs []store.Record, err error) {
	var single int64
	for i := range recs {
		if recs[i].Batch == "" {
			single++
		}
	}
	s.minted(ctx, start, single, int64(len(recs))-single, err)
}

// minted records an Insert or an InsertSeq of single links and links of a
// batch.
func (s *instrumented) minted(ctx context.Context, start time.Time, single, batch int64, err error) {
	defer recovered()
	d := s.in.durationOf[opInsert]
	if batch > 0 {
		d = s.in.insertBatch
	}
	s.in.duration.Record(ctx, time.Since(start).Seconds(), d)
	s.failure(ctx, opInsert, err)
	if err != nil {
		return
	}
	if single > 0 {
		s.in.minted.Add(ctx, single, s.in.mintSingle)
	}
	if batch > 0 {
		s.in.minted.Add(ctx, batch, s.in.mintBatch)
	}
}

// presented records a Peek or a Consume: a consumption accepted, and a
// link revoked by the failure cap.
func (s *instrumented) presented(ctx context.Context, o op, start time.Time, req *store.ConsumeRequest, rec *store.Record, err error) {
	defer recovered()
	s.observe(ctx, o, start, err)
	if o == opConsume && err == nil {
		s.in.consumed.Add(ctx, 1)
	}
	if req.Confirmation == store.Mismatched && capped(rec, req.At, req.MaxFailures) {
		s.in.revoked.Add(ctx, 1, s.in.capped)
	}
}

// capped reports whether the call that returned rec revoked it at the
// failure cap: it brought the failures to max and the record was revoked
// at the call's time.
func capped(rec *store.Record, at time.Time, max int) bool {
	return max > 0 && rec.Status == store.StatusRevoked && rec.Failures == max && rec.RevokedAt.Equal(store.Micro(at))
}

func (s *instrumented) failed(ctx context.Context, start time.Time, rec *store.Record, at time.Time, max int, err error) {
	defer recovered()
	s.observe(ctx, opFail, start, err)
	if err == nil && capped(rec, at, max) {
		s.in.revoked.Add(ctx, 1, s.in.capped)
	}
}

func (s *instrumented) revoked(ctx context.Context, start time.Time, n int64, err error) {
	defer recovered()
	s.observe(ctx, opRevoke, start, err)
	if err == nil && n > 0 {
		s.in.revoked.Add(ctx, n, s.in.revokedFilter)
	}
}

func (s *instrumented) marked(ctx context.Context, o op, start time.Time, member bool, err error) {
	defer recovered()
	s.observe(ctx, o, start, err)
	if err != nil {
		return
	}
	i, j := 0, 0
	if member {
		i = 1
	}
	if o == opWatermarkNow {
		j = 1
	}
	s.in.marks.Add(ctx, 1, s.in.markOf[i][j])
}

func (s *instrumented) thawed(ctx context.Context, start time.Time, scope store.Scope, ok bool, err error) {
	defer recovered()
	s.observe(ctx, opThaw, start, err)
	if err == nil && ok {
		s.in.lifted.Add(ctx, 1, s.in.liftedOf[scopeIndex(scope)])
	}
}

// appended counts what the ledger entries report: refusals by reason,
// blocked messages, breaker trips and the holds the admin, the breaker and
// the send guard placed. They are counted whether or not the ledger kept
// them: the refusal, the block or the hold happened either way, and a
// failed Append is counted as a store error.
func (s *instrumented) appended(ctx context.Context, start time.Time, events []store.Event, err error) {
	defer recovered()
	s.observe(ctx, opAppend, start, err)
	for i := range events {
		s.event(ctx, &events[i])
	}
}

func (s *instrumented) event(ctx context.Context, e *store.Event) {
	in := s.in
	switch e.Kind {
	case store.EventRefused:
		o, ok := in.byReason[e.Reason]
		if !ok {
			o = in.reasonOther
		}
		n := int64(1)
		if store.Reason(e.Reason) == store.ReasonUnitemised && e.Count > 1 {
			// One entry for the refusals the verifier could not itemise.
			n = e.Count
		}
		in.refusals.Add(ctx, n, o)
	case store.EventBlocked:
		o, ok := in.blockedBy[e.Reason]
		if !ok {
			o = in.blockedOther
		}
		in.blocked.Add(ctx, 1, o)
		if e.Batch != "" {
			// The guard freezes the batch it sends before it records the block.
			in.placed.Add(ctx, 1, in.placedBy[byGuard][store.ScopeBatch])
		}
	case store.EventBreaker:
		in.trips.Add(ctx, 1)
		in.placed.Add(ctx, 1, in.placedBy[byBreaker][store.ScopeBatch])
	case store.EventFrozen:
		scope := store.ScopeGlobal
		switch {
		case e.Batch != "":
			scope = store.ScopeBatch
		case e.Member != "":
			scope = store.ScopeMember
		}
		in.placed.Add(ctx, 1, in.placedBy[byOperator][scope])
	}
}
