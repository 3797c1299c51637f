package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// breakerWithin is how long after the first mismatch the breaker must have
// frozen the batch, in simulated time: a third of the seed's 47 minutes.
const breakerWithin = 15 * time.Minute

// TestCrisis replays the seed's day at full size on the SQLite default and
// checks the replay's figures against the simulation's own ground truth:
// the send guard sends nothing that carries another member's link; past
// the guard, nobody logs in as someone else, the breaker freezes the batch
// within minutes of the first mismatch, the report names exactly the
// members the simulation affected, and the revocation ends every session
// the send's links opened, as the session table counts them.
func TestCrisis(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	sum, err := run(context.Background(), &out, config{members: 18000, size: 10, seed: 1,
		store: "sqlite:" + filepath.Join(dir, "crisis.db"), svg: filepath.Join(dir, "crisis.svg")})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())

	in := sum.Incident
	if in.Send.Sent != 18000 || in.Send.Foreign != 16200 {
		t.Errorf("the incident's send: sent %d, foreign %d; want 18000 and 16200", in.Send.Sent, in.Send.Foreign)
	}
	if in.Foreign == 0 || in.Logins < in.Foreign {
		t.Errorf("the incident: %d logins, %d as someone else; want people logged in as someone else", in.Logins, in.Foreign)
	}
	checkDay(t, in)

	if sum.Guarded.Sent != 0 || sum.Guarded.Foreign != 0 || sum.Guarded.Blocked == nil || sum.Guarded.Blocked.Reason != "foreign link" {
		t.Errorf("the guarded send: sent %d, foreign %d, blocked %v; want nothing sent, blocked for a foreign link",
			sum.Guarded.Sent, sum.Guarded.Foreign, sum.Guarded.Blocked)
	}
	if c := sum.Correct; c.Sent != 18000 || c.Distinct != 18000 || c.Foreign != 0 || c.Blocked != nil {
		t.Errorf("the correct mailer through the guard: sent %d, distinct %d, foreign %d, blocked %v", c.Sent, c.Distinct, c.Foreign, c.Blocked)
	}

	ol := sum.Oncelink
	if ol.Send.Foreign != 16200 {
		t.Errorf("past the guard: %d foreign messages; want 16200", ol.Send.Foreign)
	}
	if ol.Foreign != 0 {
		t.Errorf("with oncelink: %d people logged in as someone else; want 0", ol.Foreign)
	}
	if ol.Mismatches == 0 || ol.FirstMismatch < 0 {
		t.Fatalf("with oncelink: %d mismatched clicks, first at %v; the replay presented no one else's link", ol.Mismatches, ol.FirstMismatch)
	}
	if ol.Trip == nil || ol.TripAt-ol.FirstMismatch > breakerWithin || ol.TripAt >= seedNoticed {
		t.Errorf("with oncelink: breaker tripped %v (at %v, first mismatch at %v); want within %v of the first mismatch, before the seed's 47 minutes",
			ol.Trip != nil, ol.TripAt, ol.FirstMismatch, breakerWithin)
	}
	if ol.Trip != nil && ol.Trip.Batch != ol.Send.Batch {
		t.Errorf("the breaker froze batch %q; want %q", ol.Trip.Batch, ol.Send.Batch)
	}
	if ol.Report.Counts.UnconfirmedLogins != 0 {
		t.Errorf("with oncelink: the report counts %d logins with no address asked; want 0", ol.Report.Counts.UnconfirmedLogins)
	}
	checkDay(t, ol)

	for i, path := range sum.Plots {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("<svg")) && !bytes.HasPrefix(b, []byte("<?xml")) || !bytes.Contains(b, []byte("</svg>")) {
			t.Errorf("plot %d (%s) is not an SVG image: %.80q", i, path, b)
		}
	}
	if len(sum.Plots) != 2 {
		t.Errorf("wrote %d plots; want 2", len(sum.Plots))
	}

	for _, want := range []string{
		"sent 0 messages; 0 carried another member's link",
		"sent 18000 messages; 18000 distinct links; 0 carried another member's link",
		"breaker froze the batch",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the replay does not print %q", want)
		}
	}
}

// checkDay checks what both days share: the report's affected members,
// logins and sessions against the simulation's ground truth, and every
// session the send's links opened ended by the revocation.
func checkDay(t *testing.T, d *Day) {
	t.Helper()
	c := d.Report.Counts
	if len(d.Report.Affected) != d.Affected || c.Affected != d.Affected {
		t.Errorf("%s: the report names %d affected members; the simulation affected %d", d.Name, len(d.Report.Affected), d.Affected)
	}
	if c.Mismatches != d.Mismatches || c.Replays != d.Replays {
		t.Errorf("%s: the report counts %d mismatches and %d replays; the simulation made %d and %d",
			d.Name, c.Mismatches, c.Replays, d.Mismatches, d.Replays)
	}
	if c.Logins+c.UnconfirmedLogins != d.Logins || len(d.Report.Sessions) != d.Logins {
		t.Errorf("%s: the report counts %d logins and %d sessions; the simulation logged in %d",
			d.Name, c.Logins+c.UnconfirmedLogins, len(d.Report.Sessions), d.Logins)
	}
	tot := d.Timeline.Total()
	if tot.Clicks != d.Clicks || tot.Logins != d.Logins || tot.Mismatches != d.Mismatches || tot.Freezes < 1 || tot.Revocations < 1 {
		t.Errorf("%s: the timeline counts %+v; the simulation made %d clicks, %d logins, %d mismatches, and a freeze and a revocation",
			d.Name, tot, d.Clicks, d.Logins, d.Mismatches)
	}
	if d.SessionsOpened != d.Logins || d.SessionsOpen != d.SessionsOpened || d.SessionsEnded != d.SessionsOpened {
		t.Errorf("%s: sessions opened %d, open at the revocation %d, ended %d; logins %d: want every session ended",
			d.Name, d.SessionsOpened, d.SessionsOpen, d.SessionsEnded, d.Logins)
	}
	if !d.Revoke.SessionsEnded || len(d.Revoke.Sessions) != d.SessionsOpened {
		t.Errorf("%s: the revocation handed %d sessions (ended: %v); %d were opened", d.Name, len(d.Revoke.Sessions), d.Revoke.SessionsEnded, d.SessionsOpened)
	}
	if !slices.Equal(d.Report.Sessions, sortedCopy(d.Revoke.Sessions)) {
		t.Errorf("%s: the report's sessions differ from the revocation's", d.Name)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
