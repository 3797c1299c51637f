package guard

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBlocked: the send guard refused an outgoing message. Every later
// message checked by the same guard is refused too, and the batch is
// frozen: stop the send and look at [BlockedError].
var ErrBlocked = errors.New("oncelink: outgoing message blocked")

// BlockedError describes a refused message. It matches [ErrBlocked].
type BlockedError struct {
	// Reason is a short code:
	//   - recipients: "bad recipient" (To, an envelope or header address
	//     that is not an address), "other recipient" (a message with a
	//     link names or is delivered to someone else as well);
	//   - reading: "unreadable header" (a header block the guard cannot
	//     read whole, or that readers could read differently),
	//     "unreadable part" (a part's structure, transfer encoding or
	//     charset the guard cannot read), "too large", "too many parts",
	//     "too deep", "too many links", "too many decodings" (a cap);
	//   - links: "foreign link" (bound to another recipient), "other
	//     member", "unbound link", "other batch", "duplicate link" (went
	//     out in another message), "no link", "broken link" (the start of
	//     a token that is not a whole, authentic one), "expired link";
	//   - "blocked" for a message checked after the guard blocked.
	Reason string
	// Recipient is the message's recipient.
	Recipient string
	// TokenID is the link at fault, if any.
	TokenID string
	// Batch is the batch that was frozen, if any.
	Batch string
	// Index is the position of the message in the CheckAll call.
	Index int
	// Err is the first refusal when Reason is "blocked", or why the batch
	// could not be frozen.
	Err error
}

// Error describes the refusal: reason, message, link and frozen batch.
func (e *BlockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oncelink: outgoing message blocked: %s (message %d to %s", e.Reason, e.Index, e.Recipient)
	if e.TokenID != "" {
		fmt.Fprintf(&b, ", link %s", e.TokenID)
	}
	b.WriteString(")")
	if e.Batch != "" {
		fmt.Fprintf(&b, "; batch %s frozen", e.Batch)
	}
	b.WriteString("; send nothing more from this guard")
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Unwrap returns the underlying error, if any.
func (e *BlockedError) Unwrap() error { return e.Err }
