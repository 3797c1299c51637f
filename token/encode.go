package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oncelink/oncelink/internal/wire"
)

// signer holds what a key needs to mint quickly: its JWT header, already
// encoded, and a pool of binding HMACs keyed once.
type signer struct {
	header      string // base64url of {"alg":...,"kid":...,"typ":...}, as golang-jwt encodes it
	method      jwt.SigningMethod
	binding     sync.Pool // hash.Hash keyed with the key's binding secret
	fingerprint []byte    // keys fingerprints of text that is not an identity
}

func newSigner(k *Key) *signer {
	s := &signer{method: jwt.SigningMethodHS256}
	if k.alg == EdDSA {
		s.method = jwt.SigningMethodEdDSA
	}
	s.header = wire.EncodeHeader(string(k.alg), k.id)
	secret := k.binding
	s.binding.New = func() any { return hmac.New(sha256.New, secret) }
	s.fingerprint = derive(secret, "oncelink fingerprint v1")
	return s
}

// bind computes a binding with a pooled HMAC: HMAC-SHA256 under the binding
// secret over "oncelink/v1/" kind 0 id 0 value, truncated to 128 bits.
func (s *signer) bind(kind Kind, id, value string) [bindingLen]byte {
	m := s.binding.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte("oncelink/v1/"))
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(value))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	s.binding.Put(m)
	var out [bindingLen]byte
	copy(out[:], sum[:])
	return out
}

// sign returns prefix followed by the signed token for w: the encoded
// header, the encoded claims, and the signature golang-jwt computes over
// them. The token is the part after prefix.
func (s *signer) sign(prefix string, w *wire.Claims, key any) (string, error) {
	var claims [512]byte
	cj := w.AppendJSON(claims[:0])
	n := len(prefix) + len(s.header) + 1 + b64.EncodedLen(len(cj))
	buf := make([]byte, n, n+1+b64.EncodedLen(64))
	copy(buf, prefix)
	copy(buf[len(prefix):], s.header)
	buf[len(prefix)+len(s.header)] = '.'
	b64.Encode(buf[len(prefix)+len(s.header)+1:], cj)
	sig, err := s.method.Sign(string(buf[len(prefix):]), key)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}
