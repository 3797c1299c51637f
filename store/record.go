package store

import (
	"fmt"
	"time"
)

// Status is where a record is in its life. Expiry is not a status: it follows
// from [Record.ExpiresAt] and the time of the check.
type Status uint8

// Statuses of a record.
const (
	// StatusIssued: outstanding, neither consumed nor revoked.
	StatusIssued Status = iota + 1
	// StatusConsumed: consumed exactly once.
	StatusConsumed
	// StatusRevoked: revoked one by one. A record revoked after it was
	// consumed keeps its ConsumedAt and Consumer. Records covered by a
	// watermark keep their status and are refused as revoked.
	StatusRevoked
)

// String returns "issued", "consumed" or "revoked".
func (s Status) String() string {
	switch s {
	case StatusIssued:
		return "issued"
	case StatusConsumed:
		return "consumed"
	case StatusRevoked:
		return "revoked"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Bounds on the fields a store keeps. The issuer and verifier enforce them
// before a store sees a value; stores reject or truncate nothing themselves
// except through [Record.Validate].
const (
	MaxMemberLen    = 256
	MaxPurposeLen   = 64
	MaxBatchLen     = 128
	MaxRecipientLen = 320
	MaxIdentityLen  = 320
	MaxIPLen        = 64
	MaxUserAgentLen = 512
	MaxSessionLen   = 256
	MaxReasonLen    = 1024
	// StateLen is the length of a state hash.
	StateLen = 32
)

// Record is what a store keeps of one issued link. It holds no secret: only
// the SHA-256 hash of the token's random secret.
//
// Times are kept to the microsecond, in UTC. The issuer fills ID through
// ExpiresAt; the store fills the rest.
type Record struct {
	// ID is the token id (the JWT "jti"), a UUID in its canonical text form.
	ID string
	// Member is the member the link is bound to (the JWT "sub").
	Member string
	// Purpose is what the link is for: login, reset, verify-email...
	Purpose string
	// Batch is the bulk send the link belongs to, "" for a single link.
	Batch string
	// Recipient is the canonical address the link was minted for, "" if none.
	Recipient string
	// SecretHash is the SHA-256 hash of the token's secret.
	SecretHash [32]byte
	// State is the hash of the member's state when the link was minted, nil
	// when the link is not bound to a state. A record with a state is refused
	// ([ErrStale]) unless the consumer presents the same state.
	State []byte
	// IssuedAt and ExpiresAt bound the life of the link.
	IssuedAt  time.Time
	ExpiresAt time.Time

	// Seq, Status, Failures, ConsumedAt, RevokedAt and Consumer are kept by
	// the store.

	// Seq is the number the store gave the record when it recorded it,
	// drawn from one sequence of the store that only grows; the records of
	// one Insert may share it. It orders records by when the store recorded
	// them, whatever the clocks of the machines that minted them say, and is
	// what a watermark taken by [Tokens.WatermarkNow] compares.
	Seq    int64
	Status Status
	// Failures counts failed identity confirmations ([Tokens.Fail]).
	Failures int
	// ConsumedAt is when the record was consumed, zero if it was not.
	ConsumedAt time.Time
	// RevokedAt is when the record was revoked one by one, zero if it was not.
	RevokedAt time.Time
	// Consumer is who consumed the record, zero if nobody did.
	Consumer Presentation
}

// Presentation describes the request that presented a link: the identity the
// person confirmed and where the request came from. It is recorded with a
// consumption and in the ledger; it holds no secret.
type Presentation struct {
	// Identity is the identity presented, in the canonical form the verify
	// package defines, with its kind: "email:ann@example.org",
	// "number:10442", "member:m-17".
	Identity string `json:"identity"`
	// IP is the client address as the site determined it.
	IP string `json:"ip"`
	// UserAgent is the client's User-Agent header.
	UserAgent string `json:"user_agent"`
	// Session is the site's reference to the session the consumption opens.
	Session string `json:"session"`
}

// IsZero reports whether p holds nothing.
func (p Presentation) IsZero() bool { return p == Presentation{} }

// Validate checks a record before it is inserted: a UUID id, the bounded
// fields as text ([ValidText]), a state of [StateLen] bytes or none, times
// set and in order. It returns an error wrapping [ErrInvalid].
func (r *Record) Validate() error {
	switch {
	case !ValidID(r.ID):
		return fmt.Errorf("%w: record id is not a canonical uuid", ErrInvalid)
	case r.Member == "" || !ValidText(r.Member, MaxMemberLen):
		return fmt.Errorf("%w: record member must be 1 to %d bytes of text", ErrInvalid, MaxMemberLen)
	case r.Purpose == "" || !ValidText(r.Purpose, MaxPurposeLen):
		return fmt.Errorf("%w: record purpose must be 1 to %d bytes of text", ErrInvalid, MaxPurposeLen)
	case !ValidText(r.Batch, MaxBatchLen):
		return fmt.Errorf("%w: record batch must be at most %d bytes of text", ErrInvalid, MaxBatchLen)
	case !ValidText(r.Recipient, MaxRecipientLen):
		return fmt.Errorf("%w: record recipient must be at most %d bytes of text", ErrInvalid, MaxRecipientLen)
	case r.State != nil && len(r.State) != StateLen:
		return fmt.Errorf("%w: record state must be %d bytes or none", ErrInvalid, StateLen)
	case r.IssuedAt.IsZero() || r.ExpiresAt.IsZero():
		return fmt.Errorf("%w: record times must be set", ErrInvalid)
	case !r.ExpiresAt.After(r.IssuedAt):
		return fmt.Errorf("%w: record expires at or before it is issued", ErrInvalid)
	case r.SecretHash == [32]byte{}:
		return fmt.Errorf("%w: record secret hash is empty", ErrInvalid)
	}
	return nil
}

// ValidID reports whether s is a UUID in canonical lower-case text form
// (8-4-4-4-12 hexadecimal digits).
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// ConsumeRequest asks a store to check, and for Consume to mark, one record.
type ConsumeRequest struct {
	// ID is the token id from the verified token.
	ID string
	// SecretHash is the SHA-256 hash of the secret from the verified token.
	SecretHash [32]byte
	// Member, Purpose and Batch are the verified token's claims ("sub",
	// "aud", "bat"; Batch "" for a single link). The store compares them
	// with the record as part of the secret check: a token whose claims
	// differ from its record was re-signed, and is refused with
	// [ErrSecret]. The record, not the token, says whose link it is.
	Member  string
	Purpose string
	Batch   string
	// State is the current hash of the member's state, nil when the
	// verifier binds no state.
	State []byte
	// At is the time of the check.
	At time.Time
	// Confirmation says how the identity the request presents compared
	// with the link's bindings. A [Mismatched] request counts one failure
	// whatever the record's state.
	Confirmation Confirmation
	// MaxFailures is the failure cap: a [Mismatched] request that brings
	// the record's failures to it revokes the record, if it is still
	// issued, in the same operation (RevokedAt = At). 0 means no cap.
	MaxFailures int
	// Presentation is recorded with a successful consumption.
	Presentation Presentation
}

// Confirmation says how the identity a request presents compared with the
// bindings of the link it presents; the verifier compares them (the
// bindings are keyed hashes only it can compute) and tells the store.
type Confirmation uint8

// Confirmations of a [ConsumeRequest].
const (
	// Unconfirmed: no identity was compared, as for the page that shows
	// what a link needs, or a purpose whose policy needs none.
	Unconfirmed Confirmation = iota
	// Confirmed: every presented identity matched the link.
	Confirmed
	// Mismatched: a presented identity did not match the link. The store
	// counts one failure whatever the record's state, and refuses with
	// the state's outcome, or with [ErrMismatch] when the record was
	// consumable.
	Mismatched
)

// MaxFailuresCap bounds [ConsumeRequest.MaxFailures].
const MaxFailuresCap = 1 << 20

// Validate checks a consume request: the time is required, the claims and
// the presentation are bounded text ([ValidText]), the member and purpose
// are set, a state is [StateLen] bytes or none, the confirmation is known
// and the failure cap within 0 to [MaxFailuresCap]. A malformed id is not
// invalid: it is a record that is not found. The error wraps [ErrInvalid].
func (r *ConsumeRequest) Validate() error {
	p := &r.Presentation
	switch {
	case r.At.IsZero():
		return fmt.Errorf("%w: consume request has no time", ErrInvalid)
	case r.State != nil && len(r.State) != StateLen:
		return fmt.Errorf("%w: consume request state must be %d bytes or none", ErrInvalid, StateLen)
	case r.Member == "" || r.Purpose == "" || !ValidText(r.Member, MaxMemberLen) || !ValidText(r.Purpose, MaxPurposeLen) ||
		!ValidText(r.Batch, MaxBatchLen):
		return fmt.Errorf("%w: consume request needs the token's member and purpose, and its batch, as bounded text", ErrInvalid)
	case r.Confirmation > Mismatched:
		return fmt.Errorf("%w: consume request confirmation %d unknown", ErrInvalid, r.Confirmation)
	case r.MaxFailures < 0 || r.MaxFailures > MaxFailuresCap:
		return fmt.Errorf("%w: consume request failure cap outside 0 to %d", ErrInvalid, MaxFailuresCap)
	case !p.valid():
		return fmt.Errorf("%w: consume request presentation is not bounded text", ErrInvalid)
	}
	return nil
}

// valid reports whether every field is bounded text.
func (p *Presentation) valid() bool {
	return ValidText(p.Identity, MaxIdentityLen) && ValidText(p.IP, MaxIPLen) &&
		ValidText(p.UserAgent, MaxUserAgentLen) && ValidText(p.Session, MaxSessionLen)
}

// ParseID returns the 16 bytes of a canonical UUID id ([ValidID]), and
// false for anything else.
func ParseID(s string) ([16]byte, bool) {
	var id [16]byte
	if !ValidID(s) {
		return id, false
	}
	j := 0
	for i := 0; i < 36; i++ {
		if s[i] == '-' {
			continue
		}
		id[j/2] |= fromHex(s[i]) << (4 * (1 - j%2))
		j++
	}
	return id, true
}

func fromHex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// FormatID returns the canonical text form of a 16-byte id.
func FormatID(id [16]byte) string {
	const digits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = digits[id[i]>>4], digits[id[i]&0xf]
		j += 2
	}
	return string(b[:])
}

// ValidateInsert checks records before an Insert: each must be valid
// ([Record.Validate]) and no id may appear twice. The error wraps
// [ErrInvalid] or [ErrDuplicate]; stores call it before writing anything.
func ValidateInsert(recs []Record) error {
	seen := make(map[string]struct{}, len(recs))
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return err
		}
		if _, dup := seen[recs[i].ID]; dup {
			return fmt.Errorf("%w: id repeated in one insert", ErrDuplicate)
		}
		seen[recs[i].ID] = struct{}{}
	}
	return nil
}

// ValidateEvents checks events before an Append ([Event.Validate]); the
// error wraps [ErrInvalid].
func ValidateEvents(events []Event) error {
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}
