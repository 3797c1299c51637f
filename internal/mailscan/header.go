package mailscan

import (
	"bytes"
	"fmt"
)

// Field is one header field, unfolded: the line breaks of folded
// continuation lines are removed, their white space kept.
type Field struct {
	// Name is the field name as written.
	Name string
	// Value is the field body, without the white space after the colon.
	Value []byte
}

// Bounds of a header block.
const (
	// MaxHeaderBytes bounds one header block (of the message or a part).
	MaxHeaderBytes = 256 << 10
	// MaxFields bounds the fields of one header block.
	MaxFields = 1000
)

// SplitHeader tells a message's header block from its body, following RFC
// 5322 rather than any one parser's stricter rules:
//
//   - An empty first line: no header block; the body follows it.
//   - A first line that is a header field (a name of printable ASCII
//     characters 33 to 126 except ':', then ':'): a header block, which
//     must be read whole up to an empty line or the end of the text. Every
//     line in it is a field or a folded continuation line (starting with a
//     space or a tab); anything else is [ErrHeader].
//   - A first line that starts with white space, an mbox "From " line, or
//     a field name followed by white space before its colon (obsolete
//     syntax some readers take and others do not): [ErrHeader], since
//     readers disagree on where the header block is.
//   - Anything else: no header block; the whole text is the body.
//
// A bare CR, a NUL, or more than [MaxHeaderBytes] or [MaxFields] in a header
// block is [ErrHeader] too: another reader could take a CR for a line break.
func SplitHeader(raw []byte) (fields []Field, body []byte, hasHeader bool, err error) {
	if len(raw) == 0 {
		return nil, raw, false, nil
	}
	if n := lineBreakAt(raw, 0); n > 0 {
		return nil, raw[n:], false, nil
	}
	first := raw[:lineEnd(raw, 0)]
	switch {
	case first[0] == ' ' || first[0] == '\t':
		return nil, nil, false, fmt.Errorf("%w: the first line is a continuation line", ErrHeader)
	case bytes.HasPrefix(first, []byte("From ")), bytes.HasPrefix(first, []byte(">From ")):
		return nil, nil, false, fmt.Errorf("%w: an mbox From line", ErrHeader)
	}
	if !fieldLine(first) {
		if obsoleteFieldLine(first) {
			return nil, nil, false, fmt.Errorf("%w: white space before a field's colon", ErrHeader)
		}
		return nil, raw, false, nil
	}
	fields, body, err = readFields(raw)
	return fields, body, true, err
}

// readFields reads a header block that starts at raw[0].
func readFields(raw []byte) ([]Field, []byte, error) {
	var fields []Field
	i := 0
	for i < len(raw) {
		if i > MaxHeaderBytes {
			return nil, nil, fmt.Errorf("%w: header block larger than %d bytes", ErrHeader, MaxHeaderBytes)
		}
		if n := lineBreakAt(raw, i); n > 0 {
			return fields, raw[i+n:], nil
		}
		end := lineEnd(raw, i)
		line := raw[i:end]
		next := end + lineBreakAt(raw, end)
		if bytes.IndexByte(line, '\r') >= 0 || bytes.IndexByte(line, 0) >= 0 {
			return nil, nil, fmt.Errorf("%w: a bare CR or a NUL in the header block", ErrHeader)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fields) == 0 {
				return nil, nil, fmt.Errorf("%w: a continuation line without a field", ErrHeader)
			}
			f := &fields[len(fields)-1]
			f.Value = append(f.Value, line...)
			i = next
			continue
		}
		if !fieldLine(line) {
			return nil, nil, fmt.Errorf("%w: a line that is not a header field", ErrHeader)
		}
		if len(fields) == MaxFields {
			return nil, nil, fmt.Errorf("%w: more than %d fields", ErrHeader, MaxFields)
		}
		colon := bytes.IndexByte(line, ':')
		v := bytes.TrimLeft(line[colon+1:], " \t")
		fields = append(fields, Field{Name: string(line[:colon]), Value: v[:len(v):len(v)]})
		i = next
	}
	return fields, raw[len(raw):], nil
}

// fieldLine reports whether line starts with a field name and a colon.
func fieldLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// obsoleteFieldLine reports whether line is "name WSP+ :", a field of the
// obsolete syntax.
func obsoleteFieldLine(line []byte) bool {
	i := 0
	for i < len(line) && line[i] >= 33 && line[i] <= 126 && line[i] != ':' {
		i++
	}
	if i == 0 {
		return false
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	return j > i && j < len(line) && line[j] == ':'
}

// lineEnd returns the end of the line starting at i: the position of its
// CRLF or LF, or len(b).
func lineEnd(b []byte, i int) int {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return len(b)
	}
	if j > 0 && b[i+j-1] == '\r' {
		return i + j - 1
	}
	return i + j
}

// lineBreakAt returns the length of the CRLF or LF at b[i], or 0.
func lineBreakAt(b []byte, i int) int {
	switch {
	case i < len(b) && b[i] == '\n':
		return 1
	case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
		return 2
	}
	return 0
}

// Get returns the value of the one field named name (case-insensitive).
// ok is false when there is none; a repeated field is an error.
func Get(fields []Field, name string) (v []byte, ok bool, err error) {
	for _, f := range fields {
		if len(f.Name) == len(name) && equalFold(f.Name, name) {
			if ok {
				return nil, false, fmt.Errorf("%w: %s appears twice", ErrHeader, name)
			}
			v, ok = f.Value, true
		}
	}
	return v, ok, nil
}

// equalFold compares ASCII strings case-insensitively.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
