package mailscan

import (
	"bytes"
	"fmt"
	"strings"
)

// contentType is what the scanner reads of a Content-Type field.
type contentType struct {
	media    string // lower case; "text/plain" when absent
	boundary string
	charset  string
}

// parseContentType reads a Content-Type field body as mail clients do:
// parameters are split at ';' outside quoted strings, a name is what
// precedes the first '=', and an unquoted value runs to the next ';', so
// that an unquoted boundary may hold '=' (Go's media type parser refuses
// it; clients take it). A repeated boundary or charset, or one given in
// RFC 2231 form, is [ErrPart].
func parseContentType(v []byte) (contentType, error) {
	ct := contentType{media: "text/plain"}
	if len(bytes.TrimSpace(v)) == 0 {
		return ct, nil
	}
	params, err := splitParams(string(v))
	if err != nil {
		return ct, err
	}
	if m := strings.ToLower(strings.TrimSpace(params[0])); strings.Contains(m, "/") {
		ct.media = m
	}
	seen := map[string]bool{}
	for _, p := range params[1:] {
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		base, _, _ := strings.Cut(name, "*")
		if base != "boundary" && base != "charset" {
			continue
		}
		if seen[base] || base != name {
			return ct, fmt.Errorf("%w: a repeated or RFC 2231 %s parameter", ErrPart, base)
		}
		seen[base] = true
		val = strings.TrimSpace(val)
		if strings.HasPrefix(val, `"`) {
			uq, n, err := readQuoted([]byte(val), '"')
			if err != nil || strings.TrimSpace(val[n:]) != "" {
				return ct, fmt.Errorf("%w: an unreadable %s parameter", ErrPart, base)
			}
			val = uq
		}
		if base == "boundary" {
			if val == "" || len(val) > 200 {
				return ct, fmt.Errorf("%w: a boundary of %d bytes", ErrPart, len(val))
			}
			ct.boundary = val
		} else {
			ct.charset = val
		}
	}
	return ct, nil
}

// splitParams splits a field body at ';' outside quoted strings.
func splitParams(v string) ([]string, error) {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	if quoted {
		return nil, fmt.Errorf("%w: an unterminated quoted string in Content-Type", ErrPart)
	}
	return append(out, v[start:]), nil
}

// multipart reads the parts of a multipart body. A delimiter is a line of
// "--", the boundary, optionally "--" (the last), and white space. The
// preamble and epilogue are read as text; a delimiter after the last one
// is [ErrPart], and so is a line that starts with the delimiter and goes
// on, unless it is the delimiter of another boundary of the message.
func (s *scanner) multipart(body []byte, boundary string, depth int) error {
	if s.boundaries == nil {
		s.boundaries = map[string]bool{}
	}
	s.boundaries[boundary] = true
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of the current part; -1 in the preamble
	closed := false
	prevEnd := 0
	for i := 0; ; {
		k := bytes.Index(body[i:], delim)
		if k < 0 {
			break
		}
		p := i + k
		i = p + 1
		if p > 0 && body[p-1] != '\n' {
			continue
		}
		end := lineEnd(body, p)
		rest := body[p+len(delim) : end]
		last := bytes.HasPrefix(rest, []byte("--"))
		if last {
			rest = rest[2:]
		}
		if len(bytes.Trim(rest, " \t")) != 0 {
			s.suspicious = append(s.suspicious, string(body[p+2:end]))
			continue
		}
		if closed {
			return fmt.Errorf("%w: a delimiter after the last one", ErrPart)
		}
		contentEnd := p
		if p > 0 {
			contentEnd = p - 1
			if contentEnd > 0 && body[contentEnd-1] == '\r' {
				contentEnd--
			}
		}
		if start < 0 {
			if err := s.text(body[:max(contentEnd, 0)], 0); err != nil { // the preamble
				return err
			}
		} else {
			parts = append(parts, body[start:max(contentEnd, start)])
		}
		start = end + lineBreakAt(body, end)
		prevEnd = start
		closed = last
		i = start
	}
	if start < 0 {
		return s.text(body, 0) // no delimiter at all: text
	}
	if closed {
		if err := s.text(body[prevEnd:], 0); err != nil { // the epilogue
			return err
		}
	} else {
		parts = append(parts, body[start:])
	}
	for _, p := range parts {
		f, b, _, err := SplitHeader(p)
		if err != nil {
			return err
		}
		if err := s.entity(f, b, depth+1); err != nil {
			return err
		}
	}
	return nil
}
