package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// env is what every day of the replay shares: the store, the keys, the
// simulated clock, the members and their clicks.
type env struct {
	st      store.Store
	clk     *clock
	iss     *token.Issuer
	parser  *token.Parser
	members []member
	size    int
	clicks  []click
}

// Day is one run of the seed's day, with the simulation's ground truth
// beside what the library reported. Times are simulated, since the send
// started; -1 when it did not happen.
type Day struct {
	Name     string
	Controls bool // identity check and breaker on
	Start    time.Time
	Send     Outcome

	FirstClick, FirstLogin, FirstForeign, FirstMismatch time.Duration
	Trip                                                *verify.Trip
	TripAt                                              time.Duration
	TripLogins                                          int // logins before the trip
	OperatorAt, End                                     time.Duration

	// Clicks is every presentation; Logins the links consumed, Foreign
	// those consumed by someone other than the link's member: people
	// logged in as someone else. Mismatches is the clicks whose typed
	// address was not the link's recipient's, Replays the other clicks on
	// a link already consumed and not revoked (ground truth).
	Clicks, Logins, Foreign, Mismatches, Replays int
	// Refused counts refusals by reason.
	Refused map[store.Reason]int
	// At are the logins by the seed's milestones: when the reports came
	// in, and when the site went offline.
	At map[time.Duration]Tally

	Freeze admin.HoldResult
	Revoke admin.RevokeResult
	// SessionsOpened is every session a login opened; SessionsOpen those
	// still open when the operator revoked; SessionsEnded those the
	// revocation ended, as the session table counted them.
	SessionsOpened, SessionsOpen, SessionsEnded int
	Report                                      *admin.Report
	// Timeline is the ledger of the send's batch, minute by minute.
	Timeline *admin.Timeline
	// Affected is the ground truth of the report's affected members: the
	// members whose link was presented with another address, presented
	// again once consumed, or consumed with no address asked.
	Affected int

	consumed map[int]bool // links consumed, by member
	revoked  bool         // the operator revoked the batch
}

// Tally is logins at a moment.
type Tally struct{ Logins, Foreign int }

// day runs the send and the members' clicks on the simulated clock. With
// controls the verifier asks for the address and the breaker watches; the
// operator acts the seed's 18 minutes after being told, by the breaker.
// Without, whoever holds a link logs in, and the operator takes the site
// offline at the seed's 47 + 18 minutes.
func (e *env) day(ctx context.Context, name string, controls bool) (*Day, error) {
	d := &Day{Name: name, Controls: controls, Start: dayStart, Refused: map[store.Reason]int{}, At: map[time.Duration]Tally{},
		consumed:   map[int]bool{},
		FirstClick: -1, FirstLogin: -1, FirstForeign: -1, FirstMismatch: -1, TripAt: -1}
	e.clk.set(d.Start)
	var err error
	if d.Send, err = send(ctx, e.iss, e.parser, e.st, e.members, e.size, name, true, false); err != nil {
		return nil, err
	}
	tab := newSessions(e.clk.Now)
	adm, err := admin.New(e.st, admin.WithSessionRevoker(tab), admin.WithClock(e.clk.Now))
	if err != nil {
		return nil, err
	}
	d.OperatorAt = seedNoticed + seedOffline
	opts := []verify.Option{verify.WithPolicy(token.PurposeLogin, verify.Policy{UnsafeNoConfirmation: true}), verify.WithoutBreaker()}
	if controls {
		opts = []verify.Option{verify.WithBreaker(verify.Breaker{OnTrip: func(_ context.Context, t verify.Trip) {
			if d.Trip == nil {
				d.Trip, d.TripAt, d.TripLogins = &t, t.At.Sub(d.Start), d.Logins
				d.OperatorAt = d.TripAt + seedOffline
			}
		}})}
	}
	v, err := verify.New(e.parser, e.st, opts...)
	if err != nil {
		return nil, err
	}
	acted := false
	affected := map[int]bool{}
	for _, c := range e.clicks {
		for _, m := range []time.Duration{seedNoticed, seedNoticed + seedOffline} {
			if _, ok := d.At[m]; !ok && c.at >= m {
				d.At[m] = Tally{d.Logins, d.Foreign}
			}
		}
		if !acted && c.at >= d.OperatorAt {
			if err := e.operate(ctx, d, adm, tab); err != nil {
				return nil, err
			}
			acted = true
		}
		if (!controls && acted) || c.at >= max(d.OperatorAt, seedNoticed+seedOffline) {
			break // the site is offline, or the day's story is told
		}
		if err := e.present(ctx, d, v, tab, c, affected); err != nil {
			return nil, err
		}
	}
	if !acted {
		if err := e.operate(ctx, d, adm, tab); err != nil {
			return nil, err
		}
	}
	d.End = max(d.OperatorAt, seedNoticed+seedOffline)
	for _, m := range []time.Duration{seedNoticed, seedNoticed + seedOffline} {
		if _, ok := d.At[m]; !ok {
			d.At[m] = Tally{d.Logins, d.Foreign}
		}
	}
	d.Affected = len(affected)
	e.clk.set(d.Start.Add(d.End))
	if d.Report, err = adm.Report(ctx, admin.ReportQuery{Batch: d.Send.Batch}); err != nil {
		return nil, err
	}
	d.Timeline, err = adm.Timeline(ctx, admin.TimelineQuery{Batch: d.Send.Batch, Since: d.Start,
		Until: d.Start.Add(d.End + time.Minute), Step: time.Minute})
	return d, err
}

// present is one click: the person opens the link in the message they
// received and, with controls, types their own address.
func (e *env) present(ctx context.Context, d *Day, v *verify.Verifier, tab *sessions, c click, affected map[int]bool) error {
	holder := d.Send.Holder[c.person]
	e.clk.set(d.Start.Add(c.at))
	ip, ua := client(c.person)
	ref := tab.reference(d.Name)
	req := verify.Request{Link: d.Send.links[holder].URL, Purpose: token.PurposeLogin, IP: ip, UserAgent: ua, Session: ref}
	mismatch := false
	if d.Controls {
		req.Identity.Email = typed(e.members[c.person].email, c.typo)
		mismatch = c.typo || c.person != holder
	}
	if !mismatch && d.consumed[holder] && !d.revoked {
		d.Replays++
		affected[holder] = true
	}
	d.Clicks++
	if d.FirstClick < 0 {
		d.FirstClick = c.at
	}
	res, err := v.Consume(ctx, req)
	if mismatch {
		d.Mismatches++
		affected[holder] = true
		if d.FirstMismatch < 0 && errors.Is(err, verify.ErrMismatch) {
			d.FirstMismatch = c.at
		}
	}
	if err != nil {
		if errors.Is(err, verify.ErrUnavailable) || errors.Is(err, verify.ErrConfig) {
			return fmt.Errorf("click at %v: %w", c.at, err)
		}
		d.Refused[verify.Reason(err)]++
		return nil
	}
	tab.open(ref, res.Claims.Member, c.person)
	d.consumed[holder] = true
	if !d.Controls {
		affected[holder] = true // a login with no address asked could be anyone's
	}
	d.Logins++
	if d.FirstLogin < 0 {
		d.FirstLogin = c.at
	}
	if c.person != holder {
		d.Foreign++
		if d.FirstForeign < 0 {
			d.FirstForeign = c.at
		}
	}
	return nil
}

// operate is the operator's first minute and first hour: freeze the send's
// batch (the site offline, or the breaker's hold confirmed), then revoke
// it, which ends the sessions its links opened.
func (e *env) operate(ctx context.Context, d *Day, adm *admin.Admin, tab *sessions) error {
	e.clk.set(d.Start.Add(d.OperatorAt))
	var err error
	hold := store.Hold{Scope: store.ScopeBatch, Key: d.Send.Batch, Reason: "links sent to the wrong members"}
	if d.Freeze, err = adm.Freeze(ctx, hold, "operator"); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	f := store.Filter{Batches: []string{d.Send.Batch}}
	p, err := adm.Preview(ctx, f)
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	var opts []admin.RevokeOption
	if p.Wide {
		opts = append(opts, admin.Confirm(p.Confirm)) // the operator types the count shown
	}
	d.SessionsOpened, d.SessionsOpen, _ = tab.counts()
	if d.Revoke, err = adm.Revoke(ctx, f, "operator", opts...); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	d.revoked = true
	_, _, d.SessionsEnded = tab.counts()
	return nil
}
