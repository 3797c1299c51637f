package store

import (
	"fmt"
	"time"
)

// Scope is what a hold or a watermark covers.
type Scope uint8

// Scopes of a hold.
const (
	// ScopeGlobal covers every record; its key is "".
	ScopeGlobal Scope = iota + 1
	// ScopeBatch covers the records of one batch; its key is the batch id.
	ScopeBatch
	// ScopeMember covers the records of one member; its key is the member id.
	ScopeMember
)

// String returns "global", "batch" or "member".
func (s Scope) String() string {
	switch s {
	case ScopeGlobal:
		return "global"
	case ScopeBatch:
		return "batch"
	case ScopeMember:
		return "member"
	}
	return fmt.Sprintf("scope(%d)", uint8(s))
}

// ParseScope parses the String form of a scope.
func ParseScope(s string) (Scope, error) {
	switch s {
	case "global":
		return ScopeGlobal, nil
	case "batch":
		return ScopeBatch, nil
	case "member":
		return ScopeMember, nil
	}
	return 0, fmt.Errorf("%w: unknown scope %q", ErrInvalid, s)
}

// MarshalText returns the String form: scopes travel as words in JSON.
func (s Scope) MarshalText() ([]byte, error) {
	if s < ScopeGlobal || s > ScopeMember {
		return nil, fmt.Errorf("%w: unknown scope %d", ErrInvalid, uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses the String form ([ParseScope]).
func (s *Scope) UnmarshalText(b []byte) error {
	v, err := ParseScope(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Hold is a reversible freeze: while it stands, every record it covers is
// refused with [ErrFrozen] and nothing is consumed.
type Hold struct {
	Scope Scope `json:"scope"`
	// Key is the batch or member id; "" for a global hold.
	Key string `json:"key"`
	// Since is when the hold was placed.
	Since time.Time `json:"since"`
	// Reason says why, for the ledger and for operators.
	Reason string `json:"reason"`
}

// Validate checks the scope and key, and that the reason is at most
// [MaxReasonLen] bytes of text ([ValidText]); the error wraps [ErrInvalid].
func (h Hold) Validate() error {
	if !ValidText(h.Reason, MaxReasonLen) {
		return fmt.Errorf("%w: a hold reason must be at most %d bytes of text", ErrInvalid, MaxReasonLen)
	}
	return validScopeKey(h.Scope, h.Key)
}

func validScopeKey(s Scope, key string) error {
	switch s {
	case ScopeGlobal:
		if key != "" {
			return fmt.Errorf("%w: a global hold has no key", ErrInvalid)
		}
	case ScopeBatch:
		if key == "" || !ValidText(key, MaxBatchLen) {
			return fmt.Errorf("%w: a batch hold needs a batch id of 1 to %d bytes", ErrInvalid, MaxBatchLen)
		}
	case ScopeMember:
		if key == "" || !ValidText(key, MaxMemberLen) {
			return fmt.Errorf("%w: a member hold needs a member id of 1 to %d bytes", ErrInvalid, MaxMemberLen)
		}
	default:
		return fmt.Errorf("%w: unknown scope %d", ErrInvalid, s)
	}
	return nil
}

// ValidateScopeKey checks a scope and key pair as [Hold.Validate] does.
func ValidateScopeKey(s Scope, key string) error { return validScopeKey(s, key) }

// Mark is a revocation watermark of one member, or of every member when
// Member is "": every record of theirs issued strictly before Before, and
// every record whose [Record.Seq] is below Seq, is refused as revoked. A
// zero Before or Seq covers nothing.
//
// Seq is set by [Tokens.WatermarkNow] and decides by the store's own
// sequence, so that "every link recorded so far" does not depend on any
// clock. Before is set by [Tokens.Watermark] and compares with
// [Record.IssuedAt], the clock of the machine that minted the link.
type Mark struct {
	Member string    `json:"member"`
	Before time.Time `json:"before,omitzero"`
	Seq    int64     `json:"seq,omitempty"`
}

// IsZero reports whether m covers nothing.
func (m Mark) IsZero() bool { return m.Before.IsZero() && m.Seq == 0 }

// ValidateWatermark checks the arguments of [Tokens.Watermark]: a time, and
// a member of at most [MaxMemberLen] bytes ("" for every member). The error
// wraps [ErrInvalid].
func ValidateWatermark(member string, before time.Time) error {
	if !ValidText(member, MaxMemberLen) || before.IsZero() {
		return fmt.Errorf("%w: watermark needs a time and a member of at most %d bytes", ErrInvalid, MaxMemberLen)
	}
	return nil
}

// ValidateWatermarkNow checks the member of [Tokens.WatermarkNow]: at most
// [MaxMemberLen] bytes of text ([ValidText]), "" for every member. The
// error wraps [ErrInvalid].
func ValidateWatermarkNow(member string) error {
	if !ValidText(member, MaxMemberLen) {
		return fmt.Errorf("%w: watermark member must be at most %d bytes of text", ErrInvalid, MaxMemberLen)
	}
	return nil
}

// ValidatePurge checks the cut-off of [Tokens.Purge]; the error wraps
// [ErrInvalid].
func ValidatePurge(before time.Time) error {
	if before.IsZero() {
		return fmt.Errorf("%w: purge needs a time", ErrInvalid)
	}
	return nil
}
