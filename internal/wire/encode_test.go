package wire

import (
	"encoding/json"
	"testing"
)

// TestAppendJSON checks the hand-written claims encoder against
// encoding/json: the same bytes for ordinary claims, and the same values
// after decoding for hostile strings.
func TestAppendJSON(t *testing.T) {
	ordinary := Claims{Iss: "https://members.example.org", Sub: "m-17", Aud: "login", Exp: 1795683600, Iat: 1795597200,
		Jti: "01a2114a-44f3-747e-82a7-fc0cabc9be1a", Bat: "invite-7", Sec: "kgDG7fQRhclrqVKvLF42afQ5Nlx6zBnSzrYbAu_E8uU",
		Rcp: "KXeV5-wQeXhMeMrQ2p_27w", Mno: "9jvLLlUPpuopiV7n0GNK5w"}
	want, _ := json.Marshal(&ordinary)
	if got := ordinary.AppendJSON(nil); string(got) != string(want) {
		t.Fatalf("encoded\n %s\nwant\n %s", got, want)
	}
	for _, s := range []string{`"quoted"`, `back\slash`, "new\nline\ttab\r", "\x00\x01\x1f", "<script>&", "åse 🎉", "\u2028\u2029", "\xff\xfe bad"} {
		w := ordinary
		w.Sub, w.Bat, w.Iss = s, s, s
		got := w.AppendJSON(nil)
		std, _ := json.Marshal(&w)
		if string(got) != string(std) {
			t.Fatalf("%q: encoded %s, encoding/json %s", s, got, std)
		}
	}
}

// FuzzAppendJSON checks that the claims encoder writes what encoding/json
// writes, for any member, batch and issuer.
func FuzzAppendJSON(f *testing.F) {
	f.Add("m-17", "b", "https://x.example")
	f.Add("\"\\\x00<>&\u2028", "\xff", "åse")
	f.Fuzz(func(t *testing.T, sub, bat, iss string) {
		w := Claims{Iss: iss, Sub: sub, Aud: "login", Exp: 2, Iat: 1, Jti: "j", Bat: bat, Sec: "s"}
		std, err := json.Marshal(&w)
		if err != nil {
			t.Skip()
		}
		if got := w.AppendJSON(nil); string(got) != string(std) {
			t.Fatalf("encoded %s, encoding/json %s", got, std)
		}
	})
}

// FuzzDecodeOwn checks the fast claims decoder against the strict one: when
// it accepts input, the strict decoder decodes the same values.
func FuzzDecodeOwn(f *testing.F) {
	w := Claims{Iss: "https://x.example", Sub: "m-17", Aud: "login", Exp: 1795683600, Iat: 1795597200, Jti: "j", Bat: "b", Sec: "s", Rcp: "r", Mno: "n"}
	f.Add(w.AppendJSON(nil))
	w.Bat, w.Mno = "", ""
	f.Add(w.AppendJSON(nil))
	f.Add([]byte(`{"iss":"a","sub":"b","aud":"c","exp":01,"iat":1,"jti":"j","sec":"s"}`))
	f.Add([]byte(`{"iss":"a","sub":"b","aud":"c","exp":1,"iat":1,"jti":"j","sec":"s","sec":"t"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Claims
		if !fast.decodeOwn(b) {
			return
		}
		var std Claims
		if err := std.decodeStrict(b); err != nil {
			t.Fatalf("fast decoder accepted what the strict decoder refuses (%v): %q", err, b)
		}
		if fast != std {
			t.Fatalf("fast decoder: %+v\nstrict decoder: %+v\ninput %q", fast, std, b)
		}
	})
}

func TestDecodeOwnRoundTrip(t *testing.T) {
	for _, w := range []Claims{
		{Iss: "https://x.example", Sub: "m-17", Aud: "login", Exp: 2, Iat: 1, Jti: "j", Sec: "s"},
		{Iss: "i", Sub: "åse ü", Aud: "reset", Exp: 9007199254740993, Iat: 0, Jti: "j", Bat: "b", Sec: "s", Rcp: "r", Mno: "n"},
	} {
		var got Claims
		if !got.decodeOwn(w.AppendJSON(nil)) || got != w {
			t.Fatalf("round trip of %+v gave %+v", w, got)
		}
	}
	var w Claims
	if w.decodeOwn([]byte(`{"iss":"a\"b","sub":"b","aud":"c","exp":1,"iat":1,"jti":"j","sec":"s"}`)) {
		t.Fatal("the fast decoder took an escape")
	}
}
