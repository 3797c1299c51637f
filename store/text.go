package store

import (
	"strings"
	"unicode/utf8"
)

// CleanText returns s as text every store can keep: valid UTF-8, each byte
// that is not becoming U+FFFD; no NUL, which PostgreSQL cannot store,
// U+FFFD too; and at most max bytes, cut on a character boundary. Every
// writer passes untrusted text through it before it reaches a store (a
// user agent, a client address, a typed identity, a reason, a detail), so
// that a byte no engine accepts can neither fail the write nor blind the
// ledger. Text that is already clean is returned as it is.
func CleanText(s string, max int) string {
	if max < 0 {
		max = 0
	}
	if len(s) <= max && ValidText(s, max) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), max))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == 0:
			r, size = utf8.RuneError, 1
		}
		n := utf8.RuneLen(r)
		if b.Len()+n > max {
			break
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// ValidText reports whether s is text a store keeps as it is: at most max
// bytes of valid UTF-8 without NUL. Stores refuse any other text with
// [ErrInvalid]: through [Record.Validate], [ConsumeRequest.Validate],
// [Event.Validate], [Hold.Validate], the query and filter checks, the
// member of [Tokens.WatermarkNow] and the key check of [Counters.Hit].
func ValidText(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
