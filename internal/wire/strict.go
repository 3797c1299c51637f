package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// A token's header and claims are read by one strict decoder, on
// golang-jwt's path (token.Parser.Parse, where golang-jwt calls
// [Claims.UnmarshalJSON]) and on the send guard's (token.Parser.Inspect)
// alike:
// a JSON object whose names are exactly those oncelink writes, in exactly
// their case, each at most once, with scalar values. encoding/json alone
// would match names in any case, keep the last of two equal names, and
// ignore unknown ones, so that two readers could see two tokens in one.

// ErrStrict is the cause of every refusal of the strict decoder.
var ErrStrict = errors.New("not an object with oncelink's names")

// headerNames and claimNames are the names the decoder accepts.
var (
	headerNames = map[string]bool{"alg": true, "kid": true, "typ": true}
	claimNames  = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "iat": true,
		"jti": true, "bat": true, "sec": true, "rcp": true, "mno": true}
)

// decodeObject reads b as one JSON object whose names are in names, each
// at most once, with scalar values, and calls set for each member: a
// string, a json.Number, a bool or nil. Nothing may follow the object but
// white space.
func decodeObject(b []byte, names map[string]bool, set func(name string, v any) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ErrStrict
	}
	seen := make(map[string]bool, len(names))
	for dec.More() {
		t, err := dec.Token()
		name, ok := t.(string)
		if err != nil || !ok || !names[name] || seen[name] {
			return ErrStrict
		}
		seen[name] = true
		v, err := dec.Token()
		if err != nil {
			return ErrStrict
		}
		if _, delim := v.(json.Delim); delim {
			return ErrStrict
		}
		if err := set(name, v); err != nil {
			return err
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return ErrStrict
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrStrict
	}
	return nil
}

// Header is the JOSE header of an oncelink token.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// DecodeHeader reads a token's JOSE header strictly. A value of another
// type than a string leaves its field empty, for the checks after it to
// refuse as they would refuse it missing.
func DecodeHeader(hb []byte) (Header, error) {
	var h Header
	err := decodeObject(hb, headerNames, func(name string, v any) error {
		s, _ := v.(string)
		switch name {
		case "alg":
			h.Alg = s
		case "kid":
			h.Kid = s
		case "typ":
			h.Typ = s
		}
		return nil
	})
	if err != nil {
		return Header{}, err
	}
	return h, nil
}

// UnmarshalJSON decodes the claims strictly: the fast path of oncelink's own
// layout, else the general path with the claim names. Times are integers;
// strings are strings.
func (w *Claims) UnmarshalJSON(b []byte) error {
	var fast Claims
	if fast.decodeOwn(b) {
		*w = fast
		return nil
	}
	return w.decodeStrict(b)
}

// decodeStrict is the general path of [Claims.UnmarshalJSON].
func (w *Claims) decodeStrict(b []byte) error {
	var out Claims
	err := decodeObject(b, claimNames, func(name string, v any) error {
		switch name {
		case "exp", "iat":
			n, ok := v.(json.Number)
			if !ok {
				return ErrStrict
			}
			i, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return ErrStrict
			}
			if name == "exp" {
				out.Exp = i
			} else {
				out.Iat = i
			}
			return nil
		}
		s, ok := v.(string)
		if !ok {
			return ErrStrict
		}
		*out.field(name) = s
		return nil
	})
	if err != nil {
		return err
	}
	*w = out
	return nil
}

// field returns the string field of a claim name.
func (w *Claims) field(name string) *string {
	switch name {
	case "iss":
		return &w.Iss
	case "sub":
		return &w.Sub
	case "aud":
		return &w.Aud
	case "jti":
		return &w.Jti
	case "bat":
		return &w.Bat
	case "sec":
		return &w.Sec
	case "rcp":
		return &w.Rcp
	}
	return &w.Mno
}
