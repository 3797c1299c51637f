package otelstore

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/oncelink/oncelink/store"
)

// ScopeName is the instrumentation scope of the instruments: this
// package's import path.
const ScopeName = "github.com/oncelink/oncelink/otelstore"

// Names of the instruments. A Prometheus exporter writes them with
// underscores and its suffixes: oncelink.links.minted is
// oncelink_links_minted_total, oncelink.store.operation.duration is
// oncelink_store_operation_duration_seconds.
const (
	MetricMinted   = "oncelink.links.minted"
	MetricConsumed = "oncelink.links.consumed"
	MetricRefusals = "oncelink.refusals"
	MetricRevoked  = "oncelink.links.revoked"
	MetricMarks    = "oncelink.watermarks"
	MetricBlocked  = "oncelink.mail.blocked"
	MetricTrips    = "oncelink.breaker.trips"
	MetricPlaced   = "oncelink.holds.placed"
	MetricLifted   = "oncelink.holds.lifted"
	MetricErrors   = "oncelink.store.errors"
	MetricDuration = "oncelink.store.operation.duration"
)

// Attribute keys. Every value is one of a fixed set of words: never a
// member, a batch, a token, an address or any other text a caller or a
// client chose.
const (
	// KeyKind: "single" (a link minted on its own) or "batch".
	KeyKind = attribute.Key("oncelink.link.kind")
	// KeyReason: a refusal's [store.Reason], or the send guard's reason
	// for a blocked message; "other" for anything else.
	KeyReason = attribute.Key("oncelink.reason")
	// KeyCause: why links were revoked: "filter" (an operator's
	// revocation) or "failures" (the failure cap).
	KeyCause = attribute.Key("oncelink.revocation.cause")
	// KeyScope: a hold's or a watermark's scope: "global", "batch" or
	// "member".
	KeyScope = attribute.Key("oncelink.scope")
	// KeyMarkKind: "sequence" (everything recorded so far) or "time"
	// (everything issued before a time).
	KeyMarkKind = attribute.Key("oncelink.watermark.kind")
	// KeyBy: who placed a hold: "operator", "breaker" or "guard".
	KeyBy = attribute.Key("oncelink.hold.by")
	// KeyOperation: the store method, in snake case ("consume",
	// "watermark_now", ...).
	KeyOperation = attribute.Key("oncelink.store.operation")
	// KeyErrorType: OpenTelemetry's error.type: "unavailable", "invalid",
	// "duplicate", "unsupported", "no_store" or "other".
	KeyErrorType = attribute.Key("error.type")
)

// op is a store operation.
type op uint8

const (
	opInsert op = iota
	opGet
	opPeek
	opConsume
	opFail
	opRevoke
	opWatermark
	opWatermarkNow
	opMarks
	opRecords
	opCount
	opPurge
	opFreeze
	opThaw
	opHolds
	opAppend
	opEvents
	opPing
	opTally
	opBatches
	opHit
	numOps
)

var opNames = [numOps]string{"insert", "get", "peek", "consume", "fail", "revoke", "watermark", "watermark_now",
	"marks", "records", "count", "purge", "freeze", "thaw", "holds", "append", "events", "ping", "tally", "batches", "hit"}

// errorTypes are the values of [KeyErrorType], in the order they are
// tested; "other" is last.
var errorTypes = [...]struct {
	err  error
	name string
}{
	{store.ErrUnavailable, "unavailable"},
	{store.ErrInvalid, "invalid"},
	{store.ErrDuplicate, "duplicate"},
	{store.ErrUnsupported, "unsupported"},
	{store.ErrNoStore, "no_store"},
	{nil, "other"},
}

func errorType(err error) int {
	for i, t := range errorTypes[:len(errorTypes)-1] {
		if errors.Is(err, t.err) {
			return i
		}
	}
	return len(errorTypes) - 1
}

// reasons are the refusal reasons counted by name: every [store.Reason].
var reasons = [...]store.Reason{
	store.ReasonMalformed, store.ReasonSignature, store.ReasonForged, store.ReasonSecret, store.ReasonClaims,
	store.ReasonPurpose, store.ReasonExpired, store.ReasonIdentityRequired, store.ReasonMismatch,
	store.ReasonThrottled, store.ReasonUsed, store.ReasonRevoked, store.ReasonFrozen, store.ReasonStale,
	store.ReasonNotFound, store.ReasonUnavailable, store.ReasonConfig, store.ReasonUnitemised,
}

// guardReasons are the send guard's reasons for a blocked message
// ([guard.BlockedError] Reason), counted by name.
var guardReasons = [...]string{
	"bad recipient", "other recipient", "unreadable header", "unreadable part", "too large", "too many parts",
	"too deep", "too many links", "too many decodings", "foreign link", "other member", "unbound link",
	"other batch", "duplicate link", "no link", "broken link", "expired link",
}

const other = "other"

// instruments are the instruments and their attribute sets, made once so
// that recording allocates nothing.
type instruments struct {
	minted, consumed, refusals, revoked, marks, blocked, trips, placed, lifted, errors metric.Int64Counter
	duration                                                                           metric.Float64Histogram

	mintSingle, mintBatch metric.AddOption
	byReason              map[string]metric.AddOption
	reasonOther           metric.AddOption
	blockedBy             map[string]metric.AddOption
	blockedOther          metric.AddOption
	revokedFilter, capped metric.AddOption
	markOf                [2][2]metric.AddOption // [member][sequence]
	placedBy              [3][4]metric.AddOption // [operator, breaker, guard][scope]
	liftedOf              [4]metric.AddOption    // [scope]
	errorOf               [numOps][len(errorTypes)]metric.AddOption
	durationOf            [numOps]metric.RecordOption
	insertBatch           metric.RecordOption
}

// Who placed a hold.
const (
	byOperator = iota
	byBreaker
	byGuard
)

var byNames = [...]string{"operator", "breaker", "guard"}

// durationBuckets are the histogram's bucket bounds, in seconds: from
// 50 µs (a memory store) to 10 s (a batch insert, a deadline).
var durationBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10}

func newInstruments(mp metric.MeterProvider) (*instruments, error) {
	m := mp.Meter(ScopeName)
	in := &instruments{}
	counters := []struct {
		c          *metric.Int64Counter
		name, unit string
		desc       string
	}{
		{&in.minted, MetricMinted, "{link}", "Links recorded by the store, by kind (single or batch)."},
		{&in.consumed, MetricConsumed, "{link}", "Links consumed: logins accepted."},
		{&in.refusals, MetricRefusals, "{refusal}", "Presentations of links refused, by reason, as the verifier records them in the ledger."},
		{&in.revoked, MetricRevoked, "{link}", "Links revoked one by one, by cause (an operator's filter, or the failure cap)."},
		{&in.marks, MetricMarks, "{watermark}", "Revocation watermarks set, by scope and kind."},
		{&in.blocked, MetricBlocked, "{message}", "Outgoing messages the send guard blocked, by reason."},
		{&in.trips, MetricTrips, "{trip}", "Batches the circuit breaker froze."},
		{&in.placed, MetricPlaced, "{hold}", "Holds placed, by scope and by whom (operator, breaker, send guard)."},
		{&in.lifted, MetricLifted, "{hold}", "Holds lifted (thaws), by scope."},
		{&in.errors, MetricErrors, "{error}", "Store calls that failed other than with a documented outcome, by operation and error type."},
	}
	for _, c := range counters {
		var err error
		if *c.c, err = m.Int64Counter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.desc)); err != nil {
			return nil, fmt.Errorf("%w: instrument %s: %w", ErrConfig, c.name, err)
		}
	}
	var err error
	in.duration, err = m.Float64Histogram(MetricDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of store calls, by operation (insert also by kind)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		return nil, fmt.Errorf("%w: instrument %s: %w", ErrConfig, MetricDuration, err)
	}
	in.sets()
	return in, nil
}

func add(kvs ...attribute.KeyValue) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(kvs...))
}

// sets makes every attribute set the instruments record with.
func (in *instruments) sets() {
	in.mintSingle, in.mintBatch = add(KeyKind.String("single")), add(KeyKind.String("batch"))
	in.byReason = map[string]metric.AddOption{}
	for _, r := range reasons {
		in.byReason[string(r)] = add(KeyReason.String(string(r)))
	}
	in.reasonOther = add(KeyReason.String(other))
	in.blockedBy = map[string]metric.AddOption{}
	for _, r := range guardReasons {
		in.blockedBy[r] = add(KeyReason.String(r))
	}
	in.blockedOther = add(KeyReason.String(other))
	in.revokedFilter, in.capped = add(KeyCause.String("filter")), add(KeyCause.String("failures"))
	for i, scope := range []string{"global", "member"} {
		for j, kind := range []string{"time", "sequence"} {
			in.markOf[i][j] = add(KeyScope.String(scope), KeyMarkKind.String(kind))
		}
	}
	for s := range 4 {
		scope := store.Scope(s).String()
		if s == 0 {
			scope = other
		}
		for b, by := range byNames {
			in.placedBy[b][s] = add(KeyScope.String(scope), KeyBy.String(by))
		}
		in.liftedOf[s] = add(KeyScope.String(scope))
	}
	for o := range numOps {
		kv := KeyOperation.String(opNames[o])
		in.durationOf[o] = metric.WithAttributeSet(attribute.NewSet(kv, KeyKind.String("single")))
		if o != opInsert {
			in.durationOf[o] = metric.WithAttributeSet(attribute.NewSet(kv))
		}
		for e, t := range errorTypes {
			in.errorOf[o][e] = add(kv, KeyErrorType.String(t.name))
		}
	}
	in.insertBatch = metric.WithAttributeSet(attribute.NewSet(KeyOperation.String("insert"), KeyKind.String("batch")))
}

// scopeIndex maps a scope to its index in the sets: 0 for an unknown one.
func scopeIndex(s store.Scope) int {
	if s >= store.ScopeGlobal && s <= store.ScopeMember {
		return int(s)
	}
	return 0
}
