package mailscan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/internal/wire"
)

// errKinds are the errors a scan may end in.
var errKinds = []error{ErrHeader, ErrPart, ErrBrokenToken, ErrTooLarge, ErrTooManyParts, ErrTooDeep, ErrTooManyLinks, ErrTooManyDecodings}

func knownErr(err error) bool {
	return slices.ContainsFunc(errKinds, func(k error) bool { return errors.Is(err, k) })
}

// FuzzScan reads arbitrary messages: every error is one of the scanner's
// kinds and carries no text of the message, the work stays within the
// budget, every token found is whole,
// and every recipient has an '@'.
func FuzzScan(f *testing.F) {
	a, b := testLinks(f)
	f.Add([]byte("To: a@example.org\r\nCc: b@example.org\r\n\r\n" + a.URL))
	f.Add([]byte("Content-Type: multipart/alternative; boundary=x=1\r\n\r\n--x=1\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(b.URL) + "\r\n--x=1--\r\n"))
	f.Add([]byte("Content-Type: text/html; charset=utf-16le\r\n\r\n<p>" + a.Token[:9] + "<wbr>" + a.Token[9:] + "</p>"))
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nSubject: =?utf-8?q?x?=\r\n\r\nhttps://c.example/r?u=" + b64(b.URL)))
	f.Add([]byte("\r\n&#101;yJ%2e\\u002e" + a.Token))
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := Scan(raw, DefaultLimits, false)
		if err != nil {
			if !knownErr(err) {
				t.Fatalf("an error of no known kind: %v", err)
			}
			if strings.Contains(err.Error(), wire.Start) {
				t.Fatalf("an error carries text of the message: %v", err)
			}
			return
		}
		if msg.Work > workFactor*len(raw)+workSlack {
			t.Fatalf("work %d for %d bytes", msg.Work, len(raw))
		}
		for _, tok := range msg.Tokens {
			if n, kind := wire.Span([]byte(tok)); kind != wire.Whole || n != len(tok) {
				t.Fatalf("found a token that is not whole")
			}
		}
		for _, r := range msg.Recipients {
			if !containsAt(r) {
				t.Fatalf("recipient %q", r)
			}
		}
	})
}

func containsAt(s string) bool {
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '@' {
			return true
		}
	}
	return false
}

// FuzzPlain checks the fast path of text against the careful one: where
// plain says a text needs no other reading, reading every form of it
// finds the same tokens and ends in the same error.
func FuzzPlain(f *testing.F) {
	a, b := testLinks(f)
	f.Add([]byte("<p><a href=\"" + a.URL + "\">Log in</a></p><p>" + a.URL + "</p>"))
	f.Add([]byte("<td>" + a.Token + "</td>The union"))
	f.Add([]byte("<p>" + b.Token[:20] + "<wbr>" + b.Token[20:] + "</p>"))
	f.Add([]byte("e<b>y</b>J" + b.Token[3:]))
	f.Add([]byte(a.Token[:40] + "\n<br>" + a.Token[40:]))
	f.Add([]byte("<!--" + a.Token + "-->" + b.Token))
	f.Add([]byte("<script>x<y && " + a.Token + "</script>"))
	f.Fuzz(func(t *testing.T, text []byte) {
		if !plain(text) {
			return
		}
		fast := &scanner{lim: DefaultLimits, budget: workFactor*len(text) + workSlack}
		careful := &scanner{lim: DefaultLimits, budget: workFactor*len(text) + workSlack, careful: true}
		ferr := fast.text(text, 0)
		cerr := careful.text(text, 0)
		if (ferr == nil) != (cerr == nil) || kindOf(ferr) != kindOf(cerr) {
			t.Fatalf("fast path: %v; careful: %v", ferr, cerr)
		}
		if ferr == nil && !slices.Equal(fast.msg.Tokens, careful.msg.Tokens) {
			t.Fatalf("fast path found %d tokens, careful %d", len(fast.msg.Tokens), len(careful.msg.Tokens))
		}
	})
}

func kindOf(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range errKinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return err
}
