package mailscan

import (
	"bytes"
	"fmt"
	"strings"
)

// recipientFields are the fields that name a message's recipients: those
// a mailer or MTA delivers to (RFC 5322 3.6.3 and 3.6.6), and those a
// delivery agent writes, which a rendered message should not hold for
// anyone else either.
var recipientFields = []string{
	"to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc",
	"apparently-to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to",
}

// isRecipientField reports whether name is one of recipientFields.
func isRecipientField(name string) bool {
	for _, r := range recipientFields {
		if equalFold(name, r) {
			return true
		}
	}
	return false
}

// addrToken is a lexical token of an address list.
type addrToken struct {
	kind byte   // 'a' atom (dots included), 'q' quoted string, 'd' domain literal, or a special: < > @ , : ;
	text string // the atom, or the unquoted string
}

// Addresses parses an address-list field body (RFC 5322 3.4, with the
// obsolete forms readers still take: empty list elements, dots in
// phrases). It returns every address in it, groups included, and every
// address a reader could see in a display name or comment, after decoding
// encoded-words (RFC 2047). An encoded-word inside an address, a source
// route, an empty address, or anything it cannot read is [ErrHeader].
func Addresses(v []byte) ([]string, error) {
	toks, seen, err := lexAddresses(v)
	if err != nil {
		return nil, err
	}
	var out []string
	inGroup := false
	for i := 0; i < len(toks); {
		var phrase []string
		for i < len(toks) && (toks[i].kind == 'a' || toks[i].kind == 'q') {
			phrase = append(phrase, toks[i].text)
			i++
		}
		next := byte(0)
		if i < len(toks) {
			next = toks[i].kind
		}
		switch {
		case next == '@':
			if len(phrase) != 1 || i+1 >= len(toks) || (toks[i+1].kind != 'a' && toks[i+1].kind != 'd') {
				return nil, fmt.Errorf("%w: an address without one local part and one domain", ErrHeader)
			}
			a, err := addrSpec(toks[i-1], toks[i+1])
			if err != nil {
				return nil, err
			}
			out = append(out, a)
			i += 2
		case next == '<':
			// "<" local "@" domain ">"; a source route ("<@relay:...") is refused.
			if i+4 >= len(toks) || (toks[i+1].kind != 'a' && toks[i+1].kind != 'q') || toks[i+2].kind != '@' ||
				(toks[i+3].kind != 'a' && toks[i+3].kind != 'd') || toks[i+4].kind != '>' {
				return nil, fmt.Errorf("%w: an angle address that is not <local@domain>", ErrHeader)
			}
			a, err := addrSpec(toks[i+1], toks[i+3])
			if err != nil {
				return nil, err
			}
			out = append(out, a)
			seen = append(seen, strings.Join(phrase, " "))
			i += 5
		case next == ':':
			if inGroup || len(phrase) == 0 {
				return nil, fmt.Errorf("%w: a nested or nameless group", ErrHeader)
			}
			seen = append(seen, strings.Join(phrase, " "))
			inGroup = true
			i++
			continue
		case len(phrase) > 0:
			return nil, fmt.Errorf("%w: a display name without an address", ErrHeader)
		}
		if i < len(toks) && toks[i].kind == ';' {
			if !inGroup {
				return nil, fmt.Errorf("%w: ';' outside a group", ErrHeader)
			}
			inGroup = false
			i++
		}
		if i < len(toks) {
			if toks[i].kind != ',' {
				return nil, fmt.Errorf("%w: %q where ',' was expected", ErrHeader, toks[i].kind)
			}
			i++
		}
	}
	if inGroup {
		return nil, fmt.Errorf("%w: a group without its ';'", ErrHeader)
	}
	for _, s := range seen {
		d, err := decodeWords(s)
		if err != nil {
			return nil, err
		}
		out = append(out, visibleAddresses(d)...)
	}
	return out, nil
}

// addrSpec joins a local part and a domain. A quoted local part that is
// a plain dot-atom loses its quotes, as readers compare it.
func addrSpec(local, domain addrToken) (string, error) {
	if strings.Contains(local.text, "=?") || strings.Contains(domain.text, "=?") {
		return "", fmt.Errorf("%w: an encoded-word inside an address", ErrHeader)
	}
	l := local.text
	if local.kind == 'q' && !dotAtom(l) {
		l = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(l) + `"`
	}
	return l + "@" + domain.text, nil
}

func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x80 && (c <= ' ' || strings.IndexByte(`()<>[]:;@\,"`, c) >= 0) {
			return false
		}
	}
	return true
}

// visibleAddresses returns the words of a display name or comment that
// read as addresses: text on both sides of an '@'.
func visibleAddresses(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool {
		return r <= ' ' || strings.ContainsRune(`<>()[],;:"'`, r)
	}) {
		if i := strings.IndexByte(w, '@'); i > 0 && i < len(w)-1 {
			out = append(out, w)
		}
	}
	return out
}

// lexAddresses splits an address list into tokens, dropping white space
// and returning comments' texts apart.
func lexAddresses(v []byte) (toks []addrToken, comments []string, err error) {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			text, n, err := readComment(v[i:])
			if err != nil {
				return nil, nil, err
			}
			comments = append(comments, text)
			i += n
		case c == '"':
			text, n, err := readQuoted(v[i:], '"')
			if err != nil {
				return nil, nil, err
			}
			toks = append(toks, addrToken{'q', text})
			i += n
		case c == '[':
			j := bytes.IndexByte(v[i:], ']')
			if j < 0 || bytes.ContainsAny(v[i+1:i+j], "[\\") {
				return nil, nil, fmt.Errorf("%w: an unreadable domain literal", ErrHeader)
			}
			toks = append(toks, addrToken{'d', string(v[i : i+j+1])})
			i += j + 1
		case strings.IndexByte("<>@,:;", c) >= 0:
			toks = append(toks, addrToken{kind: c})
			i++
		case c < ' ' || c == 0x7f || strings.IndexByte(`)]\`, c) >= 0:
			return nil, nil, fmt.Errorf("%w: %q in an address list", ErrHeader, c)
		default:
			j := i
			for j < len(v) && (v[j] >= 0x80 || (v[j] > ' ' && v[j] != 0x7f && strings.IndexByte(`()<>[]:;@\,"`, v[j]) < 0)) {
				j++
			}
			toks = append(toks, addrToken{'a', string(v[i:j])})
			i = j
		}
		if len(toks) > 4096 {
			return nil, nil, fmt.Errorf("%w: an address list too long", ErrHeader)
		}
	}
	return toks, comments, nil
}

// readComment reads a comment, nested comments and quoted pairs included.
func readComment(v []byte) (string, int, error) {
	depth := 0
	var b []byte
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			if i+1 >= len(v) {
				return "", 0, fmt.Errorf("%w: an unterminated comment", ErrHeader)
			}
			i++
			b = append(b, v[i])
		case '(':
			depth++
			if depth > 1 {
				b = append(b, ' ')
			}
		case ')':
			depth--
			if depth == 0 {
				return string(b), i + 1, nil
			}
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return "", 0, fmt.Errorf("%w: an unterminated comment", ErrHeader)
}

// readQuoted reads a quoted string from v[0] == q, unescaping quoted pairs.
func readQuoted(v []byte, q byte) (string, int, error) {
	var b []byte
	for i := 1; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			if i+1 >= len(v) {
				return "", 0, fmt.Errorf("%w: an unterminated quoted string", ErrHeader)
			}
			i++
			b = append(b, v[i])
		case q:
			return string(b), i + 1, nil
		case '\r', '\n':
		default:
			b = append(b, c)
		}
	}
	return "", 0, fmt.Errorf("%w: an unterminated quoted string", ErrHeader)
}
