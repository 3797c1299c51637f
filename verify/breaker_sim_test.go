package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/token"
)

// The simulation mails 18,000 links in one batch and plays clicks on a
// simulated clock: members open their message at times drawn from a
// front-loaded distribution (most within minutes of the send, the rest
// over the hour), some never do. Run it with -v for its figures.
const (
	simMembers   = 18000
	simClickRate = 0.85             // share of members who open the link
	simMeanDelay = 10 * time.Minute // mean delay between the send and a click
	simHorizon   = time.Hour
)

type simClick struct {
	at     time.Duration // after the send
	member int           // who clicks
	link   int           // whose link they click
	device int           // 0 or 1: a second device is another client
	typed  string        // the address they type
}

func simAddress(i int) string { return fmt.Sprintf("member%05d@example.org", i) }

// simTypo returns a typing error of addr: two neighbouring characters
// swapped, one dropped, or one doubled.
func simTypo(rng *rand.Rand, addr string) string {
	for {
		b := []byte(addr)
		i := 1 + rng.IntN(len(b)-2)
		switch rng.IntN(3) {
		case 0:
			b[i], b[i+1] = b[i+1], b[i]
		case 1:
			b = append(b[:i], b[i+1:]...)
		default:
			b = append(b[:i+1], b[i:]...)
		}
		if s := string(b); s != addr {
			return s
		}
	}
}

func simDelay(rng *rand.Rand, mean time.Duration) (time.Duration, bool) {
	d := time.Duration(rng.ExpFloat64() * float64(mean))
	return d, d < simHorizon
}

// honestClicks: every member opens their own link. 2% type their address
// wrong first (a tenth of those twice) and then right; 5% open the link
// again later on the same device, after logging in; 5% open it on a second
// device as well, typing with the same 2% error rate.
func honestClicks(rng *rand.Rand) []simClick {
	var cs []simClick
	typeOnce := func(at time.Duration, m, device int) []simClick {
		var out []simClick
		if rng.Float64() < 0.02 {
			out = append(out, simClick{at, m, m, device, simTypo(rng, simAddress(m))})
			at += time.Duration(5+rng.IntN(25)) * time.Second
			if rng.Float64() < 0.1 {
				out = append(out, simClick{at, m, m, device, simTypo(rng, simAddress(m))})
				at += time.Duration(5+rng.IntN(25)) * time.Second
			}
		}
		return append(out, simClick{at, m, m, device, simAddress(m)})
	}
	for m := 0; m < simMembers; m++ {
		if rng.Float64() >= simClickRate {
			continue
		}
		at, ok := simDelay(rng, simMeanDelay)
		if !ok {
			continue
		}
		cs = append(cs, typeOnce(at, m, 0)...)
		if rng.Float64() < 0.05 {
			cs = append(cs, typeOnce(at+time.Duration(60+rng.IntN(1800))*time.Second, m, 0)...)
		}
		if rng.Float64() < 0.05 {
			cs = append(cs, typeOnce(at+time.Duration(10+rng.IntN(120))*time.Second, m, 1)...)
		}
	}
	return cs
}

// incidentClicks: the mailer reused its message across each group of ten,
// so all ten members of a group received the first member's link, and each
// types their own address.
func incidentClicks(rng *rand.Rand, mean time.Duration) []simClick {
	var cs []simClick
	for m := 0; m < simMembers; m++ {
		if rng.Float64() >= simClickRate {
			continue
		}
		if at, ok := simDelay(rng, mean); ok {
			cs = append(cs, simClick{at, m, m - m%10, 0, simAddress(m)})
		}
	}
	return cs
}

type simResult struct {
	trips      []Trip
	tripAt     time.Duration // simulated time of the first freeze, after the first click
	clicks     int
	mismatches int // mismatches on links that were still consumable
	logins     int
	// The most links with mismatches, and shared links, the breaker
	// counted in its window at any moment.
	peakLinks, peakShared int
}

// simulate plays clicks against a new verifier with the default breaker.
func simulate(t *testing.T, clicks []simClick, stopAtTrip bool) simResult {
	t.Helper()
	var (
		mu  sync.Mutex
		res simResult
	)
	f := setup(t, nil, nil, WithBreaker(Breaker{OnTrip: func(_ context.Context, tr Trip) {
		mu.Lock()
		defer mu.Unlock()
		res.trips = append(res.trips, tr)
	}}))
	reqs := make([]token.Request, simMembers)
	for i := range reqs {
		reqs[i] = token.Request{Member: fmt.Sprintf("m%05d", i), Purpose: token.PurposeLogin, Recipient: simAddress(i)}
	}
	links, err := f.iss.MintBatch(ctx, "invite-sim", reqs)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(clicks, func(a, b simClick) int { return int(a.at - b.at) })
	start := f.clk.now()
	for _, c := range clicks {
		f.clk.mu.Lock()
		f.clk.t = start.Add(c.at)
		f.clk.mu.Unlock()
		req := Request{Link: links[c.link].URL, Purpose: token.PurposeLogin, Identity: Identity{Email: c.typed},
			IP:        fmt.Sprintf("10.%d.%d.%d", c.device, c.member/250, c.member%250),
			UserAgent: fmt.Sprintf("Mozilla/5.0 (device %d of member %d)", c.device, c.member)}
		_, err := f.v.Consume(ctx, req)
		res.clicks++
		switch {
		case err == nil:
			res.logins++
		case errors.Is(err, ErrMismatch):
			res.mismatches++
			w := f.v.breaker.watchOf("invite-sim", f.clk.now())
			w.mu.Lock()
			tl := w.tally(f.clk.now().Add(-f.v.breaker.cfg.Window))
			w.mu.Unlock()
			res.peakLinks, res.peakShared = max(res.peakLinks, tl.Links), max(res.peakShared, tl.Shared)
		}
		mu.Lock()
		tripped := len(res.trips) > 0
		mu.Unlock()
		if tripped && res.tripAt == 0 {
			res.tripAt = c.at - clicks[0].at
			if stopAtTrip {
				break
			}
		}
	}
	return res
}

// TestBreakerSimulation: honest clicks over an hour never freeze the batch;
// the incident's pattern freezes it within seconds of the first click.
func TestBreakerSimulation(t *testing.T) {
	if testing.Short() {
		t.Skip("the 18,000-link simulation is not short")
	}
	b := Breaker{}.withDefaults()
	shared, links := b.thresholds(simMembers)
	t.Logf("thresholds for %d links: %d shared links, or %d links with mismatches, within %v", simMembers, shared, links, defaultBreakerWindow)
	t.Run("honest", func(t *testing.T) {
		for seed := uint64(1); seed <= 3; seed++ {
			rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
			r := simulate(t, honestClicks(rng), false)
			t.Logf("seed %d: %d clicks, %d logins, %d mismatches on consumable links; at most %d links with mismatches and %d shared links in a window; %d freezes",
				seed, r.clicks, r.logins, r.mismatches, r.peakLinks, r.peakShared, len(r.trips))
			if len(r.trips) != 0 {
				t.Fatalf("seed %d: honest clicks froze the batch at %v: %+v", seed, r.tripAt, r.trips[0])
			}
		}
	})
	for _, tc := range []struct {
		name  string
		mean  time.Duration
		limit time.Duration
	}{
		{"incident", simMeanDelay, 30 * time.Second},
		{"incident, slower clicks", 3 * simMeanDelay, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				rng := rand.New(rand.NewPCG(seed, 0x243f6a8885a308d3))
				r := simulate(t, incidentClicks(rng, tc.mean), true)
				if len(r.trips) == 0 {
					t.Fatalf("seed %d: the incident's pattern never froze the batch (%d clicks)", seed, r.clicks)
				}
				t.Logf("seed %d: frozen %v after the first click, after %d clicks (%d owners logged in, %d mismatches): %s",
					seed, r.tripAt.Round(time.Millisecond), r.clicks, r.logins, r.mismatches, r.trips[0].Rule)
				if r.tripAt > tc.limit {
					t.Fatalf("seed %d: the incident's pattern took %v to freeze the batch", seed, r.tripAt)
				}
			}
		})
	}
}
