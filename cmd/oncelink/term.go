package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/oncelink/oncelink/admin"
)

// term returns s fit for a terminal: control characters (C0, DEL, C1),
// the Unicode controls that reorder or hide text, and bytes that are not
// UTF-8 are written as Go escapes (\x1b, \u202e), and a backslash as \\,
// so that text a stranger typed (a user agent, an address) can neither
// move the cursor, recolour, retitle or clear the operator's terminal nor
// pass for something else.
func term(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case escaped(r):
			if r < 0x80 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\\' || escaped(r) {
			return true
		}
		i += size
	}
	return false
}

// escaped reports whether r is a control character or a Unicode format
// control that changes how the text around it is shown.
func escaped(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, 0x80 <= r && r < 0xa0:
		return true
	case r == 0x200b, r == 0x200e, r == 0x200f, r == 0xfeff, 0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069:
		return true
	}
	return false
}

func isNoMatch(err error) bool { return errors.Is(err, admin.ErrNoMatch) }
