package token

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
)

// Alg is a signature algorithm a key uses.
type Alg string

// The algorithms oncelink signs and verifies with. No other algorithm is
// ever accepted, "none" included.
const (
	// HS256 is HMAC-SHA256 with a shared secret of at least 32 bytes: the
	// same key mints and verifies.
	HS256 Alg = "HS256"
	// EdDSA is Ed25519: the private key mints, the public key verifies, so a
	// verifying service cannot mint.
	EdDSA Alg = "EdDSA"
)

// MinHMACKeyLen is the shortest HS256 secret accepted, in bytes.
const MinHMACKeyLen = 32

// bindingKeyLen is the length of a key's binding secret, in bytes.
const bindingKeyLen = 32

// Key is one signing or verifying key with its id. Keys are immutable. A
// Key never prints its secret: String, every fmt verb and slog show only
// its id and algorithm.
type Key struct {
	id      string
	alg     Alg
	hmac    []byte
	priv    ed25519.PrivateKey
	pub     ed25519.PublicKey
	binding []byte // keys the identity bindings of the tokens it signs
	signer  *signer
}

// NewHMACKey returns an HS256 key. The secret must be at least
// [MinHMACKeyLen] bytes and not visibly non-random (a single repeated byte,
// or fewer than 8 distinct byte values); it is copied.
func NewHMACKey(id string, secret []byte) (*Key, error) {
	if err := validKeyID(id); err != nil {
		return nil, err
	}
	if err := strongEnough(secret); err != nil {
		return nil, err
	}
	k := &Key{id: id, alg: HS256, hmac: slices.Clone(secret)}
	k.binding = derive(secret, "oncelink binding v1")
	k.signer = newSigner(k)
	return k, nil
}

// GenerateHMACKey returns an HS256 key with a new random 32-byte secret.
func GenerateHMACKey(id string) (*Key, error) {
	secret := make([]byte, MinHMACKeyLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return NewHMACKey(id, secret)
}

// NewEd25519Key returns an EdDSA key that signs and verifies.
func NewEd25519Key(id string, priv ed25519.PrivateKey) (*Key, error) {
	if err := validKeyID(id); err != nil {
		return nil, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: ed25519 private key must be %d bytes", ErrWeakKey, ed25519.PrivateKeySize)
	}
	seed := priv.Seed()
	if err := strongEnough(seed); err != nil {
		return nil, err
	}
	p := slices.Clone(priv)
	k := &Key{id: id, alg: EdDSA, priv: p, pub: p.Public().(ed25519.PublicKey), binding: derive(seed, "oncelink binding v1")}
	k.signer = newSigner(k)
	return k, nil
}

// GenerateEd25519Key returns an EdDSA key with a new random key pair.
func GenerateEd25519Key(id string) (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewEd25519Key(id, priv)
}

// NewEd25519VerifyKey returns an EdDSA key that verifies but cannot sign,
// for a service that consumes links but must not mint them. binding is the
// signing key's [Key.BindingSecret]: it lets the verifier check the identity
// bindings of a token without being able to forge its signature.
func NewEd25519VerifyKey(id string, pub ed25519.PublicKey, binding []byte) (*Key, error) {
	if err := validKeyID(id); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: ed25519 public key must be %d bytes", ErrWeakKey, ed25519.PublicKeySize)
	}
	if len(binding) != bindingKeyLen {
		return nil, fmt.Errorf("%w: binding secret must be %d bytes", ErrWeakKey, bindingKeyLen)
	}
	if err := strongEnough(binding); err != nil {
		return nil, err
	}
	k := &Key{id: id, alg: EdDSA, pub: slices.Clone(pub), binding: slices.Clone(binding)}
	k.signer = newSigner(k)
	return k, nil
}

// ID returns the key id, as it appears in a token's "kid" header.
func (k *Key) ID() string { return k.id }

// Alg returns the key's algorithm.
func (k *Key) Alg() Alg { return k.alg }

// canSign reports whether the key can mint tokens.
func (k *Key) canSign() bool { return k.hmac != nil || k.priv != nil }

// PublicKey returns the Ed25519 public key of an EdDSA key, nil for HS256.
func (k *Key) PublicKey() ed25519.PublicKey { return slices.Clone(k.pub) }

// BindingSecret returns the secret that keys the identity bindings of the
// tokens this key signs. Give it, with [Key.PublicKey], to a verify-only
// service ([NewEd25519VerifyKey]); keep it as secret as a signing key.
func (k *Key) BindingSecret() []byte { return slices.Clone(k.binding) }

// VerifyOnly returns the verify-only form of an EdDSA key. An HS256 key
// has no verify-only form: its secret both signs and verifies.
func (k *Key) VerifyOnly() (*Key, error) {
	if k.alg != EdDSA {
		return nil, fmt.Errorf("%w: an %s key has no verify-only form", ErrKeyring, k.alg)
	}
	return NewEd25519VerifyKey(k.id, k.pub, k.binding)
}

// String describes the key without its secret.
func (k Key) String() string {
	mode := "verify"
	if k.canSign() {
		mode = "sign"
	}
	return fmt.Sprintf("token.Key{id: %q, alg: %s, %s}", k.id, k.alg, mode)
}

// Format prints [Key.String] for every verb, so that no verb prints the secret.
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue logs the key's id and algorithm only.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.id), slog.String("alg", string(k.alg)))
}

func (k *Key) verifyKey() any {
	if k.alg == HS256 {
		return k.hmac
	}
	return k.pub
}

func (k *Key) signKey() any {
	if k.alg == HS256 {
		return k.hmac
	}
	return k.priv
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func strongEnough(secret []byte) error {
	if len(secret) < MinHMACKeyLen {
		return fmt.Errorf("%w: %d bytes, need at least %d", ErrWeakKey, len(secret), MinHMACKeyLen)
	}
	var seen [256]bool
	distinct := 0
	for _, b := range secret {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < 8 {
		return fmt.Errorf("%w: only %d distinct byte values; use random bytes", ErrWeakKey, distinct)
	}
	return nil
}

// maxKeyIDLen bounds a key id.
const maxKeyIDLen = 64

func validKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("%w: key id must be 1 to %d characters", ErrKeyring, maxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: key id may use only letters, digits, '-', '_' and '.'", ErrKeyring)
		}
	}
	return nil
}

// Keyring holds the keys of an issuer or verifier: one active key that
// signs new tokens, and older keys that still verify until they are
// removed. Tokens name their key by id ("kid"); a token whose key is not in
// the ring is refused, and no other key is tried.
//
// A Keyring is safe for concurrent use. Rotate and Remove take effect for
// every Issuer and Verifier that uses the ring, on their next token.
type Keyring struct {
	mu  sync.Mutex // serializes changes; readers use cur
	cur atomic.Pointer[ring]
}

type ring struct {
	active  *Key
	keys    map[string]*Key
	headers map[string]*Key // a key's encoded JWT header, as oncelink writes it
	algs    []string
}

// NewKeyring returns a keyring with an active key and older keys that
// still verify. Key ids must be unique.
func NewKeyring(active *Key, older ...*Key) (*Keyring, error) {
	if active == nil {
		return nil, fmt.Errorf("%w: no active key", ErrKeyring)
	}
	r := &ring{active: active, keys: map[string]*Key{active.id: active}}
	for _, k := range older {
		if k == nil {
			return nil, fmt.Errorf("%w: nil key", ErrKeyring)
		}
		if _, dup := r.keys[k.id]; dup {
			return nil, fmt.Errorf("%w: duplicate key id %q", ErrKeyring, k.id)
		}
		r.keys[k.id] = k
	}
	r.index()
	kr := &Keyring{}
	kr.cur.Store(r)
	return kr, nil
}

func (r *ring) index() {
	r.algs = r.algs[:0]
	r.headers = make(map[string]*Key, len(r.keys))
	for _, k := range r.keys {
		r.headers[k.signer.header] = k
		if !slices.Contains(r.algs, string(k.alg)) {
			r.algs = append(r.algs, string(k.alg))
		}
	}
	slices.Sort(r.algs)
}

func (r *ring) clone() *ring {
	c := &ring{active: r.active, keys: make(map[string]*Key, len(r.keys)+1)}
	for id, k := range r.keys {
		c.keys[id] = k
	}
	return c
}

// Rotate makes k the active key. The previous active key stays in the ring
// and keeps verifying the tokens it signed until it is removed.
func (kr *Keyring) Rotate(k *Key) error {
	if k == nil {
		return fmt.Errorf("%w: nil key", ErrKeyring)
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	r := kr.cur.Load().clone()
	if _, dup := r.keys[k.id]; dup {
		return fmt.Errorf("%w: key id %q is already in the ring", ErrKeyring, k.id)
	}
	r.keys[k.id] = k
	r.active = k
	r.index()
	kr.cur.Store(r)
	return nil
}

// Remove takes a key out of the ring: tokens it signed are refused from
// then on. The active key cannot be removed; rotate first.
func (kr *Keyring) Remove(id string) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	r := kr.cur.Load().clone()
	if _, ok := r.keys[id]; !ok {
		return fmt.Errorf("%w: no key %q in the ring", ErrKeyring, id)
	}
	if r.active.id == id {
		return fmt.Errorf("%w: key %q is active; rotate to another key before removing it", ErrKeyring, id)
	}
	delete(r.keys, id)
	r.index()
	kr.cur.Store(r)
	return nil
}

// ids returns the ids of every key in the ring, sorted.
func (kr *Keyring) ids() []string {
	r := kr.cur.Load()
	ids := make([]string, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (kr *Keyring) snapshot() *ring { return kr.cur.Load() }
