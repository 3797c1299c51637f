package verify

import (
	"fmt"
	"log/slog"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Identity is what a request presents to confirm a link. Empty fields are
// not presented.
type Identity struct {
	// Member is the member id the site asserts for the request, such as the
	// member who asked for the link in this browser, or the member already
	// logged in.
	Member string
	// Email is an email address the person typed.
	Email string
	// Number is a member number the person typed.
	Number string
}

// Request is one presentation of a link. Its Link is a secret: String,
// every fmt verb and slog print the request without it.
type Request struct {
	// Link is the link or bare token as presented. Untrusted.
	Link string
	// Purpose is the purpose the endpoint serves; a link minted for another
	// is refused ([ErrPurpose]). Required.
	Purpose string
	// Identity confirms the link.
	Identity Identity
	// IP and UserAgent describe the client, for the record; they are made
	// valid UTF-8 and cut to the store's bounds ([store.CleanText]).
	IP        string
	UserAgent string
	// Session is the site's reference to the session a consumption opens;
	// it is recorded with the consumption so that revoking the link can end
	// the session. At most [store.MaxSessionLen] bytes of UTF-8.
	Session string
}

// String describes the request without its link.
func (r Request) String() string {
	return fmt.Sprintf("verify.Request{Link: [redacted], Purpose: %q, Identity: %+v, IP: %q, UserAgent: %q, Session: %q}",
		r.Purpose, r.Identity, r.IP, r.UserAgent, r.Session)
}

// Format prints [Request.String] for every verb, so that no verb prints the
// link.
func (r Request) Format(f fmt.State, _ rune) { fmt.Fprint(f, r.String()) }

// LogValue logs the request without its link.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(slog.String("purpose", r.Purpose), slog.String("ip", r.IP),
		slog.String("user_agent", r.UserAgent), slog.String("session", r.Session))
}

// Result describes an accepted link.
type Result struct {
	// Claims are the link's claims.
	Claims token.Claims
	// Identity is the canonical identity that confirmed the link, with its
	// kind ("email:ann@example.org"), or "" when none was needed or, for
	// Peek, presented.
	Identity string
	// Needs is the kinds of identity that can confirm this link under its
	// purpose's policy (and that it is bound to): what a confirmation page
	// should ask for. Zero when no confirmation is needed.
	Needs Confirm
	// Record is the store's record: consumed after Consume.
	Record store.Record
}
