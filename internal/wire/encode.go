package wire

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// EncodeHeader returns the encoded header of a token signed by key id with
// alg ("HS256" or "EdDSA"): the JSON golang-jwt writes, its fields sorted
// by name, in base64url.
func EncodeHeader(alg, id string) string {
	hb, _ := json.Marshal(map[string]string{"alg": alg, "kid": id, "typ": TokenType})
	return base64.RawURLEncoding.EncodeToString(hb)
}

// AppendJSON appends the claims as JSON, with the fields in the order
// encoding/json writes them, without reflection.
func (w *Claims) AppendJSON(b []byte) []byte {
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, w.Iss)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, w.Sub)
	b = append(b, `,"aud":`...)
	b = appendJSONString(b, w.Aud)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, w.Exp, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, w.Iat, 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, w.Jti)
	if w.Bat != "" {
		b = append(b, `,"bat":`...)
		b = appendJSONString(b, w.Bat)
	}
	b = append(b, `,"sec":`...)
	b = appendJSONString(b, w.Sec)
	if w.Rcp != "" {
		b = append(b, `,"rcp":`...)
		b = appendJSONString(b, w.Rcp)
	}
	if w.Mno != "" {
		b = append(b, `,"mno":`...)
		b = appendJSONString(b, w.Mno)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does: quotes, backslashes, control characters, <, >, &, U+2028, U+2029,
// and invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeOwn decodes claims laid out exactly as AppendJSON writes them, with
// no escaped character, and reports whether it could; anything else (other
// field order, escapes, white space, unknown fields) is left to
// encoding/json, which decodes such input to the same values.
func (w *Claims) decodeOwn(b []byte) bool {
	p := b
	lit := func(s string) bool {
		if len(p) < len(s) || string(p[:len(s)]) != s {
			return false
		}
		p = p[len(s):]
		return true
	}
	str := func(dst *string) bool {
		if len(p) == 0 || p[0] != '"' {
			return false
		}
		for i := 1; i < len(p); i++ {
			switch c := p[i]; {
			case c == '"':
				if !utf8.Valid(p[1:i]) {
					return false
				}
				*dst = string(p[1:i])
				p = p[i+1:]
				return true
			case c == '\\' || c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0xe2:
				// Escapes, and the bytes AppendJSON would have escaped
				// (0xe2 starts U+2028 and U+2029): encoding/json's job.
				return false
			}
		}
		return false
	}
	num := func(dst *int64) bool {
		i := 0
		for i < len(p) && i < 19 && '0' <= p[i] && p[i] <= '9' {
			i++
		}
		if i == 0 || i < len(p) && '0' <= p[i] && p[i] <= '9' || p[0] == '0' && i > 1 {
			return false
		}
		v, err := strconv.ParseInt(string(p[:i]), 10, 64)
		if err != nil {
			return false
		}
		*dst = v
		p = p[i:]
		return true
	}
	opt := func(name string, dst *string) bool {
		if len(p) > len(name) && string(p[:len(name)]) == name {
			p = p[len(name):]
			return str(dst) && *dst != ""
		}
		return true
	}
	ok := lit(`{"iss":`) && str(&w.Iss) && lit(`,"sub":`) && str(&w.Sub) && lit(`,"aud":`) && str(&w.Aud) &&
		lit(`,"exp":`) && num(&w.Exp) && lit(`,"iat":`) && num(&w.Iat) && lit(`,"jti":`) && str(&w.Jti) &&
		opt(`,"bat":`, &w.Bat) && lit(`,"sec":`) && str(&w.Sec) && opt(`,"rcp":`, &w.Rcp) && opt(`,"mno":`, &w.Mno) &&
		lit("}") && len(p) == 0
	return ok
}
