// Package flow is the pair of pages a member meets: the login flow, which
// puts [verify.Verifier] behind a confirmation page, and the request flow,
// where a member asks for a link by mail.
//
// The recommended path: mount the login flow at the path of the issuer's
// base URL, and the request flow beside it:
//
//	p, _ := iss.Parser()
//	v, _ := verify.New(p, st)
//	login, _ := flow.NewLogin("/login", v, sessions, flow.WithLanding("/members"),
//		flow.WithRequestPath("/login/request"))
//	requests, _ := flow.NewRequest("/login/request", iss, st, findMember, mailer)
//	defer requests.Close(ctx)
//	mux.Handle("/login", login)
//	mux.Handle("/login/request", requests)
//
// Options that both flows take are [Option]s; the rest are a
// [LoginOption] or a [RequestOption], and one given to the other flow does
// not compile.
//
// # Login flow
//
// [NewLogin] serves the link's URL. The GET with the token moves it out of
// the URL, into a short-lived HttpOnly cookie scoped to the flow's path,
// and redirects to the bare path, so that the link does not stay in
// browser history, proxy or access logs; the bare path shows the
// confirmation page with [verify.Verifier.Peek]; the POST of its form
// consumes the link with the identity the person typed. The cookie is
// SameSite=Lax: a link is clicked in a mail client, often webmail on
// another site, and Chromium does not send a Strict cookie set on a
// cross-site navigation with the redirect that follows it
// (TestBrowserCrossSiteLink checks both in headless Chromium). Two "t"
// parameters are refused, the form posts to the configured path, never the
// request's, and the member the site asserts ([WithAsserted]) is asked for
// only on a POST the browser says came from the site itself: another site
// can make a logged-in member's browser open a link, but it never speaks,
// and nothing is recorded, in the member's name.
//
// The words on the pages are a member's ([verify.Message]): "check the
// address and try again" after a typo, above the form that shows again;
// "try again later" for a paused link; one message, with a link to the
// request page ([WithRequestPath]), for every link that can no longer be
// used, whatever the reason; and "you are already logged in"
// ([MessageLoggedIn]) for one's own such link opened while logged in as
// its member ([WithLoggedIn]).
//
// # Request flow
//
// [NewRequest] serves the page where a member types an email address or
// member number and gets a link by mail. It answers every well-formed
// request with the same status, headers and bytes ([MessageRequested])
// after the same store work, two counter hits, whether or not the address
// is a member's: the lookup, the minting and the send happen after the
// answer, in a bounded queue served by a few workers ([WithQueue]), so
// that neither the page nor its timing says who is a member. The site
// supplies the [Lookup] (address or number to [Addressee]; not found is a
// normal answer) and the [Mailer], which renders the message to bytes and
// sends exactly those bytes; between the two, a send guard
// ([guard.Guard]) checks them, and a refused message is not sent and its
// link is revoked. Requests are limited per typed address or number (5 an
// hour, [WithAddressLimit]) and per client address (30 an hour, an IPv6
// client by its /64, [WithClientLimit]), counted in the store
// ([store.Counters]) so that the limits hold across every instance sharing
// it; the typed address is counted as a keyed fingerprint, never as typed.
// A limit reached, a full queue, a member not found and every failure (a
// store that cannot count is a refusal) are logged and never shown. Links
// it mints live the issuer's lifetime, [token.DefaultTTL] unless
// [WithTTL] says otherwise.
//
// # Security considerations
//
// Both flows refuse a POST from another site (net/http's
// CrossOriginProtection), and every response carries Referrer-Policy:
// no-referrer, Cache-Control: no-store, a Content-Security-Policy that
// allows nothing but the page's own form and styles, and forbids framing.
// No page holds a token: the token travels in the cookie. Forms are
// bounded (8 KiB). A person sees words that say what to do next and no
// more than the page already shows; reasons go to the ledger and the log,
// which name links by token id and typed addresses by fingerprint. A panic
// in a site's callback (sessions, asserted member, lookup, mailer) is a
// refusal, never a 500 with a stack.
//
// The client's address, recorded by the login flow and counted by the
// request flow, is the connection's unless [WithClientIP] says otherwise:
// behind a proxy, take it from a header the proxy sets and the site
// trusts.
package flow
