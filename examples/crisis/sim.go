package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// The model of the day. The seed's figures come from the incident report.
// The members' behaviour is this model's assumption, the same on every day:
// the report gives no click times, so the share of members who click and
// their median delay were chosen so that the day without controls lets
// about as many people log in by the time the site went offline as the
// report counts (732), from a plausible shape (log-normal delays, most
// clicks within hours of delivery).
const (
	seedNoticed = 47 * time.Minute // "the peace lasted for a sum total of 47 minutes"
	seedOffline = 18 * time.Minute // "18 minutes after we received the initial reporting"
	seedLogins  = 732              // "In the end 732 people managed to log in during the period"

	batchEvery  = 2 * time.Second  // one batch of ten leaves every 2 s: 18,000 messages in an hour
	clickShare  = 0.3              // members who click their link during the day
	clickMedian = 90 * time.Minute // median delay from delivery to click (log-normal)
	clickSigma  = 1.2              // spread of that delay
	typoShare   = 0.02             // confirmations mistyped once, then typed right
	typoRetry   = 45 * time.Second // mean time to retype
)

// dayStart is when the send starts, on the simulated clock: a Tuesday in
// October, late morning (the team was at lunch when the reports came in).
var dayStart = time.Date(2026, time.October, 6, 11, 15, 0, 0, time.UTC)

// clock is the simulated clock every part of the library reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// click is one person presenting the link in the message they received.
type click struct {
	at     time.Duration // since the send started
	person int           // who clicks: the member the message was addressed to
	typo   bool          // the confirmation they type has a typing error
}

// plan draws when each member who receives a message clicks its link, from
// a seeded generator: the same clicks on every day of the replay. Member i
// receives their message with batch i/size.
func plan(seed uint64, n, size int) []click {
	r := rand.New(rand.NewPCG(seed, 0x6f6e63656c696e6b))
	var clicks []click
	for i := 0; i < n; i++ {
		if r.Float64() >= clickShare {
			continue
		}
		delivered := time.Duration(i/size) * batchEvery
		delay := time.Duration(float64(clickMedian) * math.Exp(clickSigma*r.NormFloat64()))
		at := delivered + delay.Round(time.Millisecond)
		if r.Float64() < typoShare {
			clicks = append(clicks, click{at: at, person: i, typo: true})
			at += time.Duration(float64(typoRetry) * (0.5 + r.Float64())).Round(time.Millisecond)
		}
		clicks = append(clicks, click{at: at, person: i})
	}
	slices.SortStableFunc(clicks, func(a, b click) int {
		return int(a.at - b.at)
	})
	return clicks
}

// client is the address and user agent a member clicks from.
func client(person int) (ip, ua string) {
	agents := [...]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/141.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"Mozilla/5.0 (X11; Linux x86_64; rv:144.0) Gecko/20100101 Firefox/144.0",
	}
	return fmt.Sprintf("10.%d.%d.%d", person>>16&255, person>>8&255, person&255), agents[person%len(agents)]
}

// typed is the address a person types on the confirmation page: their own,
// or their own with its first two characters swapped.
func typed(email string, typo bool) string {
	if !typo {
		return email
	}
	b := []byte(email)
	b[0], b[1] = b[1], b[0]
	return string(b)
}

// minutes prints a simulated duration as minutes.
func minutes(d time.Duration) string {
	return fmt.Sprintf("%5.1f", d.Minutes())
}
