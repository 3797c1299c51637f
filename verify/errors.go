package verify

import (
	"errors"
	"fmt"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// Reasons a link is refused. Branch on them with errors.Is; show a person
// only [Message]. Where the token package or the store decides an outcome,
// the sentinel is theirs ([token.ErrExpired] is [store.ErrExpired], and
// [ErrUsed] is [store.ErrUsed]), so that errors.Is matches one value at
// every layer.
var (
	// ErrMalformed: the input is not an oncelink link or token.
	ErrMalformed = token.ErrMalformed
	// ErrSignature: the token is not authentic (bad signature, unknown or
	// removed key), or its secret does not match the one recorded.
	ErrSignature = token.ErrSignature
	// ErrClaims: the token is authentic but its claims are unacceptable.
	ErrClaims = token.ErrClaims
	// ErrExpired: the link expired.
	ErrExpired = token.ErrExpired
	// ErrPurpose: the link was minted for another purpose than the request's.
	ErrPurpose = token.ErrPurpose
	// ErrIdentityRequired: the purpose's policy requires an identity the
	// request did not present (or presented only in kinds the link is not
	// bound to). Nothing was counted or consumed: ask the person to confirm.
	ErrIdentityRequired = errors.New("oncelink: identity confirmation required")
	// ErrMismatch: a presented identity does not match the link. Nothing was
	// consumed; the failure was counted and recorded, and after the
	// configured number of failures the link is revoked.
	ErrMismatch = store.ErrMismatch
	// ErrUsed: the link was already consumed.
	ErrUsed = store.ErrUsed
	// ErrRevoked: the link was revoked (one by one, by a watermark, or after
	// too many failed confirmations).
	ErrRevoked = store.ErrRevoked
	// ErrFrozen: a freeze (global, batch or member) holds the link.
	ErrFrozen = store.ErrFrozen
	// ErrStale: the member's state changed since the link was sent.
	ErrStale = store.ErrStale
	// ErrThrottled: the links of the member were presented with an
	// identity to confirm more often than the member limit allows
	// ([WithMemberLimit]); nothing was compared in the store or consumed.
	ErrThrottled = errors.New("oncelink: too many confirmation attempts for this member")
	// ErrNotFound: the store does not know the link (never recorded, or
	// purged).
	ErrNotFound = store.ErrNotFound
	// ErrUnavailable: the check could not be completed: the store failed or
	// timed out, or a callback failed or panicked. It is a refusal.
	ErrUnavailable = errors.New("oncelink: verification unavailable")
	// ErrConfig: a verifier option or a request field is invalid.
	ErrConfig = token.ErrConfig
)

// Words a person is shown, by [Message] and on the login flow's pages
// (package flow). Each says what the person can do next, and nothing the page does not already
// show: every link that can no longer be used gets [GenericMessage],
// whatever the reason, and a wrong address on such a link gets what the
// right one gets. The reason goes to the audit ledger, not to whoever holds
// the link.
const (
	// GenericMessage is for a link that can no longer be used: used,
	// revoked, expired, unknown, not a link at all, or minted before its
	// member changed. The person asks for a new one.
	GenericMessage = "This link cannot be used. Please request a new one."
	// MessageCheckAddress is for an address that does not confirm a link
	// its owner can still use ([ErrMismatch], [ErrIdentityRequired]): the
	// form shows again, which already says as much.
	MessageCheckAddress = "This link could not be confirmed with that address. Check the address and try again."
	// MessageLater is for a link that is paused ([ErrFrozen]), a member
	// whose links were tried too often ([ErrThrottled]), and a check that
	// could not be made ([ErrUnavailable]).
	MessageLater = "This link cannot be used just now. Please try again later."
)

// Message returns what to show a person for err: "" for nil,
// [MessageCheckAddress] for an identity that did not confirm a link that
// can still be used, [MessageLater] for a paused link, a throttled member or
// a check that could not be made, else [GenericMessage].
func Message(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrMismatch) || errors.Is(err, ErrIdentityRequired):
		return MessageCheckAddress
	case errors.Is(err, ErrFrozen) || errors.Is(err, ErrThrottled) || errors.Is(err, ErrUnavailable):
		return MessageLater
	}
	return GenericMessage
}

// Reason returns the reason the ledger records for err ([store.Reason]);
// "" for nil.
//
// The ledger records a presentation whose identity did not match as
// [store.ReasonMismatch] whatever the answer: when the link was no longer
// consumable, the error is the one a matching identity gets (such as
// [ErrUsed]), and the entry's Detail names it ("used").
func Reason(err error) store.Reason {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return store.ReasonUnavailable
}

// errForged: a token with a valid signature whose claims differ from its
// record: re-signed with the site's key.
var errForged = errors.New("the token's claims differ from its record")

var reasons = []struct {
	err    error
	reason store.Reason
}{
	{errForged, store.ReasonForged},
	{store.ErrSecret, store.ReasonSecret},
	{ErrMalformed, store.ReasonMalformed},
	{ErrSignature, store.ReasonSignature},
	{ErrClaims, store.ReasonClaims},
	{ErrPurpose, store.ReasonPurpose},
	{ErrExpired, store.ReasonExpired},
	{ErrIdentityRequired, store.ReasonIdentityRequired},
	{ErrMismatch, store.ReasonMismatch},
	{ErrThrottled, store.ReasonThrottled},
	{ErrUsed, store.ReasonUsed},
	{ErrRevoked, store.ReasonRevoked},
	{ErrFrozen, store.ReasonFrozen},
	{ErrStale, store.ReasonStale},
	{ErrNotFound, store.ReasonNotFound},
	{ErrConfig, store.ReasonConfig},
	{ErrUnavailable, store.ReasonUnavailable},
}

// fromStore returns a store's refusal as the verifier's: an outcome is
// already the sentinel a site branches on, a secret that does not match is
// [ErrSignature] as well, and anything else is [ErrUnavailable].
func fromStore(err error) error {
	switch {
	case errors.Is(err, store.ErrSecret):
		return fmt.Errorf("%w: %w", ErrSignature, err)
	case store.IsOutcome(err):
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
