// Package wire is the shape of an oncelink token on the wire, defined once
// for the package that writes and reads tokens (token) and the reader that
// finds them in mail (internal/mailscan): the header a key writes
// ([EncodeHeader]), the claims and their exact JSON ([Claims],
// [Claims.AppendJSON]), the strict decoder that reads both
// ([DecodeHeader], [Claims.UnmarshalJSON]), and the shape of a whole token
// in text ([Shape], [Span], [IsToken]).
//
// Nothing here verifies a signature or a claim: package token does, after
// [Shape] and before any decoding.
//
// # Security considerations
//
// Header and claims are read by one strict decoder, on golang-jwt's path
// and the send guard's alike: a JSON object whose names are exactly those
// oncelink writes, in exactly their case, each at most once, with scalar
// values. encoding/json alone would match names in any case, keep the last
// of two equal names, and ignore unknown ones, so that two readers could
// see two tokens in one. Input is bounded ([MaxTokenLen]) and its alphabet
// checked before anything is decoded. Errors name what was wrong, never
// the text that held it.
package wire
