package store

// Reason is why a presentation of a link was refused, as the ledger records
// it in the Reason of an [EventRefused] entry. The verifier writes these
// and nothing else there; reports and the circuit breaker read them. Write
// and compare them through the constants, never as literals, so that a
// renamed reason cannot silently drop an entry from a reader's count.
type Reason string

// Reasons a presentation is refused.
const (
	// ReasonMalformed: not an oncelink link or token.
	ReasonMalformed Reason = "malformed"
	// ReasonSignature: not authentic: a bad signature, an unknown or
	// removed key.
	ReasonSignature Reason = "signature"
	// ReasonForged: an authentic signature over claims that differ from
	// the record (re-signed with the site's key).
	ReasonForged Reason = "forged"
	// ReasonSecret: the token's secret does not match its record
	// ([ErrSecret]).
	ReasonSecret Reason = "secret"
	// ReasonClaims: authentic, with claims that are not acceptable.
	ReasonClaims Reason = "claims"
	// ReasonPurpose: minted for another purpose than the request's.
	ReasonPurpose Reason = "purpose"
	// ReasonExpired: the link expired ([ErrExpired]).
	ReasonExpired Reason = "expired"
	// ReasonIdentityRequired: the policy needs an identity the request did
	// not present; nothing was compared.
	ReasonIdentityRequired Reason = "identity-required"
	// ReasonMismatch: a presented identity did not match the link, whatever
	// the answer was. When the link could no longer be consumed, the entry's
	// Detail names the answer a matching identity got ("used", ...); an
	// entry without Detail is a mismatch on a link that was still
	// consumable ([ErrMismatch]).
	ReasonMismatch Reason = "mismatch"
	// ReasonThrottled: the member's confirmation limit was reached.
	ReasonThrottled Reason = "throttled"
	// ReasonUsed, ReasonRevoked, ReasonFrozen, ReasonStale and
	// ReasonNotFound: the record's outcomes ([ErrUsed], [ErrRevoked],
	// [ErrFrozen], [ErrStale], [ErrNotFound]).
	ReasonUsed     Reason = "used"
	ReasonRevoked  Reason = "revoked"
	ReasonFrozen   Reason = "frozen"
	ReasonStale    Reason = "stale"
	ReasonNotFound Reason = "not-found"
	// ReasonUnavailable: the check could not be completed (the store, a
	// deadline, a callback).
	ReasonUnavailable Reason = "unavailable"
	// ReasonConfig: the request or the verifier's configuration is invalid.
	ReasonConfig Reason = "config"
	// ReasonUnitemised: not one refusal but Count of them that the verifier
	// refused without itemising them in the ledger (its queue of ledger
	// writes was full, or their write failed); Detail says so in words.
	// Readers that count refusals add Count.
	ReasonUnitemised Reason = "unitemised"
)
