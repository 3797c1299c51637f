package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

// referenceBinding is the definition of a binding, written plainly.
func referenceBinding(key []byte, kind Kind, id, value string) [bindingLen]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("oncelink/v1/" + string(kind) + "\x00" + id + "\x00" + value))
	var out [bindingLen]byte
	copy(out[:], m.Sum(nil))
	return out
}

func TestBindMatchesDefinition(t *testing.T) {
	k := hmacKey(t, "k")
	for _, v := range []string{"", "ann@example.org", "10442", strings.Repeat("x", 300)} {
		if k.signer.bind(KindEmail, "id-1", v) != referenceBinding(k.binding, KindEmail, "id-1", v) {
			t.Fatalf("binding of %q differs from its definition", v)
		}
	}
}
