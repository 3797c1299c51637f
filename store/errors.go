package store

import "errors"

// Outcomes of the checks a store runs, in the order it runs them.
var (
	// ErrNotFound: no record has this id (never issued, or purged).
	ErrNotFound = errors.New("store: token not found")
	// ErrSecret: the record exists but the presented secret does not hash to
	// the stored value. With a valid signature this means a forged token.
	ErrSecret = errors.New("store: token secret does not match")
	// ErrRevoked: the record was revoked, one by one or by a watermark.
	ErrRevoked = errors.New("store: token revoked")
	// ErrUsed: the record was already consumed.
	ErrUsed = errors.New("store: token already used")
	// ErrExpired: the record's expiry is at or before the time of the check.
	ErrExpired = errors.New("store: token expired")
	// ErrFrozen: a hold (global, batch or member) covers the record.
	ErrFrozen = errors.New("store: token frozen")
	// ErrStale: the member's state changed since the record was issued.
	ErrStale = errors.New("store: member state changed")
	// ErrMismatch: the request was [Mismatched] and the record passed every
	// other check: it would have been consumable. The failure was counted.
	ErrMismatch = errors.New("store: identity does not match the record")
)

// Errors about the call itself.
var (
	// ErrUnavailable wraps every failure that is not an outcome above: a lost
	// connection, a deadline, a driver or engine error. It is a refusal.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrDuplicate: Insert was given an id the store already holds, or the
	// same id twice. Nothing was inserted.
	ErrDuplicate = errors.New("store: duplicate token id")
	// ErrInvalid: a record, filter, hold or query is malformed or out of
	// bounds. Nothing was changed.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrUnsupported: the store does not have an optional capability.
	ErrUnsupported = errors.New("store: unsupported")
	// ErrNoStore: there is no store where one was to be opened (no file, no
	// schema, no key prefix), or its schema is older than this program's,
	// and the caller asked not to create or migrate one. Nothing was
	// created.
	ErrNoStore = errors.New("store: no store here")
)

// IsOutcome reports whether err is one of the check outcomes (not found,
// secret, revoked, used, expired, frozen, stale, mismatch), as opposed to a
// failure of the store or of the call.
func IsOutcome(err error) bool {
	for _, o := range outcomes {
		if errors.Is(err, o) {
			return true
		}
	}
	return false
}

var outcomes = [...]error{ErrNotFound, ErrSecret, ErrRevoked, ErrUsed, ErrExpired, ErrFrozen, ErrStale, ErrMismatch}
