// Package verify checks a presented oncelink link against the requesting
// identity and consumes it exactly once.
//
// The recommended path: build a [Verifier] from the issuer's parser and the
// same store, and put it behind the login flow (package flow), which shows
// a confirmation page on GET and consumes on POST. A site with its own
// pages shows a confirmation page on GET with [Verifier.Peek] (mail
// scanners fetch links; Peek consumes nothing), and on POST calls
// [Verifier.Consume] with the identity the person confirmed and the
// reference of the session the login will open:
//
//	p, _ := iss.Parser()
//	v, _ := verify.New(p, st)
//	res, err := v.Consume(ctx, verify.Request{
//		Link: r.FormValue("t"), Purpose: token.PurposeLogin,
//		Identity: verify.Identity{Email: r.FormValue("email")},
//		IP: ip, UserAgent: r.UserAgent(), Session: newSessionID,
//	})
//	if err != nil {
//		http.Error(w, verify.Message(err), http.StatusForbidden)
//		return
//	}
//	// log in as res.Claims.Member with session newSessionID
//
// The package has two jobs, each with its section below: verification
// ([Verifier.Peek], [Verifier.Consume]) and the circuit breaker that
// freezes a batch showing the incident's pattern ([WithBreaker]). The
// pages a member meets are package flow's; the send guard that checks
// rendered mail before it leaves is package guard's.
//
// # Verification
//
// Bounded parse → signature and key id → claims (type, issuer, purpose,
// expiry, issue time) → the presented identity against the link's bindings
// and the purpose's [Policy] → the member limit → one atomic store
// operation that checks that the record is the token's (its secret, and the
// record's member, purpose and batch equal to the token's: the record, not
// the token, is the truth, so a token re-signed with the site's HS256 key
// and another member is refused as forged, [ErrSignature]), then
// revocation (including watermarks), use, expiry, freezes and the member's
// state, and marks the link consumed. Nothing is consumed unless every check
// passed.
//
// A link is bound to its member, and, when minted with them, to the
// recipient's email address and the member's number. Presented identities
// are canonicalized ([token.CanonicalEmail], [token.CanonicalNumber]; a
// member id is compared as is) and compared with the bindings in constant
// time, in Go: only the verifier can compute a binding. Any presented
// identity that does not match refuses the link, and the store counts the
// failure in the same operation as its checks, whatever the link's state:
// after five failures ([WithMaxFailures]) an outstanding link is revoked. While the link
// could have been consumed, the answer is [ErrMismatch]; once it is used,
// revoked, expired, frozen or stale, the answer is the one a matching
// identity gets ([ErrUsed], ...), at the same store cost, so that a settled
// link cannot be used to guess its owner's address: the ledger still
// records the mismatch. Every presentation that compares an identity also
// counts against the member's limit, across links and instances
// ([WithMemberLimit], [ErrThrottled]). A link minted in a batch was sent
// unprompted: it needs a typed identity, not only the member id the site
// asserts. Text typed in place of an identity (a pasted link) is recorded as
// a keyed fingerprint ([token.Parser.Fingerprint]), never as typed.
//
// # Circuit breaker
//
// When a batch shows the incident's pattern, the breaker freezes it on every
// instance at once and tells the site ([WithBreaker], [Trip]). It counts
// links and people, not events: a link counts once however often it fails,
// and is shared when people who differ both in the identity they typed and
// in their client presented it. In the incident (batches of ten members
// sharing one message) each shared message is a shared link; a typing error
// is one person on one link. By default the batch is frozen when, within 15
// minutes, 3 links (0.01% of a large batch, at most one link in ten of a
// small one) were shared, or 10 links (5% of the batch) had mismatches at
// all. Mismatches on links that could no longer be consumed do not count,
// and a trip or a thaw of the batch starts a new window. Each instance
// counts in its own memory and reads the others' mismatches from the ledger
// at most once a second per batch, so a ledger that cannot be written does
// not blind it. A simulation of an 18,000-link send (TestBreakerSimulation)
// shows honest clicks with a 2% typing error rate over an hour never
// freezing, and the incident's pattern freezing the batch within seconds of
// the first click.
//
// # Security considerations
//
// Every refusal is final for the request: a store error, a timeout (the
// verifier bounds each check, 5 seconds unless [WithTimeout]), a panic in the store or in
// a callback all refuse with [ErrUnavailable]. Every text the verifier
// writes to the store (user agent, client address, presented identity,
// reasons, details) is made bounded UTF-8 first ([store.CleanText]), so
// that a byte a client sends cannot fail the ledger write. A [Request]
// prints and logs without its link. Errors carry reasons for the
// site and the ledger; a person sees only [Message]: distinct words only
// where the page already shows the difference (the form again after a
// typo; a paused link), one message for every link that can no longer be
// used, and, for a wrong address on such a link, what the right one gets. Logs and errors name
// links by token id, never by token. Refusals of input that cannot be
// authenticated are rate-limited in the ledger ([WithLedgerRate]) so that
// garbage cannot flood the store; refusals of authentic links are always
// recorded, in grouped writes through a bounded queue: past its bound a
// refusal is counted and the ledger records the count as one entry with
// [store.ReasonUnitemised], so that a replay storm can neither take the
// store's connections from logins nor pass unrecorded. A refusal whose
// ledger write fails is still a refusal.
//
// A [Request] carries the client's address and user agent as the site
// determined them: behind a proxy, the site must take them from a header it
// trusts.
//
// # Backwards compatibility
//
// New refusal reasons may be added as new sentinels; code that branches on
// errors.Is keeps working, and [Message] gives a new reason the words of the
// group it belongs to.
package verify
