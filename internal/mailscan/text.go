package mailscan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oncelink/oncelink/internal/wire"
)

// text finds the tokens in one decoded text, in every form a mail client
// or a browser could make of it: the text as it is; the text a browser
// shows, with HTML markup taken out, character references decoded and
// invisible characters dropped; then, round after round, that text with
// percent-encoding, JavaScript and JSON escapes and character references
// decoded once more, until nothing changes. In every form, base64 inside
// links (redirect wrappers) is decoded and read as a text of its own.
// round is how many decodings made b.
func (s *scanner) text(b []byte, round int) error {
	from, deferred := len(s.msg.Tokens), len(s.deferred)
	if err := s.readings(b, round); err != nil {
		return err
	}
	if len(s.deferred) > deferred {
		// Tokens found anywhere in this text, including its decodings,
		// may complete what was deferred in it.
		return s.settleFrom(from, deferred)
	}
	return nil
}

// readings reads every form of the text; see text.
func (s *scanner) readings(b []byte, round int) error {
	if err := s.spend(len(b)); err != nil {
		return err
	}
	if err := s.find(b); err != nil {
		return err
	}
	if err := s.linkRuns(b, round); err != nil {
		return err
	}
	if !s.careful && plain(b) {
		return nil
	}
	v, markup := b, bytes.IndexByte(b, '<') >= 0
	if markup {
		v = htmlText(b)
	}
	next, changed := unescape(v)
	if !changed && !markup {
		return nil
	}
	for {
		if changed {
			v = next
		}
		if round++; round > s.lim.MaxRounds {
			return fmt.Errorf("%w: more than %d rounds", ErrTooManyDecodings, s.lim.MaxRounds)
		}
		if err := s.spend(len(v)); err != nil {
			return err
		}
		if err := s.find(v); err != nil {
			return err
		}
		if err := s.linkRuns(v, round); err != nil {
			return err
		}
		if next, changed = unescape(v); !changed {
			return nil
		}
	}
}

// spend counts n bytes of work against the message's budget.
func (s *scanner) spend(n int) error {
	s.msg.Work += n
	if s.msg.Work > s.budget {
		return fmt.Errorf("%w: more work than %d bytes", ErrTooManyDecodings, s.budget)
	}
	return nil
}

// plain reports whether b holds nothing a reading decodes, so that the
// text a browser shows of it has no run of token characters that b has
// not: no byte outside ASCII, no '&', '%' or '\\', and around every 'J'
// (every token has one) a run of token characters that markup does not
// touch, unless markup only follows a whole token. FuzzPlain checks this
// fast path against the careful one.
func plain(b []byte) bool {
	if bytes.IndexByte(b, '&') >= 0 || bytes.IndexByte(b, '%') >= 0 || bytes.IndexByte(b, '\\') >= 0 || !ascii(b) {
		return false
	}
	if bytes.IndexByte(b, '<') < 0 {
		return true
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], 'J')
		if j < 0 {
			return true
		}
		k := i + j
		l, r := k, k+1
		for l > 0 && runByte[b[l-1]] {
			l--
		}
		for r < len(b) && runByte[b[r]] {
			r++
		}
		if l > 0 && (b[l-1] == '>' || b[l-1] == '\n' || b[l-1] == '\r') {
			return false
		}
		if r < len(b) && (b[r] == '<' || b[r] == '\n' || b[r] == '\r') && !endsWhole(b[l:r]) {
			return false
		}
		i = r
	}
}

// endsWhole reports whether run ends with a whole token, so that text
// joined to its end cannot change what it holds.
func endsWhole(run []byte) bool {
	for a := 0; ; {
		k := bytes.Index(run[a:], []byte(wire.Start))
		if k < 0 {
			return false
		}
		a += k
		if n, kind := wire.Span(run[a:]); kind == wire.Whole && a+n == len(run) {
			return true
		}
		a++
	}
}

// ascii reports whether b is ASCII, 32 bytes at a time.
func ascii(b []byte) bool {
	const hi = 0x8080808080808080
	i := 0
	for ; i+32 <= len(b); i += 32 {
		if (binary.LittleEndian.Uint64(b[i:])|binary.LittleEndian.Uint64(b[i+8:])|
			binary.LittleEndian.Uint64(b[i+16:])|binary.LittleEndian.Uint64(b[i+24:]))&hi != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return false
		}
	}
	return true
}

// unescape decodes b once: character references (named and numeric, as
// browsers read them), percent-encoding, JavaScript and JSON escapes
// (\uXXXX, \u{X}, \xXX, \/ and the like); it drops invisible characters
// (format characters such as the soft hyphen and zero-width joiners,
// default-ignorable characters, variation selectors).
func unescape(b []byte) ([]byte, bool) {
	out := make([]byte, 0, len(b))
	changed := false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '&':
			if n, r := charRef(b[i:]); n > 0 {
				out = append(out, r...)
				i += n
				changed = true
				continue
			}
		case c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 3
			changed = true
			continue
		case c == '\\' && i+1 < len(b):
			if n, r := jsEscape(b[i:]); n > 0 {
				out = utf8.AppendRune(out, r)
				i += n
				changed = true
				continue
			}
		case c >= 0x80:
			r, n := utf8.DecodeRune(b[i:])
			if r != utf8.RuneError && invisible(r) {
				i += n
				changed = true
				continue
			}
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		out = append(out, c)
		i++
	}
	return out, changed
}

// charRef decodes the character reference at b[0] == '&', as the html
// package (and browsers) read it; n is 0 when there is none.
func charRef(b []byte) (n int, text []byte) {
	j := 1
	for j < len(b) && j < 40 && (isLetter(b[j]) || '0' <= b[j] && b[j] <= '9' || (j == 1 && b[j] == '#')) {
		j++
	}
	if j < len(b) && b[j] == ';' {
		j++
	}
	if j == 1 {
		return 0, nil
	}
	d := html.UnescapeString(string(b[:j]))
	if d == string(b[:j]) {
		return 0, nil
	}
	// UnescapeString decodes a legacy reference without ';' and leaves
	// the rest: keep what it decoded up to that point only.
	return j, []byte(d)
}

// jsEscape decodes the escape at b[0] == '\\'.
func jsEscape(b []byte) (n int, r rune) {
	switch c := b[1]; c {
	case 'u':
		if len(b) >= 4 && b[2] == '{' {
			k := bytes.IndexByte(b[3:min(len(b), 12)], '}')
			if k > 0 {
				if v, ok := hexValue(b[3 : 3+k]); ok && v <= unicode.MaxRune {
					return 4 + k, rune(v)
				}
			}
			return 0, 0
		}
		if len(b) >= 6 {
			if v, ok := hexValue(b[2:6]); ok {
				return 6, rune(v)
			}
		}
		return 0, 0
	case 'x':
		if len(b) >= 4 {
			if v, ok := hexValue(b[2:4]); ok {
				return 4, rune(v)
			}
		}
		return 0, 0
	case 'n':
		return 2, '\n'
	case 't':
		return 2, '\t'
	case 'r':
		return 2, '\r'
	default:
		if c < 0x80 && !isLetter(c) && !('0' <= c && c <= '9') {
			return 2, rune(c) // \/ \" \\ \. and the like
		}
	}
	return 0, 0
}

func hexValue(b []byte) (uint32, bool) {
	var v uint32
	for _, c := range b {
		if !isHex(c) {
			return 0, false
		}
		v = v<<4 | uint32(unhex(c))
	}
	return v, len(b) > 0
}

// invisible reports whether a browser draws nothing for r, so that it may
// sit inside a token on screen: format characters (soft hyphen, zero-width
// space, joiners, marks, byte order mark), other default-ignorable
// characters and variation selectors.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r)
}

// linkRuns decodes base64 inside links: in every "://" link, each run of
// at least minLinkRun base64 characters (either alphabet) that is not a
// segment of a JWT is decoded, from its start and after each '/', and the
// result read as a text of its own. A redirect wrapper that carries its
// target in base64 hides a link so.
func (s *scanner) linkRuns(v []byte, round int) error {
	for i := 0; ; {
		k := bytes.Index(v[i:], []byte("://"))
		if k < 0 {
			return nil
		}
		p := i + k + 3
		e := p
		for e < len(v) && linkBytes[v[e]] {
			e++
		}
		i = e
		if e-p < minLinkRun {
			continue
		}
		if err := s.linkRunsIn(v[p:e], round); err != nil {
			return err
		}
	}
}

const minLinkRun = 24

// linkBytes marks the bytes a link is made of, for finding its end.
var linkBytes = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`"'<>()[]{}|\^`+"`", c)
	}
	return t
}()

func (s *scanner) linkRunsIn(u []byte, round int) error {
	for i := 0; i < len(u); {
		if b64val[u[i]] == 0xff {
			i++
			continue
		}
		j := i
		for j < len(u) && b64val[u[j]] != 0xff {
			j++
		}
		run := u[i:j]
		if bytes.HasPrefix(run, []byte(wire.Start)) {
			// A JWT: skip a whole token, else this segment.
			if n := s.knownAt(u[i:]); n > 0 {
				i += n
				continue
			}
			k := i
			for k < len(u) && runByte[u[k]] {
				k++
			}
			if n, kind := wire.Span(u[i:k]); kind == wire.Whole {
				i += n
				continue
			}
			if j < len(u) && u[j] == '.' {
				i = j
				continue
			}
		}
		i = j
		if len(run) < minLinkRun {
			continue
		}
		tries := 0
		for off := 0; off < len(run)-minLinkRun+1 && tries < 4; {
			if round+1 > s.lim.MaxRounds {
				return fmt.Errorf("%w: more than %d rounds", ErrTooManyDecodings, s.lim.MaxRounds)
			}
			if err := s.text(decode64(run[off:], true, true), round+1); err != nil {
				return err
			}
			tries++
			k := bytes.IndexAny(run[off:], "/+")
			if k < 0 {
				break
			}
			off += k + 1
		}
	}
	return nil
}

// knownAt returns the length of a token already found that b begins
// with, or 0.
func (s *scanner) knownAt(b []byte) int {
	for _, t := range s.msg.Tokens {
		if len(b) >= len(t) && string(b[:len(t)]) == t {
			return len(t)
		}
	}
	return 0
}
