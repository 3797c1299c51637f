package verify

import (
	"errors"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// FuzzConsume presents arbitrary links and identities. Nothing is accepted
// unless it is the minted link presented with its owner's identity, every
// refusal is classified, and a refusal never consumes the link.
func FuzzConsume(f *testing.F) {
	fx := setup(f, nil, nil, WithoutBreaker(), WithMaxFailures(100), WithMemberLimit(10000, time.Minute))
	l := fx.mint(f, ann)
	f.Add(l.URL, "ann@example.org", "", "")
	f.Add(l.Token, "", "10442", "m-17")
	f.Add(l.URL, "bob@example.org", "1", "x")
	f.Add("https://x/?t=a.b.c", "", "", "")
	f.Add(l.URL+"&t=x", "ann@example.org", "", "")
	f.Fuzz(func(t *testing.T, link, email, number, member string) {
		res, err := fx.v.Peek(ctx, Request{Link: link, Purpose: token.PurposeLogin, Identity: Identity{Email: email, Number: number, Member: member}})
		if err != nil {
			if Reason(err) == "" || res != nil {
				t.Fatalf("unclassified refusal %v", err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Fatalf("the memory store became unavailable: %v", err)
			}
		} else if res.Claims.ID != l.Claims.ID {
			t.Fatalf("accepted a link that was never minted: %q", link)
		} else if email != "" || number != "" || member != "" {
			if res.Identity == "" {
				t.Fatal("accepted an identity without saying which")
			}
		}
		rec, gerr := fx.st.Get(ctx, l.Claims.ID)
		if gerr != nil || rec.Status == store.StatusConsumed {
			t.Fatalf("Peek changed the link: %+v %v", rec, gerr)
		}
	})
}
