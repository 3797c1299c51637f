package mailscan

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// wordDecoder decodes RFC 2047 encoded-words in any charset the scanner
// knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	enc, err := lookupCharset(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(r), nil
}}

// decodeWords decodes the encoded-words in a header text. One it cannot
// decode is [ErrHeader]: a reader might.
func decodeWords(s string) (string, error) {
	if !strings.Contains(s, "=?") {
		return s, nil
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return "", fmt.Errorf("%w: an encoded-word that cannot be decoded", ErrHeader)
	}
	return d, nil
}

var (
	utf16LE = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	utf16BE = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
)

// lookupCharset finds a charset by the names browsers know (WHATWG), which
// include the IANA names mail uses. UTF-7 and other charsets browsers no
// longer decode are unknown: a mail client that still decodes them could
// show what the scanner cannot.
func lookupCharset(name string) (encoding.Encoding, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	switch name {
	case "utf-16le":
		return utf16LE, nil
	case "utf-16be", "utf-16":
		return utf16BE, nil
	}
	enc, err := htmlindex.Get(name)
	if err != nil || enc == nil {
		return nil, fmt.Errorf("%w: an unknown charset", ErrPart)
	}
	return enc, nil
}

// isUTF8 reports whether a charset name is UTF-8 or ASCII, whose text the
// scanner reads as it is.
func isUTF8(name string) bool {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return true
	}
	return false
}

// charsetTexts returns the texts a reader could make of b in the named
// charset: b decoded, and, where readers may go by other signs than the
// label, those readings too: a byte order mark decides the charset; text
// with NUL bytes is also read as UTF-16 in both byte orders; UTF-16
// without a byte order mark is read in both.
func charsetTexts(b []byte, charset string) ([][]byte, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		return [][]byte{b[3:]}, nil
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		return decodeAll(b[2:], utf16LE)
	case bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		return decodeAll(b[2:], utf16BE)
	}
	name := strings.ToLower(strings.TrimSpace(charset))
	var encs []encoding.Encoding
	var out [][]byte
	switch {
	case isUTF8(name):
		out = append(out, b)
	case name == "utf-16":
		encs = append(encs, utf16LE, utf16BE)
	default:
		enc, err := lookupCharset(name)
		if err != nil {
			return nil, err
		}
		encs = append(encs, enc)
	}
	if !strings.HasPrefix(name, "utf-16") && bytes.IndexByte(b, 0) >= 0 {
		encs = append(encs, utf16LE, utf16BE)
	}
	for _, e := range encs {
		t, err := decodeAll(b, e)
		if err != nil {
			return nil, err
		}
		out = append(out, t...)
	}
	return out, nil
}

func decodeAll(b []byte, enc encoding.Encoding) ([][]byte, error) {
	t, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: text that does not decode in its charset", ErrPart)
	}
	return [][]byte{t}, nil
}
