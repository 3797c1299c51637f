package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// ReportQuery selects what a report covers: one batch, a time window, or a
// batch within a window. Times select ledger entries: links issued,
// consumed or refused in the window.
type ReportQuery struct {
	Batch string
	Since time.Time
	Until time.Time
}

// Report answers "who was affected" for a batch or a window. It tells
// apart three things that happen to a link:
//
//   - a mismatch: someone presented the link with another identity than the
//     one it is bound to (another member's link reached them);
//   - a replay: a link already used was presented again (by its member
//     clicking twice, or by whoever holds a copy);
//   - a login: the link was consumed. A login confirmed with the link's own
//     identity is the member's own, as far as oncelink can tell: it is
//     listed, not counted as affected. One with no identity compared
//     (a policy without confirmation) could be anyone's: it is.
//
// Affected is the members to contact: a mismatch, a replay or an
// unconfirmed login on one of their links, with the addresses the store
// holds for them. If a send put links in the wrong mailboxes and the
// person typed the address the message showed, the login looks like the
// member's own: end the sessions of Logins too.
//
// The JSON form is snake_case, with times in RFC 3339 and empty lists as
// [].
type Report struct {
	Batch     string    `json:"batch,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Until     time.Time `json:"until,omitzero"`
	Generated time.Time `json:"generated"`

	Counts ReportCounts `json:"counts"`

	// Affected is the members to contact, in member order.
	Affected []Affected `json:"affected"`
	// Mismatches, Replays and Logins are the presentations of each kind
	// in scope, oldest first.
	Mismatches []Use `json:"mismatches"`
	Replays    []Use `json:"replays"`
	Logins     []Use `json:"logins"`
	// Sessions is the sessions opened by consumed links in scope.
	Sessions []string `json:"sessions"`
	// Members holds one entry per member who received or presented a link in
	// scope, in member order.
	Members []MemberReport `json:"members"`
	// Actions is the operators' and the breaker's actions in scope:
	// revocations, watermarks, freezes, thaws, trips, blocked messages,
	// each with its actor.
	Actions []store.Event `json:"actions"`
}

// ReportCounts counts what a report covers.
type ReportCounts struct {
	// Issued is the links issued in scope.
	Issued int `json:"issued"`
	// Logins is the links consumed in scope with the link's own identity
	// confirmed; UnconfirmedLogins those consumed with no identity compared.
	Logins            int `json:"logins"`
	UnconfirmedLogins int `json:"unconfirmed_logins"`
	// Mismatches and Replays count those presentations; Refused counts
	// every refused presentation of a link, them included.
	Mismatches int `json:"mismatches"`
	Replays    int `json:"replays"`
	Refused    int `json:"refused"`
	// Affected is len(Report.Affected).
	Affected int `json:"affected"`
}

// Affected is one member to contact, and why.
type Affected struct {
	Member string `json:"member"`
	// Addresses is the addresses the member's links were minted for, as the
	// store holds them; empty when it holds none.
	Addresses         []string `json:"addresses"`
	Mismatches        int      `json:"mismatches"`
	Replays           int      `json:"replays"`
	UnconfirmedLogins int      `json:"unconfirmed_logins"`
	// PresentedBy is the identities presented with the member's links in
	// mismatches and replays: who else held them.
	PresentedBy []string `json:"presented_by"`
}

// Use is one presentation of a link: a mismatch, a replay or a login.
type Use struct {
	At time.Time `json:"at"`
	// Member is whose link it is, Address the address it was minted for.
	Member  string `json:"member"`
	Address string `json:"address,omitempty"`
	TokenID string `json:"token_id"`
	Batch   string `json:"batch,omitempty"`
	// Reason is the refusal's reason ("mismatch", "used"); "" for a login.
	Reason string `json:"reason,omitempty"`
	// Confirmed reports, for a login, whether an identity was compared.
	Confirmed bool `json:"confirmed"`
	// Presented is who presented it: identity, address, user agent and
	// session.
	Presented store.Presentation `json:"presented"`
}

// MemberReport is what happened to one member's links.
type MemberReport struct {
	Member   string       `json:"member"`
	Affected bool         `json:"affected"`
	Links    []LinkReport `json:"links"`
}

// LinkReport is one link: who it was sent to, its state now, who consumed
// it, and every refused presentation.
type LinkReport struct {
	TokenID   string    `json:"token_id"`
	Batch     string    `json:"batch,omitempty"`
	Purpose   string    `json:"purpose"`
	Recipient string    `json:"recipient,omitempty"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Status is what Consume would decide for the link when the report
	// was made ([store.Decide]): "issued" (usable), "frozen", "consumed",
	// "revoked" (one by one or by a watermark), "consumed, revoked",
	// "expired", or "unknown" when the record was purged.
	Status     string              `json:"status"`
	ConsumedAt time.Time           `json:"consumed_at,omitzero"`
	ConsumedBy *store.Presentation `json:"consumed_by,omitempty"`
	RevokedAt  time.Time           `json:"revoked_at,omitzero"`
	Refusals   []Attempt           `json:"refusals"`

	consumedInScope bool
}

// Attempt is one refused presentation of a link. Its JSON form holds the
// presentation's fields beside at and reason.
type Attempt struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	store.Presentation
}

// maxReportEvents bounds the ledger entries one report reads.
const maxReportEvents = 5_000_000

// Report builds the report for q from the ledger and the records.
func (a *Admin) Report(ctx context.Context, q ReportQuery) (*Report, error) {
	if q.Batch == "" && q.Since.IsZero() && q.Until.IsZero() {
		return nil, fmt.Errorf("%w: a report needs a batch or a window", ErrRequest)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return nil, fmt.Errorf("%w: the window ends before it starts", ErrRequest)
	}
	rep := &Report{Batch: q.Batch, Since: q.Since, Until: q.Until, Generated: a.clock().UTC(), Affected: []Affected{},
		Mismatches: []Use{}, Replays: []Use{}, Logins: []Use{}, Sessions: []string{}, Actions: []store.Event{}}
	r := reading{links: map[string]*LinkReport{}, owner: map[string]string{}}
	if err := a.readLedger(ctx, q, rep, &r); err != nil {
		return nil, err
	}
	if err := a.fillStatus(ctx, r.links); err != nil {
		return nil, err
	}
	rep.byMember(&r)
	return rep, nil
}

// reading is what a report has read of the ledger: each link, and its
// member.
type reading struct {
	links map[string]*LinkReport
	owner map[string]string // token id -> member
}

func (r *reading) link(e *store.Event) *LinkReport {
	l, ok := r.links[e.TokenID]
	if !ok {
		l = &LinkReport{TokenID: e.TokenID, Batch: e.Batch, Purpose: e.Purpose, Refusals: []Attempt{}}
		r.links[e.TokenID] = l
		r.owner[e.TokenID] = e.Member
	}
	return l
}

// readLedger reads the ledger entries in q's scope, in pages, into the
// links they are about and the report's counts and actions.
func (a *Admin) readLedger(ctx context.Context, q ReportQuery, rep *Report, r *reading) error {
	eq := store.EventQuery{Batch: q.Batch, Since: q.Since, Until: q.Until, Limit: store.MaxPage}
	read := 0
	for {
		page, next, err := a.st.Events(ctx, eq)
		if err != nil {
			return err
		}
		read += len(page)
		if read > maxReportEvents {
			return fmt.Errorf("%w: more than %d ledger entries in scope; narrow the window", ErrRequest, maxReportEvents)
		}
		for i := range page {
			e := &page[i]
			switch {
			case e.Kind == store.EventIssued:
				l := r.link(e)
				l.Recipient, l.IssuedAt = e.Detail, e.At
				rep.Counts.Issued++
			case e.Kind == store.EventConsumed:
				l := r.link(e)
				p := e.Presentation
				l.ConsumedAt, l.ConsumedBy, l.consumedInScope = e.At, &p, true
			case e.Kind == store.EventRefused && e.TokenID != "":
				l := r.link(e)
				l.Refusals = append(l.Refusals, Attempt{At: e.At, Reason: e.Reason, Presentation: e.Presentation})
			case e.Kind != store.EventRefused:
				rep.Actions = append(rep.Actions, *e)
			}
		}
		if next == "" {
			return nil
		}
		eq.After = next
	}
}

// byMember groups the links by member, in member order, sorts each use of
// a link into mismatches, replays and logins, and names the affected
// members and the sessions consumed links opened.
func (rep *Report) byMember(r *reading) {
	byMember := map[string]*MemberReport{}
	affected := map[string]*Affected{}
	sessions := map[string]bool{}
	for id, l := range r.links {
		m := r.owner[id]
		mr, ok := byMember[m]
		if !ok {
			mr = &MemberReport{Member: m}
			byMember[m] = mr
		}
		mr.Links = append(mr.Links, *l)
		aff := func() *Affected {
			a, ok := affected[m]
			if !ok {
				a = &Affected{Member: m, Addresses: []string{}, PresentedBy: []string{}}
				affected[m] = a
			}
			if l.Recipient != "" && !slices.Contains(a.Addresses, l.Recipient) {
				a.Addresses = append(a.Addresses, l.Recipient)
			}
			return a
		}
		use := func(at time.Time, reason string, p store.Presentation) Use {
			return Use{At: at, Member: m, Address: l.Recipient, TokenID: l.TokenID, Batch: l.Batch, Reason: reason, Presented: p}
		}
		if l.ConsumedBy != nil && l.consumedInScope {
			u := use(l.ConsumedAt, "", *l.ConsumedBy)
			u.Confirmed = u.Presented.Identity != ""
			rep.Logins = append(rep.Logins, u)
			if !u.Confirmed {
				rep.Counts.UnconfirmedLogins++
				aff().UnconfirmedLogins++
			} else {
				rep.Counts.Logins++
			}
			if s := l.ConsumedBy.Session; s != "" && !sessions[s] {
				sessions[s] = true
				rep.Sessions = append(rep.Sessions, s)
			}
		}
		for _, at := range l.Refusals {
			rep.Counts.Refused++
			var a *Affected
			switch store.Reason(at.Reason) {
			case store.ReasonMismatch:
				rep.Counts.Mismatches++
				rep.Mismatches = append(rep.Mismatches, use(at.At, at.Reason, at.Presentation))
				a = aff()
				a.Mismatches++
			case store.ReasonUsed:
				rep.Counts.Replays++
				rep.Replays = append(rep.Replays, use(at.At, at.Reason, at.Presentation))
				a = aff()
				a.Replays++
			default:
				continue
			}
			if id := at.Identity; id != "" && !slices.Contains(a.PresentedBy, id) {
				a.PresentedBy = append(a.PresentedBy, id)
			}
		}
	}
	for _, mr := range byMember {
		slices.SortFunc(mr.Links, func(x, y LinkReport) int { return strings.Compare(x.TokenID, y.TokenID) })
		a, ok := affected[mr.Member]
		if mr.Affected = ok; ok {
			slices.Sort(a.Addresses)
			slices.Sort(a.PresentedBy)
			rep.Affected = append(rep.Affected, *a)
		}
		rep.Members = append(rep.Members, *mr)
	}
	slices.SortFunc(rep.Members, func(x, y MemberReport) int { return strings.Compare(x.Member, y.Member) })
	slices.SortFunc(rep.Affected, func(x, y Affected) int { return strings.Compare(x.Member, y.Member) })
	for _, list := range [][]Use{rep.Mismatches, rep.Replays, rep.Logins} {
		slices.SortStableFunc(list, func(x, y Use) int {
			if c := x.At.Compare(y.At); c != 0 {
				return c
			}
			return strings.Compare(x.TokenID, y.TokenID)
		})
	}
	slices.Sort(rep.Sessions)
	rep.Counts.Affected = len(rep.Affected)
	if rep.Members == nil {
		rep.Members = []MemberReport{}
	}
}

// fillStatus reads the records of the links in the report, in pages, and
// the watermarks and holds in force, and says of each link what Consume
// would.
func (a *Admin) fillStatus(ctx context.Context, links map[string]*LinkReport) error {
	ids := make([]string, 0, len(links))
	for id := range links {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := a.clock()
	g, err := store.LoadGuards(ctx, a.st)
	if err != nil {
		return err
	}
	for start := 0; start < len(ids); start += store.MaxFilterValues {
		chunk := ids[start:min(start+store.MaxFilterValues, len(ids))]
		recs, err := a.st.Records(ctx, store.RecordQuery{Filter: store.Filter{IDs: chunk}, Limit: store.MaxPage})
		if err != nil {
			return err
		}
		for _, r := range recs {
			l := links[r.ID]
			l.Recipient, l.IssuedAt, l.ExpiresAt, l.RevokedAt = r.Recipient, r.IssuedAt, r.ExpiresAt, r.RevokedAt
			l.Batch, l.Purpose = r.Batch, r.Purpose
			if l.ConsumedBy == nil && !r.ConsumedAt.IsZero() {
				// Consumed outside the report's window: shown, not counted.
				p := r.Consumer
				l.ConsumedAt, l.ConsumedBy = r.ConsumedAt, &p
			}
			l.Status = status(&r, g, now)
		}
	}
	for _, l := range links {
		if l.Status == "" {
			l.Status = "unknown"
		}
	}
	return nil
}

// status names what [store.Decide] says of r.
func status(r *store.Record, g *store.Guards, now time.Time) string {
	switch store.Decide(r, g, now) {
	case store.ErrRevoked:
		if !r.ConsumedAt.IsZero() {
			return "consumed, revoked"
		}
		return "revoked"
	case store.ErrUsed:
		return "consumed"
	case store.ErrExpired:
		return "expired"
	case store.ErrFrozen:
		return "frozen"
	}
	return "issued"
}
