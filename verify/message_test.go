package verify

import (
	"testing"

	"github.com/oncelink/oncelink/store"
)

// TestMessage: the words for each refusal.
func TestMessage(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrMismatch, MessageCheckAddress},
		{ErrIdentityRequired, MessageCheckAddress},
		{ErrFrozen, MessageLater},
		{ErrThrottled, MessageLater},
		{ErrUnavailable, MessageLater},
		{fromStore(store.ErrFrozen), MessageLater},
		{ErrUsed, GenericMessage},
		{ErrRevoked, GenericMessage},
		{ErrExpired, GenericMessage},
		{ErrNotFound, GenericMessage},
		{ErrStale, GenericMessage},
		{ErrMalformed, GenericMessage},
		{ErrSignature, GenericMessage},
		{ErrClaims, GenericMessage},
		{ErrPurpose, GenericMessage},
		{fromStore(store.ErrUsed), GenericMessage},
	}
	for _, c := range cases {
		if got := Message(c.err); got != c.want {
			t.Errorf("Message(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
