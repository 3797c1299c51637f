// Package verify checks a presented oncelink link against the requesting
// identity and consumes it exactly once.
//
// The recommended path: build a [Verifier] from the issuer's parser and the
// same store, show a confirmation page on GET with [Verifier.Peek] (mail
// scanners fetch links; Peek consumes nothing), and on POST call
// [Verifier.Consume] with the identity the person confirmed and the
// reference of the session the login will open.
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
// # Verification order
//
// Bounded parse → signature and key id → claims (type, issuer, purpose,
// expiry, issue time) → the presented identity against the link's bindings
// and the purpose's [Policy] → one atomic store operation that checks
// revocation (including watermarks), use, expiry, freezes and the member's
// state, and marks the link consumed. Nothing is consumed unless every check
// passed.
//
// # Identities
//
// A link is bound to its member, and, when minted with them, to the
// recipient's email address and the member's number. Presented identities
// are canonicalized ([token.CanonicalEmail], [token.CanonicalNumber]; a
// member id is compared as is) and compared with the bindings in constant
// time. Any presented identity that does not match refuses the link with
// [ErrMismatch]: nothing is consumed, the failure is counted, recorded in
// the ledger with the presented identity, address and user agent, and after
// [DefaultMaxFailures] the link is revoked, so a leaked link cannot be used
// to guess its owner's address or number. A link minted in a batch was sent
// unprompted: it needs a typed identity, not only the member id the site
// asserts.
//
// # Circuit breaker
//
// When links of one batch meet several identity mismatches within a window
// (by default [DefaultBreakerThreshold] within [DefaultBreakerWindow]), the
// batch is frozen on every instance at once and the site is told
// ([WithBreaker]). In the incident this library answers, that would have
// stopped a mis-sent batch after three wrong logins instead of 732.
//
// # The send guard
//
// Before a mailer sends a batch, [Outgoing.CheckAll] reads every rendered
// message ([Mail]) whole and refuses the batch, freezes it and records the
// refusal, unless each message may go:
//
//   - A message that carries a link has exactly one recipient, and it is
//     the link's: every address in To, Cc, Bcc, Resent-To, Resent-Cc,
//     Resent-Bcc (and the delivery fields Delivered-To, X-Original-To,
//     Envelope-To, Apparently-To), every address a reader could see in
//     their display names and comments, and every envelope recipient in
//     [Mail.Envelope] must be [Mail.To]. The header block is read by the
//     guard's own RFC 5322 reader (any printable field name, folded lines,
//     groups, comments, encoded-words); a header block it cannot read whole
//     or that readers could read differently (a bare CR, a first line that
//     is a continuation or an mbox From line, white space before a colon,
//     a source route, an encoded-word inside an address) is refused.
//   - A [Mail.Raw] that starts with an empty line, or whose first line is
//     not a header field (a name of printable ASCII and a colon), is a body
//     without a header block, which the mailer heads itself; one that
//     holds MIME part headers is refused, since without the header block
//     nobody can tell how its parts are decoded. A body whose first line
//     reads like a field ("Note: ...") must start with an empty line.
//   - The guard decodes what a mail client or a browser decodes before it
//     looks for links: MIME parts with any legal boundary, nested and
//     attached messages; quoted-printable and base64 as leniently as mail
//     clients (characters outside the alphabet ignored, padding mid-way);
//     every charset browsers know, UTF-16 included, byte order marks and
//     UTF-16 labelled otherwise; HTML markup, comments and character
//     references; invisible characters (soft hyphens, zero-width spaces and
//     joiners); percent-encoding, JavaScript and JSON escapes, round after
//     round; base64 inside links (redirect wrappers); encoded-words in
//     every header field. A transfer encoding or charset it does not know
//     (UTF-7, uuencode) is refused.
//   - Every oncelink token found must verify, be bound to the recipient
//     (and to [Mail.Member], and be of the guard's batch), and go out in no
//     other message; text that begins like an oncelink token but is not a
//     whole one is refused. Copies of one link count once: they never
//     hide another link.
//   - A cap reached is a refusal, never a reason to stop reading:
//     [MaxMessage] bytes, [MaxParts] entities, [MaxDepth] levels of nesting,
//     [MaxLinksPerMessage] distinct links, [MaxDecodings] decodings of one
//     text, and a bound on the total work for a message of its size.
//
// [BlockedError.Reason] says why a message was refused.
//
// # Security considerations
//
// Every refusal is final for the request: a store error, a timeout (the
// verifier bounds each check, [DefaultTimeout]), a panic in the store or in
// a callback all refuse with [ErrUnavailable]. Errors carry reasons for the
// site and the ledger; a person sees only [Message]. Logs and errors name
// links by token id, never by token. Refusals of input that cannot be
// authenticated are rate-limited in the ledger ([WithLedgerRate]) so that
// garbage cannot flood the store; refusals of authentic links are always
// recorded.
//
// A [Request] carries the client's address and user agent as the site
// determined them: behind a proxy, the site must take them from a header it
// trusts.
//
// # Backwards compatibility
//
// New refusal reasons may be added as new sentinels; code that branches on
// errors.Is keeps working, and [Message] stays one generic message.
package verify
