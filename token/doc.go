// Package token mints oncelink's single-use, member-bound login links and
// parses them back.
//
// The recommended path: make a [Keyring] from a key (an HS256 secret of at
// least 32 random bytes, or an Ed25519 key pair), make an [Issuer] with the
// site's base URL and a store, and [Issuer.Mint] a link for a member and a
// purpose. The link is recorded in the store before Mint returns it. The
// verify package checks and consumes links; it builds on [Parser], which
// [Issuer.Parser] returns configured to match the issuer.
//
//	keys, _ := token.NewKeyring(key)
//	iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
//	link, err := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org"})
//
// For a bulk send, [Issuer.MintBatch] records every link of a batch in one
// store call, all or nothing, and [Issuer.MintStream] does the same in
// chunks for any number of members in bounded memory.
//
// # The token
//
// A token is a JWT signed through golang-jwt/v5: header "typ" is
// [TokenType] and "kid" names the key; claims are "iss" (the issuer name),
// "aud" (the purpose), "sub" (the member id), "iat", "exp" (mandatory,
// at most [HardMaxTTL] after "iat"), "jti" (a UUIDv7, the store's key),
// "bat" (the batch id, when minted in a batch), "sec" (a random 256-bit
// secret; the store keeps only its SHA-256 hash), and the identity bindings
// "rcp" (recipient email) and "mno" (member number). A binding is an HMAC,
// under a secret derived from the signing key, of the canonical identity and
// the token id: whoever reads a token learns nothing about the address, and
// only a holder of the key can check a guess.
//
// # Security considerations
//
// Parsing is strict and bounded: input is capped ([MaxInputLen],
// [MaxTokenLen]) and its shape checked before any decoding; only HS256 and
// EdDSA are accepted, and a token's algorithm must be its key's; the key is
// found by "kid" alone, never by trying keys; the signature is checked
// before any claim, so a token that is both forged and expired is refused as
// forged ([ErrSignature]); "typ", "iss", "aud", "exp", "iat" and the
// lifetime are then required and checked.
//
// A [Link] holds a secret: String, %v, %#v and slog print its id, member,
// purpose and batch, never its URL or token. A [Key] never prints its
// secret. Errors never contain token material.
//
// Links are built from the configured base URL, never from a request's
// Host header, and must use https except on loopback hosts.
//
// # Key rotation
//
// [Keyring.Rotate] makes a new key active; the old key keeps verifying the
// links it signed until [Keyring.Remove] takes it out, after which they are
// refused with [ErrSignature]. Rotate, wait for the longest link lifetime,
// then remove. For issuer/verifier separation use EdDSA: the verifier gets
// [NewEd25519VerifyKey] with the public key and the binding secret, and
// cannot mint.
//
// # Backwards compatibility
//
// The token format is versioned by [TokenType] and by the binding label
// "oncelink/v1/": a new format will use new values, and parsers will accept
// the old one for at least one major version.
package token
