package flow

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// TestRequestLimitsAcrossInstances: two instances of a site, each with its
// own verifier and request flow, share one store; the limits per address
// and per client address hold across them, on every store.
func TestRequestLimitsAcrossInstances(t *testing.T) {
	key, err := token.GenerateHMACKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	many := append([]Addressee(nil), directory...)
	for i := 0; i < 8; i++ {
		many = append(many, Addressee{Member: fmt.Sprint("m-x", i), Recipient: fmt.Sprintf("x%d@example.org", i)},
			Addressee{Member: fmt.Sprint("m-y", i), Recipient: fmt.Sprintf("y%d@example.org", i)})
	}
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			one, two := setup(t, key, st), setup(t, key, st)
			two.clk.t = one.clk.t
			m := &testMailer{}
			limits := func(c *requestConfig) {
				c.PerAddress, c.PerClient = Limit{N: 3, Window: time.Hour}, Limit{N: 5, Window: time.Hour}
				c.Lookup = lookupIn(many)
			}
			flows := []*Requests{requestFlow(t, one, m, limits), requestFlow(t, two, m, limits)}
			// One address from many clients: three links, whichever instance answers.
			for i := 0; i < 8; i++ {
				if resp, _ := ask(flows[i%2], "ann@example.org", fmt.Sprint("198.51.100.", i+1), nil); resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d: %d", i, resp.StatusCode)
				}
			}
			// One client asking for many addresses: five links.
			for i := 0; i < 8; i++ {
				ask(flows[i%2], fmt.Sprintf("x%d@example.org", i), "203.0.113.9", nil)
			}
			// An IPv6 client is counted by its /64.
			for i := 0; i < 8; i++ {
				ask(flows[i%2], fmt.Sprintf("y%d@example.org", i), fmt.Sprintf("2001:db8:1:2::%x", i+1), nil)
			}
			for _, rf := range flows {
				closeFlow(t, rf)
			}
			if n := m.to("ann@example.org"); n != 3 {
				t.Fatalf("ann got %d links from eight requests across two instances, want 3", n)
			}
			for _, p := range []string{"x", "y"} {
				n := 0
				for i := 0; i < 8; i++ {
					n += m.to(fmt.Sprintf("%s%d@example.org", p, i))
				}
				if n != 5 {
					t.Fatalf("one client got %d links sent to %s-addresses across two instances, want 5", n, p)
				}
			}
			for _, s := range m.all() {
				l := linkIn.FindString(string(s.raw))
				if _, err := one.v.Peek(ctx, loginRequest(l, verify.Identity{})); err != nil {
					t.Fatalf("a link sent to %s: %v", s.to.Recipient, err)
				}
			}
		})
	}
}
