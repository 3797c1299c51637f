package token

import (
	"crypto/hmac"
	"crypto/sha256"
)

// fingerprintLen is the length of a fingerprint's keyed hash, in bytes.
const fingerprintLen = 12

// Fingerprint returns a keyed fingerprint of text a person typed that is
// not an identity, such as a link pasted into the address field: the
// verifier records it in the ledger instead of the text. The same text gives
// the same fingerprint under the same key, so repeated attempts can be told
// apart and grouped; the fingerprint holds nothing of the text, and nobody
// without the key can test a guess against it. It is keyed by a secret
// derived from the binding secret of the keyring's active key, whose id it
// names: "~" + key id + ":" + 16 base64url characters (96 bits).
func (p *Parser) Fingerprint(text string) string {
	k := p.keys.snapshot().active
	m := hmac.New(sha256.New, k.signer.fingerprint)
	m.Write([]byte(text))
	var sum [sha256.Size]byte
	return "~" + k.id + ":" + b64.EncodeToString(m.Sum(sum[:0])[:fingerprintLen])
}
