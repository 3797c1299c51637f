package token

import (
	"errors"

	"github.com/oncelink/oncelink/store"
)

// Reasons a presented token is refused before any store is asked. The
// verify package re-exports them.
var (
	// ErrMalformed: the input is not a well-formed oncelink link or token:
	// too long, not a URL or a JWT, bad encoding, a claim of the wrong type.
	ErrMalformed = errors.New("oncelink: malformed link")
	// ErrSignature: the token is not authentic: a bad signature, an
	// algorithm that is not allowed, an unknown or removed key id, or a key
	// of another algorithm than the header claims.
	ErrSignature = errors.New("oncelink: invalid signature")
	// ErrClaims: the token is authentic but its registered claims are not
	// acceptable: wrong type, wrong issuer, issued in the future, a lifetime
	// longer than allowed, a missing claim.
	ErrClaims = errors.New("oncelink: invalid claims")
	// ErrExpired: the token's expiry has passed. It is [store.ErrExpired]:
	// the parser and the store decide one outcome.
	ErrExpired = store.ErrExpired
	// ErrPurpose: the token was minted for another purpose.
	ErrPurpose = errors.New("oncelink: wrong purpose")
)

// Errors about configuration and minting.
var (
	// ErrWeakKey: a key is empty, too short or visibly not random.
	ErrWeakKey = errors.New("oncelink: weak or empty key")
	// ErrKeyring: a keyring operation is not possible: a duplicate or
	// unknown key id, removing the active key, an active key that cannot
	// sign.
	ErrKeyring = errors.New("oncelink: keyring")
	// ErrConfig: an option is missing or out of bounds.
	ErrConfig = errors.New("oncelink: invalid configuration")
	// ErrRequest: a mint request is invalid (member, purpose, recipient,
	// lifetime). Nothing was minted.
	ErrRequest = errors.New("oncelink: invalid mint request")
	// ErrMint: the link could not be recorded in the store, so no link was
	// returned. It wraps the store's error.
	ErrMint = errors.New("oncelink: mint failed")
)
