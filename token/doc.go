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
// [NewIssuer] takes [IssuerOption]s and [NewParser] and [Issuer.Parser]
// take [ParserOption]s; an [Option] ([WithIssuer], [WithParam],
// [WithMaxTTL], [WithClock], [WithLogger]) is both, for what an issuer and
// its parser must agree on. An option given to the other constructor does
// not compile.
//
// # Lifetimes
//
// A link a member asks for ([Issuer.Mint]) lives [DefaultTTL], 15 minutes:
// an out-of-band login should complete within minutes (NIST SP 800-63B
// 5.1.3.2; OWASP ASVS 2.7.2 asks for 10 minutes: set [WithTTL] to follow
// it). A link sent unprompted in a batch ([Issuer.MintBatch],
// [Issuer.MintStream]) lives [DefaultBatchTTL], 24 hours, since its member
// reads it when they read their mail ([WithBatchTTL]). No link lives longer
// than the maximum, [DefaultMaxTTL] unless [WithMaxTTL] sets it: a lower
// maximum caps both defaults, and the issuer's parser refuses anything
// longer.
//
// # The token
//
// A token is a JWT signed through golang-jwt/v5: header "typ" is
// "oncelink+jwt" and "kid" names the key; claims are "iss" (the issuer name),
// "aud" (the purpose), "sub" (the member id), "iat", "exp" (mandatory,
// at most 30 days after "iat"), "jti" (a UUIDv7, the store's key),
// "bat" (the batch id, when minted in a batch), "sec" (a random 256-bit
// secret; the store keeps only its SHA-256 hash), and the identity bindings
// "rcp" (recipient email) and "mno" (member number). A binding is an HMAC,
// under a secret derived from the signing key, of the canonical identity and
// the token id: whoever reads a token learns nothing about the address, and
// only a holder of the key can check a guess.
//
// A token is signed, not encrypted. Whoever sees a link (in a mailbox, a
// forwarded message, a proxy log) can decode its claims from base64url and
// read, in clear, the member id, the batch id, the purpose, the issuer, the
// token id and its issue and expiry times. The secret proves nothing
// without the record, and the recipient address and member number travel
// only as bindings. Choose member and batch ids that reveal nothing a
// stranger should not learn from a mis-sent link (an opaque id, not an
// email address or a name).
//
// Header and claims are read by one strict decoder on golang-jwt's path
// ([Parser.Parse]) and the send guard's ([Parser.Inspect]) alike: exactly
// the names oncelink writes ("alg", "kid", "typ"; the claims above), in
// exactly their case, each at most once, nothing else, so that two readers
// never see two different tokens in one.
//
// # Identities
//
// [CanonicalEmail] joins what is one mailbox and never what may be two: it
// normalises to Unicode NFC (an address typed with decomposed letters is the
// address), case-folds the domain, lower-cases only the ASCII letters of the
// local part (a Unicode local part may be case-sensitive, and Unicode case
// mapping joins distinct characters), and refuses a local part with a
// character NFC replaces by another, such as the Kelvin sign. Member and
// batch ids are visible text: blank ids, surrounding white space and
// invisible or format characters (U+200B, U+202E, U+FEFF...) are refused, so
// that two ids an operator cannot tell apart never name two members.
// [Parser.Fingerprint] turns text typed in place of an identity into a keyed
// fingerprint, for the ledger.
//
// # Security considerations
//
// Parsing is strict and bounded: input is capped (4 KiB for a link, 2 KiB
// for a bare token) and its shape checked before any decoding; only HS256 and
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
// The token format is versioned by its type, "oncelink+jwt", and by the
// binding label "oncelink/v1/": a new format will use new values, and
// parsers will accept the old one for at least one major version.
package token
