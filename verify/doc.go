// Package verify checks a presented oncelink link against the requesting
// identity and consumes it exactly once.
//
// The recommended path: build a [Verifier] from the issuer's parser and the
// same store, and mount the login flow at the path of the issuer's base URL:
//
//	p, _ := iss.Parser()
//	v, _ := verify.New(p, st)
//	flow, _ := verify.NewFlow(verify.FlowConfig{Verifier: v, Purpose: token.PurposeLogin,
//		Sessions: mySessions, Path: "/login", Landing: "/members"})
//	mux.Handle("/login", flow)
//
// A site with its own pages shows a confirmation page on GET with
// [Verifier.Peek] (mail scanners fetch links; Peek consumes nothing), and on
// POST calls [Verifier.Consume] with the identity the person confirmed and
// the reference of the session the login will open.
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
// The page where a member asks for a link is the request flow, mounted
// beside the login flow:
//
//	rf, _ := verify.NewRequestFlow(verify.RequestFlowConfig{Verifier: v, Issuer: iss,
//		Purpose: token.PurposeLogin, Path: "/login/request", Lookup: findMember, Mailer: mailer})
//	defer rf.Close(ctx)
//	mux.Handle("/login/request", rf)
//
// The package has four jobs, each with its section below: verification
// ([Verifier.Peek], [Verifier.Consume]), the circuit breaker that freezes a
// batch showing the incident's pattern ([WithBreaker]), the login flow that
// puts both behind a confirmation page ([NewFlow]), and the request flow
// where a member asks for a link ([NewRequestFlow]). The send guard
// ([Outgoing]) checks rendered mail before it leaves.
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
// after [DefaultMaxFailures] an outstanding link is revoked. While the link
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
// # Login flow
//
// [NewFlow] serves the link's URL. The GET with the token moves it out of
// the URL, into a short-lived HttpOnly cookie scoped to the flow's path,
// and redirects to the bare path, so that the link does not stay in browser
// history, proxy or access logs; the bare path shows the confirmation page
// with [Verifier.Peek]; the POST of its form consumes the link with the
// identity the person typed. The cookie is SameSite=Lax: a link is clicked
// in a mail client, often webmail on another site, and Chromium does not
// send a Strict cookie set on a cross-site navigation with the redirect
// that follows it (TestBrowserCrossSiteLink checks both in headless
// Chromium). Two "t" parameters are refused, the form posts to the
// configured path, never the request's, and the member the site asserts is
// asked for only on a POST the browser says came from the site itself:
// another site can make a logged-in member's browser open a link, but it
// never speaks, and nothing is recorded, in the member's name.
//
// The words on the flow's pages are a member's ([Message]): "check the
// address and try again" after a typo, above the form that shows again;
// "try again later" for a paused link; one message, with a link to the
// request page ([FlowConfig.RequestPath]), for every link that can no
// longer be used, whatever the reason; and "you are already logged in" for
// one's own such link opened while logged in as its member
// ([FlowConfig.LoggedIn]).
//
// # Request flow
//
// [NewRequestFlow] serves the page where a member types an email address or
// member number and gets a link by mail. It answers every well-formed
// request with the same status, headers and bytes ([MessageRequested])
// after the same store work, two counter hits, whether or not the address
// is a member's: the lookup, the minting and the send happen after the
// answer, in a bounded queue served by a few workers, so that neither the
// page nor its timing says who is a member. The site supplies the
// [Lookup] (address or number to [Addressee]; not found is a normal answer)
// and the [Mailer], which renders the message to bytes and sends exactly
// those bytes; between the two, the send guard ([Outgoing]) checks them,
// and a refused message is not sent and its link is revoked. Requests are
// limited per typed address or number ([DefaultAddressLimit], 5 an hour)
// and per client address ([DefaultClientLimit], 30 an hour, an IPv6
// client by its /64), counted in the store ([store.Counters]) so that the
// limits hold across every instance sharing it; the typed address is
// counted as a keyed fingerprint, never as typed. A limit reached, a full
// queue, a member not found and every failure (a store that cannot count is
// a refusal) are logged and never shown. Links it mints live the issuer's
// [token.DefaultTTL], 15 minutes, unless [RequestFlowConfig.TTL] says
// otherwise. Its POST is refused cross-site, as the login flow's is.
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
// recorded.
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
