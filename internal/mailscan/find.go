package mailscan

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/oncelink/oncelink/internal/wire"
)

// maxDeferred bounds the partial tokens waiting for a later reading of
// their text; past it, a partial token is broken at once.
const maxDeferred = 1024

// maxRun bounds the run of token characters read at one place.
const maxRun = wire.MaxTokenLen + 64

// runByte marks the bytes a token is made of: base64url and '.'.
var runByte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") {
		t[c] = true
	}
	return t
}()

// find finds the oncelink tokens in a text: at every "eyJ", it reads the
// run of token characters that follows, across line breaks (mailers
// hard-wrap long lines), and asks [wire.Span] what it is. A whole token
// is kept. One cut short is [ErrBrokenToken], unless what cuts it is
// something a later reading of the text decodes (markup, a reference, an
// escape, a character outside ASCII): then it is deferred, and must turn
// out to be the start of a whole token that reading finds.
func (s *scanner) find(v []byte) error {
	for i := 0; ; {
		j := bytes.IndexByte(v[i:], 'J')
		if j < 0 {
			return nil
		}
		k := i + j
		i = k + 1
		y := back(v, k)
		e := back(v, y)
		if e < 0 || v[y] != 'y' || v[e] != 'e' {
			continue
		}
		if n := s.knownAt(v[e:]); n > 0 {
			i = max(i, e+n) // a token found before, on one line
			continue
		}
		run, end := s.readRun(v, e)
		if err := s.spend(len(run)); err != nil {
			return err
		}
		n, kind := wire.Span(run)
		switch kind {
		case wire.Partial:
			e := end(len(run))
			for e < len(v) && (v[e] == '\r' || v[e] == '\n') {
				e++
			}
			if e < len(v) && decodable(v[e]) && len(s.deferred) < maxDeferred {
				s.deferred = append(s.deferred, string(run))
				continue
			}
			return fmt.Errorf("%w: text that begins like a token and is not one", ErrBrokenToken)
		case wire.Whole:
			if err := s.add(run[:n]); err != nil {
				return err
			}
			i = max(i, end(n))
		}
	}
}

// back returns the position of the byte before p, stepping back over one
// line break (a hard-wrapped token may be cut anywhere); -1 at the start.
func back(v []byte, p int) int {
	if p <= 0 {
		return -1
	}
	q := p - 1
	if v[q] == '\n' {
		q--
		if q >= 0 && v[q] == '\r' {
			q--
		}
		if q < 0 || !runByte[v[q]] {
			return -1
		}
	}
	return q
}

// readRun reads the run of token characters at v[start:], joining lines,
// up to maxRun characters. end maps a length of the run to the position
// in v just after it.
func (s *scanner) readRun(v []byte, start int) (run []byte, end func(int) int) {
	i := start
	for i < len(v) && runByte[v[i]] && i-start < maxRun {
		i++
	}
	n := lineBreakAt(v, i)
	if n == 0 || i+n >= len(v) || !runByte[v[i+n]] || i-start >= maxRun {
		return v[start:i], func(k int) int { return start + k }
	}
	// The run goes on after a line break: join the lines.
	buf := append(s.buf[:0], v[start:i]...)
	type seg struct{ at, pos int } // run offset at, v position pos
	segs := []seg{{0, start}}
	for n > 0 && i+n < len(v) && runByte[v[i+n]] && len(buf) < maxRun {
		i += n
		segs = append(segs, seg{len(buf), i})
		for i < len(v) && runByte[v[i]] && len(buf) < maxRun {
			buf = append(buf, v[i])
			i++
		}
		n = lineBreakAt(v, i)
	}
	s.buf = buf
	return buf, func(k int) int {
		for j := len(segs) - 1; j >= 0; j-- {
			if k >= segs[j].at {
				return segs[j].pos + k - segs[j].at
			}
		}
		return start + k
	}
}

// add keeps a whole token, once.
func (s *scanner) add(tok []byte) error {
	if _, ok := s.seen[string(tok)]; ok {
		return nil
	}
	if len(s.msg.Tokens) >= s.lim.MaxLinks {
		return fmt.Errorf("%w: more than %d distinct", ErrTooManyLinks, s.lim.MaxLinks)
	}
	if s.seen == nil {
		s.seen = map[string]struct{}{}
	}
	t := string(tok)
	s.seen[t] = struct{}{}
	s.msg.Tokens = append(s.msg.Tokens, t)
	return nil
}

// decodable reports whether a later reading of a text may decode c, or
// what follows it, into token characters.
func decodable(c byte) bool {
	return c == '<' || c == '&' || c == '%' || c == '\\' || c >= 0x80
}

// settleFrom checks the partial tokens deferred while reading a text
// (those from index deferred on): each must begin a whole token found in
// that text (from index from of the tokens on).
func (s *scanner) settleFrom(from, deferred int) error {
	for _, d := range s.deferred[deferred:] {
		ok := false
		for _, t := range s.msg.Tokens[from:] {
			if strings.HasPrefix(t, d) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: text that begins like a token and is not one", ErrBrokenToken)
		}
	}
	s.deferred = s.deferred[:deferred]
	return nil
}
