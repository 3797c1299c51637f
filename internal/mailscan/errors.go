package mailscan

import "errors"

// Reasons a message cannot be scanned whole. Every one of them is a
// refusal: what the scanner cannot read, it cannot vouch for.
var (
	// ErrHeader: a header block (of the message, a part or an attached
	// message) cannot be read whole, is ambiguous, or names its recipients
	// in a way the scanner cannot read.
	ErrHeader = errors.New("mailscan: unreadable header")
	// ErrPart: a part cannot be read whole: its media type, boundary,
	// transfer encoding or charset is missing, repeated or unknown, or its
	// structure is ambiguous.
	ErrPart = errors.New("mailscan: unreadable part")
	// ErrBrokenToken: text begins like an oncelink token but holds no
	// whole one.
	ErrBrokenToken = errors.New("mailscan: broken token")
	// ErrTooLarge: the message is larger than [Limits.MaxSize].
	ErrTooLarge = errors.New("mailscan: message too large")
	// ErrTooManyParts: the message has more parts than [Limits.MaxParts].
	ErrTooManyParts = errors.New("mailscan: too many parts")
	// ErrTooDeep: parts nest deeper than [Limits.MaxDepth].
	ErrTooDeep = errors.New("mailscan: parts nested too deep")
	// ErrTooManyLinks: the message holds more distinct tokens than
	// [Limits.MaxLinks].
	ErrTooManyLinks = errors.New("mailscan: too many links")
	// ErrTooManyDecodings: text is encoded more times over than
	// [Limits.MaxRounds], or decoding it would take more work than the
	// scanner allows for a message of its size.
	ErrTooManyDecodings = errors.New("mailscan: too many decodings")
)
