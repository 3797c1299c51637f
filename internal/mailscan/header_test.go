package mailscan

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSplitHeader(t *testing.T) {
	cases := []struct {
		name       string
		in         string
		wantHeader bool
		wantFields []string // name=value
		wantBody   string
		wantErr    error
	}{
		{"message", "To: a@x\r\nSubject: hi\r\n\r\nbody", true, []string{"To=a@x", "Subject=hi"}, "body", nil},
		{"bare line feeds", "To: a@x\nSubject: hi\n\nbody\n", true, []string{"To=a@x", "Subject=hi"}, "body\n", nil},
		{"folded", "To: a@x,\r\n\tb@y\r\n\r\n", true, []string{"To=a@x,\tb@y"}, "", nil},
		{"bracketed name", "X-Campaign[Id]: 7\r\nTo: a@x\r\n\r\nb", true, []string{"X-Campaign[Id]=7", "To=a@x"}, "b", nil},
		{"empty value", "Bcc:\r\n\r\nb", true, []string{"Bcc="}, "b", nil},
		{"header only", "To: a@x\r\n", true, []string{"To=a@x"}, "", nil},
		{"no header block", "\r\nTo: a@x\r\n", false, nil, "To: a@x\r\n", nil},
		{"body alone", "Dear Ann,\r\nTo: a@x\r\n", false, nil, "Dear Ann,\r\nTo: a@x\r\n", nil},
		{"html body alone", "<!doctype html><p>x: y</p>", false, nil, "<!doctype html><p>x: y</p>", nil},
		{"empty", "", false, nil, "", nil},
		{"leading continuation", " X: 1\r\nTo: b@y\r\n\r\n", false, nil, "", ErrHeader},
		{"mbox From line", "From a@x Tue\r\nTo: b@y\r\n\r\n", false, nil, "", ErrHeader},
		{"space before colon first", "To : b@y\r\n\r\n", false, nil, "", ErrHeader},
		{"space before colon later", "To: a@x\r\nCc : b@y\r\n\r\n", false, nil, "", ErrHeader},
		{"line not a field", "To: a@x\r\nnot a field\r\nCc: b@y\r\n\r\n", false, nil, "", ErrHeader},
		{"bare CR", "To: a@x\rCc: b@y\r\n\r\n", false, nil, "", ErrHeader},
		{"NUL", "To: a@x\x00\r\n\r\n", false, nil, "", ErrHeader},
		{"name with space", "To: a@x\r\nX Y: 1\r\n\r\n", false, nil, "", ErrHeader},
		{"too many fields", strings.Repeat("X: 1\r\n", MaxFields+1) + "\r\n", false, nil, "", ErrHeader},
		{"too large", "X: " + strings.Repeat("a", MaxHeaderBytes) + "\r\nY: 1\r\n\r\n", false, nil, "", ErrHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fields, body, has, err := SplitHeader([]byte(tc.in))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var got []string
			for _, f := range fields {
				got = append(got, f.Name+"="+string(f.Value))
			}
			if has != tc.wantHeader || strings.Join(got, "|") != strings.Join(tc.wantFields, "|") || string(body) != tc.wantBody {
				t.Fatalf("got %v %q %q, want %v %q %q", has, got, body, tc.wantHeader, tc.wantFields, tc.wantBody)
			}
		})
	}
}

// FuzzSplitHeader: SplitHeader reads any input in bounded work: the only
// error is ErrHeader, the body is the end of the input, field names are
// printable ASCII without ':', values hold no line break, and there are
// at most MaxFields fields.
func FuzzSplitHeader(f *testing.F) {
	f.Add([]byte("To: a@x\r\nCc:\r\n b@y\r\n\r\nbody"))
	f.Add([]byte("X-Campaign[Id]: 7\nTo: a@x\n\nb"))
	f.Add([]byte(" X: 1\r\n\r\n"))
	f.Add([]byte("From a@x\r\n"))
	f.Add([]byte("To: a@x\rCc: b@y\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fields, body, _, err := SplitHeader(raw)
		if err != nil {
			if !errors.Is(err, ErrHeader) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if !bytes.HasSuffix(raw, body) || len(fields) > MaxFields {
			t.Fatalf("body %q is not the end of the input, or %d fields", body, len(fields))
		}
		for _, fl := range fields {
			if !fieldLine([]byte(fl.Name+":")) || bytes.ContainsAny(fl.Value, "\r\n\x00") {
				t.Fatalf("field %q: %q", fl.Name, fl.Value)
			}
		}
	})
}

func TestAddresses(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{"plain", "ann@example.org", []string{"ann@example.org"}, nil},
		{"list", "ann@x.org, Bob <bob@y.org>", []string{"ann@x.org", "bob@y.org"}, nil},
		{"quoted name", `"Smith, Ann" <ann@x.org>`, []string{"ann@x.org"}, nil},
		{"quoted local part", `"ann"@x.org`, []string{"ann@x.org"}, nil},
		{"quoted local part with space", `"ann smith"@x.org`, []string{`"ann smith"@x.org`}, nil},
		{"group", "friends: ann@x.org, <bob@y.org>;, carl@z.org", []string{"ann@x.org", "bob@y.org", "carl@z.org"}, nil},
		{"empty group", "undisclosed-recipients:;", nil, nil},
		{"empty elements", ", ann@x.org,,", []string{"ann@x.org"}, nil},
		{"comment", "ann@x.org (Ann)", []string{"ann@x.org"}, nil},
		{"address in comment", "ann@x.org (bob@y.org)", []string{"ann@x.org", "bob@y.org"}, nil},
		{"address in display name", `"bob@y.org" <ann@x.org>`, []string{"ann@x.org", "bob@y.org"}, nil},
		{"encoded-word name", "=?utf-8?q?J=C3=B8rgen?= <j@x.org>", []string{"j@x.org"}, nil},
		{"encoded-word address in name", "=?utf-8?q?bob=40y=2Eorg?= <ann@x.org>", []string{"ann@x.org", "bob@y.org"}, nil},
		{"domain literal", "ann@[192.0.2.1]", []string{"ann@[192.0.2.1]"}, nil},
		{"encoded-word in address", "=?utf-8?q?ann?=@x.org", nil, ErrHeader},
		{"bad encoded-word", "=?x-nothing?q?a?= <ann@x.org>", nil, ErrHeader},
		{"route", "<@relay.example:ann@x.org>", nil, ErrHeader},
		{"name without address", "Ann Smith", nil, ErrHeader},
		{"unterminated quote", `"Ann <ann@x.org>`, nil, ErrHeader},
		{"unterminated comment", "ann@x.org (Ann", nil, ErrHeader},
		{"unterminated group", "g: ann@x.org", nil, ErrHeader},
		{"nested group", "g: h: ann@x.org;;", nil, ErrHeader},
		{"two at signs", "ann@x@y", nil, ErrHeader},
		{"empty angle", "<>", nil, ErrHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Addresses([]byte(tc.in))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzAddresses: Addresses reads any field body in bounded work: the only
// error is ErrHeader, and every address has text on both sides of an '@'.
func FuzzAddresses(f *testing.F) {
	f.Add([]byte(`"Smith, Ann" <ann@x.org>, g: b@y;, (c@z) d@w`))
	f.Add([]byte("=?utf-8?b?Ym9iQHkub3Jn?= <ann@x.org>"))
	f.Add([]byte("<@r:ann@x.org>"))
	f.Fuzz(func(t *testing.T, v []byte) {
		addrs, err := Addresses(v)
		if err != nil {
			if !errors.Is(err, ErrHeader) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if len(addrs) > len(v)/2+1 {
			t.Fatalf("%d addresses from %d bytes", len(addrs), len(v))
		}
		for _, a := range addrs {
			if i := strings.LastIndexByte(a, '@'); i <= 0 || i == len(a)-1 {
				t.Fatalf("address %q", a)
			}
		}
	})
}
