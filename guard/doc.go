// Package guard is the send guard: it reads every rendered message whole
// before it leaves and refuses the send when a link would reach anyone but
// its member.
//
// The recommended path: mint a batch, render its messages, and check them
// all with one [Guard] before any is sent, so that a mis-rendered batch
// sends nothing:
//
//	p, _ := iss.Parser()
//	links, _ := iss.MintBatch(ctx, batch, reqs)
//	g, _ := guard.New(p, st, guard.WithBatch(batch))
//	mails := make([]guard.Mail, len(links))
//	for i, l := range links {
//		mails[i] = guard.Mail{To: l.Recipient, Member: l.Claims.Member, Raw: render(l)}
//	}
//	if err := g.CheckAll(ctx, mails); err != nil {
//		return err // a *guard.BlockedError: nothing was sent, the batch is frozen
//	}
//	// send exactly the bytes that were checked
//
// [Guard.CheckAll] refuses the batch, freezes it and records the refusal,
// unless each message may go:
//
//   - A message that carries a link has exactly one recipient, and it is
//     the link's: every address in To, Cc, Bcc, Resent-To, Resent-Cc,
//     Resent-Bcc (and the delivery fields Delivered-To, X-Original-To,
//     Envelope-To, Apparently-To), every address a reader could see in
//     their display names and comments, and every envelope recipient in
//     [Mail.Envelope] must be [Mail.To]. The header block is read by the
//     guard's own RFC 5322 reader (any printable field name, folded lines,
//     groups, comments, encoded-words); a header block it cannot read whole
//     or that readers could read differently (a bare CR, a first line that
//     is a continuation or an mbox From line, white space before a colon,
//     a source route, an encoded-word inside an address) is refused.
//   - A [Mail.Raw] that starts with an empty line, or whose first line is
//     not a header field (a name of printable ASCII and a colon), is a body
//     without a header block, which the mailer heads itself; one that
//     holds MIME part headers is refused, since without the header block
//     nobody can tell how its parts are decoded. A body whose first line
//     reads like a field ("Note: ...") must start with an empty line.
//   - The guard decodes what a mail client or a browser decodes before it
//     looks for links: MIME parts with any legal boundary, nested and
//     attached messages; quoted-printable and base64 as leniently as mail
//     clients (characters outside the alphabet ignored, padding mid-way);
//     every charset browsers know, UTF-16 included, byte order marks and
//     UTF-16 labelled otherwise; HTML markup, comments and character
//     references; invisible characters (soft hyphens, zero-width spaces and
//     joiners); percent-encoding, JavaScript and JSON escapes, round after
//     round; base64 inside links (redirect wrappers); encoded-words in
//     every header field. A transfer encoding or charset it does not know
//     (UTF-7, uuencode) is refused.
//   - Every oncelink token found must verify, be bound to the recipient
//     (and to [Mail.Member], and be of the guard's batch, [WithBatch]), and
//     go out in no other message; text that begins like an oncelink token
//     but is not a whole one is refused. Copies of one link count once:
//     they never hide another link.
//   - A cap reached is a refusal, never a reason to stop reading: 25 MiB a
//     message, 256 MIME entities, 8 levels of nesting, 64 distinct links, 8
//     decodings of one text, and a bound on the total work for a message of
//     its size.
//
// [BlockedError.Reason] says why a message was refused. The check needs no
// store round trip: the store is written only to freeze and record.
//
// # Security considerations
//
// The guard fails closed: whatever it cannot read whole, parse or decide
// is a refusal, and a refusal is sticky: every later message checked by
// the same guard is refused with [ErrBlocked] too, so a mailer that ignores
// one error cannot carry on sending. Checking is the guard's; sending the
// very bytes it checked is the mailer's: render once, check, and hand
// those bytes to SMTP.
//
// A [Mail] prints and logs without its content, which carries links; a
// [BlockedError] names a link by token id, never by token. The corpora in
// testdata (hostile messages, each refused; honest ones, each passed) are
// read by Python's email package too, and the guard must find every
// recipient, text and token Python finds.
package guard
