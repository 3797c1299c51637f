package guard

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"mime/quotedprintable"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/oncelink/oncelink/token"
)

// A corpus message is a file: comment lines at the top ("# hides: ..." says
// what the message hides; "# envelope: a, b" sets Mail.Envelope; "# nolink"
// sets Mail.NoLink; "# lf" keeps bare line feeds), then the message, with
// placeholders that the test fills with freshly minted links, so that the
// corpus never goes stale:
//
//	{{link0}} {{link1}}       member 0's and member 1's links (URLs)
//	{{token0}} {{token1}}     their bare tokens
//	{{link1|pct|pct}}         the value through filters, left to right
//	{{begin base64}}..{{end}} the expanded content, encoded (blocks nest)
//
// The message goes to member 0 (member0@example.org): member 0's link is
// the right one, member 1's a foreign one. Line feeds become CRLF.
type corpusMessage struct {
	name, hides string
	mail        Mail
}

// corpusLinks are the values placeholders name.
type corpusLinks map[string]string

func newCorpusLinks(links []*token.Link) corpusLinks {
	return corpusLinks{
		"link0": links[0].URL, "link1": links[1].URL, "link2": links[2].URL,
		"token0": links[0].Token, "token1": links[1].Token, "token2": links[2].Token,
	}
}

func loadCorpus(t testing.TB, dir string, links corpusLinks) []corpusMessage {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/%s: %v", dir, err)
	}
	var out []corpusMessage
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := parseCorpus(filepath.Base(f), string(b), links)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, cm)
	}
	return out
}

func parseCorpus(name, s string, links corpusLinks) (corpusMessage, error) {
	cm := corpusMessage{name: name, mail: Mail{To: "member0@example.org"}}
	lf := false
	for strings.HasPrefix(s, "#") {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		key, val, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), ":")
		val = strings.TrimSpace(val)
		switch key {
		case "hides":
			cm.hides = val
		case "envelope":
			for _, a := range strings.Split(val, ",") {
				cm.mail.Envelope = append(cm.mail.Envelope, strings.TrimSpace(a))
			}
		case "nolink":
			cm.mail.NoLink = true
		case "lf":
			lf = true
		default:
			return cm, fmt.Errorf("unknown directive %q", line)
		}
	}
	if cm.hides == "" {
		return cm, fmt.Errorf("no '# hides:' line")
	}
	if !lf {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	raw, rest, err := expand(s, links, "")
	if err != nil {
		return cm, err
	}
	if rest != "" {
		return cm, fmt.Errorf("unbalanced {{end}}")
	}
	cm.mail.Raw = []byte(raw)
	return cm, nil
}

// expand fills placeholders in s up to the {{end}} that closes block (""
// for the whole file), and returns the expansion and what follows the end.
func expand(s string, links corpusLinks, block string) (string, string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			if block != "" {
				return "", "", fmt.Errorf("block %q not closed", block)
			}
			b.WriteString(s)
			return b.String(), "", nil
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", "", fmt.Errorf("unclosed placeholder")
		}
		tag := s[i+2 : i+j]
		s = s[i+j+2:]
		// A tag alone on its line takes the line break after it.
		trim := func() {
			if strings.HasPrefix(s, "\r\n") {
				s = s[2:]
			} else if strings.HasPrefix(s, "\n") {
				s = s[1:]
			}
		}
		switch {
		case tag == "end":
			if block == "" {
				return "", "", fmt.Errorf("{{end}} outside a block")
			}
			trim()
			return b.String(), s, nil
		case strings.HasPrefix(tag, "begin "):
			trim()
			inner, rest, err := expand(s, links, tag[6:])
			if err != nil {
				return "", "", err
			}
			enc, err := encodeBlock(strings.TrimSpace(tag[6:]), inner)
			if err != nil {
				return "", "", err
			}
			b.WriteString(enc)
			s = rest
		default:
			v, err := placeholder(tag, links)
			if err != nil {
				return "", "", err
			}
			b.WriteString(v)
		}
	}
}

func placeholder(tag string, links corpusLinks) (string, error) {
	parts := strings.Split(tag, "|")
	v, ok := links[parts[0]]
	if !ok {
		return "", fmt.Errorf("unknown placeholder %q", parts[0])
	}
	for _, f := range parts[1:] {
		fn, ok := filters[f]
		if !ok {
			return "", fmt.Errorf("unknown filter %q", f)
		}
		v = fn(v)
	}
	return v, nil
}

// every inserts sep after every n bytes of s.
func every(s string, n int, sep string) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + sep)
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

// tokenPart applies f to the token in a link (or to a bare token).
func tokenPart(s string, f func(string) string) string {
	if i := strings.Index(s, "eyJ"); i >= 0 {
		return s[:i] + f(s[i:])
	}
	return f(s)
}

var filters = map[string]func(string) string{
	"pct": func(s string) string { // every byte percent-encoded
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	},
	"query": url.QueryEscape,
	"ent": func(s string) string { // every character a decimal reference
		var b strings.Builder
		for _, r := range s {
			fmt.Fprintf(&b, "&#%d;", r)
		}
		return b.String()
	},
	"enthex": func(s string) string {
		return tokenPart(s, func(t string) string {
			return strings.NewReplacer("e", "&#x65;", ".", "&period;", "J", "&#X4a;").Replace(t)
		})
	},
	"wbr": func(s string) string { return tokenPart(s, func(t string) string { return every(t, 7, "<wbr>") }) },
	"shy": func(s string) string { return tokenPart(s, func(t string) string { return every(t, 5, "\u00ad") }) },
	"zwj": func(s string) string { return tokenPart(s, func(t string) string { return every(t, 9, "\u200d") }) },
	"zwsp": func(s string) string {
		return tokenPart(s, func(t string) string { return every(t, 11, "\u200b\ufeff") })
	},
	"comment": func(s string) string {
		return tokenPart(s, func(t string) string { return every(t, 13, "<!-- x -->") })
	},
	"span": func(s string) string {
		return tokenPart(s, func(t string) string { return every(t, 17, "</span><span>") })
	},
	"json": func(s string) string { // JavaScript/JSON escapes
		return strings.NewReplacer("/", `\/`, ".", `\u002e`, "e", `\u0065`).Replace(s)
	},
	"b64":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"b64url": func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
	"qpsoft": func(s string) string { return tokenPart(s, func(t string) string { return every(t, 9, "=\n") }) },
	"wrap":   func(s string) string { return every(s, 60, "\n") },
	"qpeq":   func(s string) string { return strings.ReplaceAll(s, "=", "=3D") },
	"cut":    func(s string) string { return s[:len(s)-7] },
	"noey":   func(s string) string { return s[2:] },
	"flip": func(s string) string { // one signature character changed
		c := byte('A')
		if s[len(s)-3] == 'A' {
			c = 'B'
		}
		return s[:len(s)-3] + string(c) + s[len(s)-2:]
	},
	"upperpct": func(s string) string { return strings.ReplaceAll(s, "eyJ", "%65%79%4a") },
}

func encodeBlock(enc, s string) (string, error) {
	kind, arg, _ := strings.Cut(enc, " ")
	switch kind {
	case "base64":
		return every(base64.StdEncoding.EncodeToString([]byte(s)), 76, "\r\n") + "\r\n", nil
	case "base64junk": // characters outside the alphabet, which decoders ignore
		e := base64.StdEncoding.EncodeToString([]byte(s))
		e = every(e, 9, "*")
		return every(e, 76, "\r\n") + "\r\n", nil
	case "qp":
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.String(), nil
	case "utf16le", "utf16be":
		u := utf16.Encode([]rune(s))
		b := make([]byte, 2*len(u))
		for i, c := range u {
			if kind == "utf16le" {
				binary.LittleEndian.PutUint16(b[2*i:], c)
			} else {
				binary.BigEndian.PutUint16(b[2*i:], c)
			}
		}
		return string(b), nil
	case "repeat":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return "", err
		}
		return strings.Repeat(s, n), nil
	case "pad": // s, then filler up to arg bytes
		n, err := strconv.Atoi(arg)
		if err != nil {
			return "", err
		}
		if n > len(s) {
			s += strings.Repeat("filler line of an oversized message.\r\n", (n-len(s))/38+1)
		}
		return s, nil
	}
	return "", fmt.Errorf("unknown block %q", enc)
}
