// Package mailscan reads a rendered mail message whole, as mail clients and
// browsers would, for the send guard (package guard): the recipients its
// header names and every oncelink token it carries, wherever a reader
// could find one.
//
// [Scan] is the entry point. It reads the header block with its own RFC
// 5322 reader ([SplitHeader], [Addresses]) rather than net/textproto's
// stricter rules, walks MIME parts with any legal boundary (nested and
// attached messages to a bounded depth), decodes transfer encodings as
// leniently as mail clients do, every charset browsers know (UTF-16
// included), and then each text in every form a reader could make of it:
// HTML markup and character references taken out, invisible characters
// dropped, percent-encoding and JavaScript or JSON escapes undone round
// after round, base64 inside links decoded. Tokens are found by their shape
// ([wire.Span]); the caller verifies them.
//
// # Security considerations
//
// The scanner fails closed. Whatever it cannot read whole, or that readers
// could read in different ways, is an error, never "not a header" or "not
// a part, skip": a header line that is not a field, a bare CR, a repeated
// Content-Type, an unknown transfer encoding or charset, a line that
// starts with a boundary delimiter and goes on, text that begins like an
// oncelink token but holds no whole one. Every limit ([Limits]) reached is
// an error too, and the total work for a message is bounded by a multiple
// of its size. Copies of one token count once, so that repeating a link
// cannot push another out of reach.
//
// Error messages name what was wrong, never the text that held it: no
// token reaches an error string.
//
// A fast path skips the decoded readings of a text that holds nothing
// they would decode (plain); FuzzPlain checks it against the careful path.
package mailscan
