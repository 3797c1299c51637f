package mailscan

import (
	"bytes"
)

// htmlText makes the text a browser shows of b, for finding tokens that
// markup splits: tags and comments are taken out and the text around them
// joined (an element such as <wbr> or <span> inside a token does not cut
// it on screen); the contents of script and style elements stay as they
// are; attribute values and comment texts follow the text, each after a
// NUL (which no run of token characters crosses).
func htmlText(b []byte) []byte {
	flow := make([]byte, 0, len(b))
	var aside []byte
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			flow = append(flow, b[i:]...)
			break
		}
		p := i + j
		flow = append(flow, b[i:p]...)
		end, name, vals := markup(b, p)
		if end == p {
			flow = append(flow, '<')
			i = p + 1
			continue
		}
		for _, v := range vals {
			aside = append(aside, 0)
			aside = append(aside, v...)
		}
		i = end
		if rawTextElement(name) {
			k := indexFold(b[i:], append([]byte("</"), name...))
			if k < 0 {
				k = len(b) - i
			}
			flow = append(flow, b[i:i+k]...)
			i += k
		}
	}
	return append(flow, aside...)
}

// markup reads the tag or comment at b[p] == '<' and returns where it
// ends, the tag's name (lower case; nil for a comment or an end tag) and its attribute
// values (or the comment's text). end == p means b[p] starts no markup.
func markup(b []byte, p int) (end int, name []byte, vals [][]byte) {
	rest := b[p:]
	if bytes.HasPrefix(rest, []byte("<!--")) {
		k := bytes.Index(rest[4:], []byte("-->"))
		if k < 0 {
			return len(b), nil, [][]byte{rest[4:]}
		}
		return p + 4 + k + 3, nil, [][]byte{rest[4 : 4+k]}
	}
	if len(rest) < 2 || !(isLetter(rest[1]) || rest[1] == '/' || rest[1] == '!' || rest[1] == '?') {
		return p, nil, nil
	}
	i := 1
	closing := rest[1] == '/'
	for i < len(rest) && rest[i] == '/' {
		i++
	}
	n := i
	for i < len(rest) && !isSpace(rest[i]) && rest[i] != '>' && rest[i] != '/' {
		i++
	}
	if !closing {
		name = bytes.ToLower(rest[n:i])
	}
	for i < len(rest) {
		c := rest[i]
		switch {
		case c == '>':
			return p + i + 1, name, vals
		case c == '=':
			i++
			for i < len(rest) && isSpace(rest[i]) {
				i++
			}
			if i < len(rest) && (rest[i] == '"' || rest[i] == '\'') {
				q := rest[i]
				k := bytes.IndexByte(rest[i+1:], q)
				if k < 0 {
					return len(b), name, append(vals, rest[i+1:])
				}
				vals = append(vals, rest[i+1:i+1+k])
				i += k + 2
				continue
			}
			k := i
			for i < len(rest) && !isSpace(rest[i]) && rest[i] != '>' {
				i++
			}
			vals = append(vals, rest[k:i])
		default:
			i++
		}
	}
	return len(b), name, vals // a tag the text ends in
}

// rawTextElement reports whether a tag opens an element whose content is
// text, not markup.
func rawTextElement(name []byte) bool {
	switch string(name) {
	case "script", "style", "textarea", "title", "xmp", "noscript":
		return true
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// indexFold returns the index of the ASCII text sep (lower case) in b,
// ignoring case, or -1.
func indexFold(b, sep []byte) int {
	for i := 0; i+len(sep) <= len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 || i+j+len(sep) > len(b) {
			return -1
		}
		k := i + j
		if bytes.EqualFold(b[k:k+len(sep)], sep) {
			return k
		}
		i = k + 1
	}
	return -1
}
