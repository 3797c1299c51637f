package mailscan

import (
	"bytes"
	"fmt"
	"strings"
)

// transferTexts decodes a part's body by its Content-Transfer-Encoding, as
// leniently as mail clients do, and returns every reading a client could
// make of it. An encoding the scanner does not know is [ErrPart].
func transferTexts(body []byte, cte string) ([][]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "", "7bit", "8bit", "binary":
		return [][]byte{body}, nil
	case "quoted-printable":
		return [][]byte{decodeQP(body)}, nil
	case "base64":
		return decodeBase64(body), nil
	}
	return nil, fmt.Errorf("%w: unknown transfer encoding", ErrPart)
}

// decodeQP decodes quoted-printable as mail clients do: "=" and two hex
// digits of either case is a byte, "=" before a line break (white space
// between them allowed) is a soft line break, and any other "=" stays as
// it is. Text that decoding would not change is returned as it is.
func decodeQP(b []byte) []byte {
	if !isQP(b) {
		return b
	}
	i := bytes.IndexByte(b, '=')
	out := make([]byte, 0, len(b))
	for i >= 0 {
		out = append(out, b[:i]...)
		b = b[i:]
		switch {
		case len(b) >= 3 && isHex(b[1]) && isHex(b[2]):
			out = append(out, unhex(b[1])<<4|unhex(b[2]))
			b = b[3:]
		default:
			j := 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
				j++
			}
			if n := lineBreakAt(b, j); n > 0 {
				b = b[j+n:]
			} else if j == len(b) {
				b = b[j:] // "=" at the very end: a soft break before nothing
			} else {
				out = append(out, '=')
				b = b[1:]
			}
		}
		i = bytes.IndexByte(b, '=')
	}
	return append(out, b...)
}

// isQP reports whether b holds anything quoted-printable decoding changes.
func isQP(b []byte) bool {
	for i := bytes.IndexByte(b, '='); i >= 0; {
		rest := b[i:]
		if len(rest) == 1 || len(rest) >= 3 && isHex(rest[1]) && isHex(rest[2]) {
			return true
		}
		j := 1
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
			j++
		}
		if lineBreakAt(rest, j) > 0 || j == len(rest) {
			return true
		}
		k := bytes.IndexByte(rest[1:], '=')
		if k < 0 {
			return false
		}
		i += 1 + k
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// b64val maps the base64 alphabets to their values: 0-63 for the standard
// alphabet, 64 + value for the URL-safe '-' and '_', 0xff for the rest.
var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = byte(i)
	}
	t['-'], t['_'] = 64+62, 64+63
	return t
}()

// decodeBase64 decodes base64 as RFC 2045 6.8 says and mail clients do:
// characters outside the alphabet are ignored, and "=" ends a chunk, after
// which decoding starts again (mailers that encode line by line pad each
// line). Where readers could differ it returns every reading: with "="
// ignored instead, when it stands before more data, and with the URL-safe
// alphabet, when '-' or '_' appear.
func decodeBase64(b []byte) [][]byte {
	out := [][]byte{decode64(b, true, false)}
	if i := bytes.IndexByte(b, '='); i >= 0 && bytes.IndexFunc(b[i:], func(r rune) bool { return r < 256 && b64val[r] < 64 }) >= 0 {
		out = append(out, decode64(b, false, false))
	}
	if bytes.IndexByte(b, '-') >= 0 || bytes.IndexByte(b, '_') >= 0 {
		out = append(out, decode64(b, true, true))
	}
	return out
}

// decode64 decodes b, ignoring characters outside the alphabet; resetAtPad
// makes "=" end a chunk, urlSafe takes '-' and '_' for '+' and '/'.
func decode64(b []byte, resetAtPad, urlSafe bool) []byte {
	out := make([]byte, 0, len(b)*3/4+3)
	var acc uint32
	n := 0
	for _, c := range b {
		v := b64val[c]
		if v >= 64 {
			if c == '=' && resetAtPad {
				out = flush64(out, acc, n)
				acc, n = 0, 0
				continue
			}
			if !urlSafe || v == 0xff {
				continue
			}
			v -= 64
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	return flush64(out, acc, n)
}

// flush64 appends the bytes of a partial quantum of n characters.
func flush64(out []byte, acc uint32, n int) []byte {
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out
}
