package mailscan

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"mime/quotedprintable"
	"net/url"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
)

// testLinks mints two links, for finding tokens in made-up messages.
func testLinks(t testing.TB) (a, b *token.Link) {
	t.Helper()
	k, _ := token.GenerateHMACKey("k")
	kr, _ := token.NewKeyring(k)
	iss, err := token.NewIssuer(kr, memstore.New(), token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := iss.MintBatch(context.Background(), "b", []token.Request{
		{Member: "a", Purpose: token.PurposeLogin, Recipient: "a@example.org"},
		{Member: "b", Purpose: token.PurposeLogin, Recipient: "b@example.org"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ls[0], ls[1]
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestScan(t *testing.T) {
	a, b := testLinks(t)
	hdr := "From: x@union.example\r\nTo: a@example.org\r\n"
	cases := []struct {
		name       string
		raw        string
		wantTokens []string
		wantErr    error
	}{
		{"plain", hdr + "\r\n" + a.URL, []string{a.Token}, nil},
		{"body only", "Log in:\r\n" + a.URL + "\r\n", []string{a.Token}, nil},
		{"two tokens", hdr + "\r\n" + a.URL + " " + b.URL + " " + a.URL, []string{a.Token, b.Token}, nil},
		{"percent", hdr + "\r\nx?t=" + strings.ReplaceAll(url.QueryEscape(b.URL), "e", "%65"), []string{b.Token}, nil},
		{"entities", hdr + "Content-Type: text/html\r\n\r\n<a href=\"" + strings.ReplaceAll(b.URL, "J", "&#74;") + "\">x</a>", []string{b.Token}, nil},
		{"wbr", hdr + "\r\n<p>" + b.Token[:20] + "<wbr>" + b.Token[20:] + "</p>", []string{b.Token}, nil},
		{"tag before the J", hdr + "\r\n<p>ey<b>" + b.Token[2:] + "</p>", []string{b.Token}, nil},
		{"json", hdr + "\r\n<script>x=\"" + strings.ReplaceAll(b.Token, ".", `\u002e`) + "\"</script>", []string{b.Token}, nil},
		{"base64 junk", hdr + "Content-Transfer-Encoding: base64\r\n\r\n" + strings.Join(strings.SplitAfter(b64(b.URL), "Q"), "!"), []string{b.Token}, nil},
		{"base64 wrapper", hdr + "\r\nhttps://click.example/r?u=" + base64.RawURLEncoding.EncodeToString([]byte(b.URL)), []string{b.Token}, nil},
		{"unquoted boundary", hdr + "Content-Type: multipart/mixed; boundary=a=b\r\n\r\n--a=b\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(b.URL) + "\r\n--a=b--\r\n", []string{b.Token}, nil},
		{"hard-wrapped", hdr + "\r\n" + a.Token[:70] + "\r\n" + a.Token[70:140] + "\n" + a.Token[140:] + "\r\nThe union", []string{a.Token}, nil},
		{"line break and wbr", hdr + "\r\n<p>" + a.Token[:30] + "\r\n<wbr>" + a.Token[30:] + "</p>", []string{a.Token}, nil},
		{"cut at ey|J", hdr + "\r\nx " + a.Token[:2] + "\r\n" + a.Token[2:], []string{a.Token}, nil},
		{"truncated", hdr + "\r\n" + a.URL[:len(a.URL)-3], nil, ErrBrokenToken},
		{"header cut", hdr + "\r\n" + a.Token[:30] + " and more", nil, ErrBrokenToken},
		{"unknown charset", hdr + "Content-Type: text/plain; charset=utf-7\r\n\r\n" + a.URL, nil, ErrPart},
		{"unknown encoding", hdr + "Content-Transfer-Encoding: x-uue\r\n\r\n" + a.URL, nil, ErrPart},
		{"multipart without boundary", hdr + "Content-Type: multipart/mixed\r\n\r\n" + a.URL, nil, ErrPart},
		{"delimiter after the last", hdr + "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nx\r\n--q--\r\n--q\r\n\r\ny\r\n", nil, ErrPart},
		{"body-only MIME", "--b\r\nContent-Type: text/plain\r\n\r\n" + a.URL, nil, ErrPart},
		{"body-only MIME in any case", "x\ncONTENT-transfer-ENCODING : base64\r\n\r\n" + a.URL, nil, ErrPart},
		{"body-only, a field name mid-line", "x Content-Type: y\r\n" + a.URL, []string{a.Token}, nil},
		{"too many decodings", hdr + "\r\n" + "%" + strings.Repeat("25", 10) + "41", nil, ErrTooManyDecodings},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := Scan([]byte(tc.raw), DefaultLimits, false)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && strings.Join(msg.Tokens, ",") != strings.Join(tc.wantTokens, ",") {
				t.Fatalf("found %d tokens, want %d", len(msg.Tokens), len(tc.wantTokens))
			}
		})
	}
}

func TestScanLimits(t *testing.T) {
	a, _ := testLinks(t)
	nest := func(n int) string {
		var s string
		for i := n; i > 0; i-- {
			s = "Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i)) + "\r\n\r\n--b" + string(rune('a'+i)) + "\r\n" + s
		}
		return s + "\r\n" + a.URL
	}
	parts := func(n int) string {
		return "Content-Type: multipart/mixed; boundary=p\r\n\r\n" + strings.Repeat("--p\r\n\r\nx\r\n", n) + "--p--\r\n"
	}
	cases := []struct {
		name    string
		raw     string
		lim     Limits
		wantErr error
	}{
		{"size", "To: a@x\r\n\r\n" + a.URL, Limits{MaxSize: 20, MaxParts: 9, MaxDepth: 9, MaxLinks: 9, MaxRounds: 9}, ErrTooLarge},
		{"depth ok", nest(8), DefaultLimits, nil},
		{"depth", nest(9), DefaultLimits, ErrTooDeep},
		{"parts ok", parts(DefaultLimits.MaxParts - 1), DefaultLimits, nil},
		{"parts", parts(DefaultLimits.MaxParts), DefaultLimits, ErrTooManyParts},
		{"links", "\r\n" + a.URL, Limits{MaxSize: 1 << 20, MaxParts: 9, MaxDepth: 9, MaxLinks: 0, MaxRounds: 9}, ErrTooManyLinks},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Scan([]byte(tc.raw), tc.lim, false)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestScanRecipients(t *testing.T) {
	raw := "To: a@x.org\r\nCc: B <b@y.org>\r\nBcc: g: c@z.org;\r\nResent-To: d@w.org\r\nX-Other: e@v.org\r\n" +
		"Content-Type: message/rfc822\r\n\r\nTo: attached@u.org\r\n\r\nhello"
	msg, err := Scan([]byte(raw), DefaultLimits, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(msg.Recipients, ","); got != "a@x.org,b@y.org,c@z.org,d@w.org" {
		t.Fatalf("recipients %s", got)
	}
}

func TestDecodeQP(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a=3Db", "a=b"},
		{"a=3db", "a=b"},
		{"soft=\r\nbreak", "softbreak"},
		{"soft= \t\nbreak", "softbreak"},
		{"bad=G1", "bad=G1"},
		{"end=", "end"},
		{"plain", "plain"},
	}
	for _, tc := range cases {
		if got := string(decodeQP([]byte(tc.in))); got != tc.want {
			t.Errorf("decodeQP(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeBase64(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"SGVsbG8=", []string{"Hello"}},
		{"SGV*sb!G8=\r\n", []string{"Hello"}},
		{"SGk=SGk=", []string{"HiHi", "Hi\x12\x1a"}},
		{"SGk-", []string{"Hi", "Hi>"}},
	}
	for _, tc := range cases {
		var got []string
		for _, b := range decodeBase64([]byte(tc.in)) {
			got = append(got, string(b))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("decodeBase64(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzDecodeQP: decoding never grows the text, leaves text without
// quoted-printable untouched, and undoes the standard library's encoder.
func FuzzDecodeQP(f *testing.F) {
	f.Add([]byte("a=3Db=\r\nc"))
	f.Add([]byte("=E6=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := decodeQP(b)
		if len(d) > len(b) || (!isQP(b) && !bytes.Equal(d, b)) {
			t.Fatalf("decodeQP(%q) = %q", b, d)
		}
		var enc bytes.Buffer
		w := quotedprintable.NewWriter(&enc)
		w.Binary = true
		w.Write(b)
		w.Close()
		if got := decodeQP(enc.Bytes()); !bytes.Equal(got, b) {
			t.Fatalf("round trip of %q: %q", b, got)
		}
	})
}

// FuzzDecodeBase64: the lenient decoder agrees with the standard one on
// valid input, ignores characters outside the alphabet, and never grows
// the text.
func FuzzDecodeBase64(f *testing.F) {
	f.Add([]byte("hello"), []byte("*"))
	f.Fuzz(func(t *testing.T, b, junk []byte) {
		enc := []byte(base64.StdEncoding.EncodeToString(b))
		if got := decode64(enc, true, false); !bytes.Equal(got, b) {
			t.Fatalf("decode64(%q) = %q, want %q", enc, got, b)
		}
		var j []byte
		for _, c := range junk {
			if b64val[c] == 0xff && c != '=' {
				j = append(j, c)
			}
		}
		if len(j) > 0 && len(enc) > 2 {
			mixed := append(append(append([]byte{}, enc[:2]...), j...), enc[2:]...)
			if got := decode64(mixed, true, false); !bytes.Equal(got, b) {
				t.Fatalf("with junk %q: %q, want %q", j, got, b)
			}
		}
		for _, d := range decodeBase64(junk) {
			if len(d) > len(junk)*3/4+3 {
				t.Fatalf("decoded %d bytes from %d", len(d), len(junk))
			}
		}
	})
}
