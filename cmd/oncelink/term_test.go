package main

import (
	"testing"
	"unicode/utf8"
)

func TestTerm(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "Mozilla/5.0 (X11)", "Mozilla/5.0 (X11)"},
		{"unicode", "Søren Åse", "Søren Åse"},
		{"escape sequence", "\x1b[2J\x1b]0;owned\x07", `\x1b[2J\x1b]0;owned\x07`},
		{"carriage return", "ok\rEVIL", `ok\x0dEVIL`},
		{"newline and tab", "a\nb\tc", `a\x0ab\x09c`},
		{"delete and C1", "a\x7fb\u009bc", `a\x7fb\u009bc`},
		{"right-to-left override", "user\u202egpj.exe", `user\u202egpj.exe`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"backslash", `a\x1b`, `a\\x1b`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := term(tc.in); got != tc.want {
				t.Fatalf("term(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzTerm: whatever a stranger sends, term's output holds no control
// character and no invalid UTF-8, and grows at most sixfold.
func FuzzTerm(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31m", "\u202e", "\xff\xfe", `\\x1b`, "\x9b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := term(s)
		if !utf8.ValidString(out) {
			t.Fatalf("term(%q) = %q: invalid UTF-8", s, out)
		}
		for _, r := range out {
			if escaped(r) {
				t.Fatalf("term(%q) = %q: holds %U", s, out, r)
			}
		}
		if len(out) > 6*len(s) {
			t.Fatalf("term(%q) grew to %d bytes", s, len(out))
		}
		if !needsEscape(s) && out != s {
			t.Fatalf("term changed %q, which needs no escape", s)
		}
	})
}
