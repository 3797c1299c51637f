// Package admin is what an operator uses on the worst day: revoke links in
// bulk with one call, freeze and thaw, end the sessions bad links opened,
// and say who was affected.
//
// The recommended path: build an [Admin] on the site's store with the site's
// session revoker, and mount [NewHandler] behind the site's own admin
// authentication; the oncelink command (cmd/oncelink) does the same from a
// shell against a store URL.
//
//	a, _ := admin.New(st, admin.WithSessionRevoker(admin.SessionRevokerFunc(sessions.EndAll)))
//	h, _ := admin.NewHandler(a, func(r *http.Request) (string, bool) { return staff(r) })
//	mux.Handle("/oncelink/", http.StripPrefix("/oncelink", h))
//
// # The first minute
//
// [Admin.Batches] names the sends a site made. [Admin.Freeze] a batch (or
// everything) to stop logins from it at once, reversibly, on every instance:
// the next verification is refused.
//
//	hold := store.Hold{Scope: store.ScopeBatch, Key: batch, Reason: "links sent to the wrong members"}
//	res, err := a.Freeze(ctx, hold, "ops@example.org")
//	// res.Outstanding links are refused from the next request on
//
// Then [Admin.Revoke] what must never work again: revoking everything, or
// every link of some members, is a watermark on the store's sequence,
// constant work whatever the number of links, that covers every link the
// store had recorded, whatever the minting machines' clocks; other filters
// revoke record by record in one store operation.
// Revoking consumed links hands their sessions to the [SessionRevoker].
//
// Every action says what it covered (the outstanding links it stops or lets
// through), refuses a scope that matches no link ([ErrNoMatch]) unless
// [Force], and a revocation as wide as everything ([Preview]: everything,
// more than half of the outstanding links, or all of a purpose) must be
// confirmed with its count ([Confirm]). An issued-before bound later than
// now plus [WatermarkTolerance] is refused. [Force] is an [ActOption],
// which every action takes; [Confirm] is a [RevokeOption], which a freeze
// or a thaw does not compile with.
//
// # The first hour and the day after
//
// [Admin.Report] lists, for a batch or a window, every member who received a
// link, every consumption (presented identity, address, user agent,
// session) and every refusal, and tells apart mismatches (another member's
// link presented), replays (a used link presented again) and logins. It
// names the affected members, with the addresses the store holds: a
// mismatch, a replay, or a login no identity confirmed. Each link's status
// is what Consume would answer for it ([store.Decide]). JSON and CSV
// ([Report.WriteCSV]) come from the same report.
//
// # JSON
//
// The HTTP API, the report and the oncelink command's --json speak one
// vocabulary: snake_case keys, scopes, kinds and statuses as words, RFC 3339
// times, empty lists as []. [OpenAPI] is the HTTP API's OpenAPI 3.1
// document, which the handler serves at GET /openapi.json.
//
// # The console and the timeline
//
// [NewConsole] serves the same actions as HTML pages for an operator's
// browser, behind the same [Authorizer], with no script: every batch with
// its counts, the holds in force and why, the timeline, recent actions,
// freeze, thaw and revoke through a confirmation page that states what they
// cover, and the report. Give it [WithOpenSessions] so that it can say how
// many sessions a revocation ends; without it, it says it does not know.
//
//	con, _ := admin.NewConsole(a, staff, admin.AllowHosts("ops.example.org"), admin.WithOpenSessions(sessions.CountOpen))
//	mux.Handle("/ops/", http.StripPrefix("/ops", con))
//
// [Admin.Timeline] counts the ledger per step (issued, clicks, logins,
// mismatches, other refusals, blocked messages, freezes, thaws,
// revocations) for a batch or everything; [Timeline.WriteSVG] draws it.
// Both are bounded: [MaxTimelineBuckets] steps, [MaxTimelineEvents]
// ledger entries read.
//
// # Security considerations
//
// [NewHandler] has no open default: it needs an [Authorizer], and refuses
// every request it does not approve (a panicking authorizer refuses too).
// POST bodies must be JSON, bounded and free of unknown fields; cross-origin
// browser requests are refused (net/http's CrossOriginProtection). It and
// [NewConsole] answer only the Host names of [AllowHosts], the loopback
// names when none are given, so that a DNS-rebinding page (whose Origin
// and Host agree) is refused too. Every
// action is recorded in the ledger with the actor the authorizer named.
// Reports hold personal data (addresses, IPs, user agents, sessions):
// restrict who may read them. Every CSV cell that a spreadsheet would run as
// a formula is prefixed with a quote.
//
// # Backwards compatibility
//
// The HTTP API's paths and JSON fields are stable within a major version;
// new fields may be added to responses, and to the OpenAPI document with
// them.
package admin
