// Package otelstore counts and times what an oncelink store sees, as
// OpenTelemetry metrics: links minted, logins accepted, refusals by
// reason, blocked messages, breaker trips, holds and thaws, revocations
// and store errors, and the duration of every store call. During a send
// an operator sees clicks, mismatches, refusals and freezes over time on
// a dashboard, and alerts on them.
//
// Wrap the store once, and give the wrapped store to the issuer, the
// verifier, the send guard, the flows and the admin, so that every one of
// them is observed:
//
//	st, err = otelstore.New(st, otelstore.WithMeterProvider(provider))
//	...
//	iss, err := token.NewIssuer(keys, st)
//	v, err := verify.New(parser, st)
//
// The package depends on the OpenTelemetry metrics API only, not its SDK:
// the application picks the SDK and the exporter (the member site example
// serves them to Prometheus at /metrics). Without [WithMeterProvider], New
// takes the global provider ([go.opentelemetry.io/otel.GetMeterProvider]),
// as OpenTelemetry's own instrumentation does; it records nothing until
// the application sets one.
//
// # What is counted, and where it is seen
//
// Every figure is read from a store call and its answer, on the way back:
//
//   - oncelink.links.minted: the records an Insert recorded, by
//     oncelink.link.kind ("single": a link of no batch, from Mint; "batch":
//     MintBatch and MintStream).
//   - oncelink.links.consumed: Consume calls that succeeded (logins
//     accepted).
//   - oncelink.refusals: the refused entries the verifier appends to the
//     ledger, by oncelink.reason, a [store.Reason] ("other" for a reason
//     package store does not declare). The verifier records every refusal
//     of an authentic link; refusals of input it cannot authenticate
//     (malformed, bad signature) are recorded, and so counted, up to its
//     ledger rate, 20 a second by default
//     ([github.com/oncelink/oncelink/verify.WithLedgerRate]).
//   - oncelink.mail.blocked: the send guard's blocked entries, by its
//     reason ("foreign link", "other recipient", ...; "other" for any
//     other text).
//   - oncelink.breaker.trips: the breaker's entries.
//   - oncelink.holds.placed: holds placed, by oncelink.scope and
//     oncelink.hold.by: "operator" (the admin's frozen entries, written
//     only when a hold was new), "breaker" and "guard" (a blocked entry
//     of a guard that sends a batch, which it freezes first).
//   - oncelink.holds.lifted: Thaw calls that lifted a hold, by scope.
//   - oncelink.links.revoked: links revoked one by one, by
//     oncelink.revocation.cause: "filter" (the count Revoke returns) or
//     "failures" (a Consume, Peek or Fail that revoked its record at the
//     failure cap).
//   - oncelink.watermarks: watermarks set, by scope ("global", "member")
//     and oncelink.watermark.kind ("sequence", "time"); a watermark covers
//     links without counting them.
//   - oncelink.store.errors: calls that failed other than with a
//     documented outcome ([store.IsOutcome]: a used, expired or unknown
//     link is an answer, not an error), by oncelink.store.operation and
//     error.type ("unavailable", "invalid", "duplicate", "unsupported",
//     "no_store", "other").
//   - oncelink.store.operation.duration: seconds per call, by operation
//     (insert also by kind), in buckets from 50 µs to 10 s.
//
// Ledger entries are counted when they are appended, whether or not the
// ledger kept them: the refusal or the hold happened either way, and a
// failed Append is counted as a store error. A site that freezes, or
// records refusals, through the store directly is counted by the same
// rules.
//
// The store New returns has exactly the optional capabilities of the
// store it wraps ([store.Pinger], [store.Tallier], [store.BatchLister],
// [store.Counters]), each timed too.
//
// # Security considerations
//
// Attribute values are a fixed set of words: never a member, a batch, a
// token id, an address, a typed identity or any other text a client or a
// caller chose, so that neither the number of series nor what a metric
// tells can grow with the members. No metric carries a secret.
//
// Recording never changes an outcome: it runs after the store's call has
// returned, reads its arguments and answer and changes neither, and a
// panic of the meter provider is recovered and handed to OpenTelemetry's
// error handler ([go.opentelemetry.io/otel.Handle]). A panic of the store
// itself is not recovered here, so that it can never turn into a nil
// error: it reaches the caller as it would without the decorator (the
// verifier refuses).
//
// The counts are aggregate, but they are not public. On a quiet site the
// refusal counts by reason would tell someone guessing the identity a
// used link was sent to whether the guess was counted as a mismatch or
// answered as used, which the verifier takes care not to tell. Serve the
// metrics where only the operators' scraper reaches them, bound to an
// internal address or behind its authentication, as with any metrics
// endpoint; the member site example serves them on a listener of their
// own, on loopback by default.
package otelstore
