package admin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/oncelink/oncelink/store"
)

// RevokeResult says what a revocation did.
type RevokeResult struct {
	// Covered is how many outstanding links (usable, or frozen) the
	// revocation stopped, as counted just before it: what
	// [Preview.Outstanding] counted, under the same JSON name.
	Covered int64 `json:"outstanding"`
	// Revoked is how many records were revoked one by one (idempotent: 0 on
	// a second call).
	Revoked int64 `json:"revoked"`
	// Sequence is set when the revocation was a watermark on the store's
	// sequence: every link the store had recorded when it ran (of Members,
	// or of everyone) is refused from now on, whatever the clocks of the
	// machines that minted them said. It is the highest mark set.
	Sequence int64 `json:"sequence,omitempty"`
	// Watermark is set when the revocation was a watermark on issue time:
	// every link issued before it (of Members, or of everyone), by the
	// minting machine's clock, is refused from now on.
	Watermark time.Time `json:"watermark,omitzero"`
	// Members is the members a member watermark was set for.
	Members []string `json:"members,omitempty"`
	// Sessions is the session references of the consumed links the
	// revocation covers: handed to the session revoker when there is one.
	Sessions []string `json:"sessions"`
	// SessionsEnded reports whether the session revoker accepted them all.
	SessionsEnded bool `json:"sessions_ended"`
}

// watermarkShape reports whether f is applied as a watermark: everything,
// everything issued before a time, or every link of some members (issued
// before a time). Those take one write per member or one in all, whatever
// the number of links, and act on links that are minted concurrently.
func watermarkShape(f store.Filter) bool {
	if f.All {
		return true
	}
	rest := f
	rest.Members, rest.IssuedBefore = nil, time.Time{}
	return rest.IsEmpty() && (len(f.Members) > 0 || !f.IssuedBefore.IsZero())
}

func consumedOf(f store.Filter) store.Filter {
	if f.All {
		return store.Filter{Consumed: true}
	}
	f.Consumed = true
	return f
}

// Revoke revokes every link the filter selects, consumed ones included, so
// that it is refused on the next verification on every instance, records
// the revocation in the ledger, and hands the sessions opened by consumed
// links to the session revoker.
//
// Everything, and every link of some members, are watermarks on the
// store's sequence: they cover every link the store had recorded when they
// ran, whatever the clocks of the machines that minted them say, in one
// write per member (or one in all). Everything issued before a time (of
// some members) is a watermark on issue time, the minting machine's clock;
// a time later than now plus [WatermarkTolerance] is refused. Other filters
// revoke record by record in one store operation. actor names who asked,
// for the ledger.
//
// A filter that selects no link is refused with [ErrNoMatch] unless
// [Force]. A revocation as wide as everything (see [Preview]) is refused
// with a *[ConfirmError] unless confirmed with the number of outstanding
// links it covers ([Confirm]).
//
// The revocation itself is done before sessions are looked up; if ending
// sessions fails, the links stay revoked and the error wraps [ErrSessions].
func (a *Admin) Revoke(ctx context.Context, f store.Filter, actor string, opts ...RevokeOption) (RevokeResult, error) {
	o, err := revokeOptions(opts)
	if err != nil {
		return RevokeResult{}, err
	}
	p, err := a.Preview(ctx, f)
	if err != nil {
		return RevokeResult{}, err
	}
	if p.Matching == 0 && !o.force {
		return RevokeResult{}, fmt.Errorf("%w: the filter %s selects no link", ErrNoMatch, describeFilter(f))
	}
	if p.Wide && (!o.confirmed || o.count != p.Confirm) {
		return RevokeResult{}, &ConfirmError{Preview: p}
	}
	now := store.Micro(a.clock())
	res := RevokeResult{Covered: p.Outstanding}
	detail := describeFilter(f)
	keep := func(store.Record) bool { return true }
	if watermarkShape(f) {
		if keep, err = a.watermark(ctx, f, actor, now, &res); err != nil {
			return res, err
		}
	} else {
		n, err := a.st.Revoke(ctx, f, now)
		if err != nil {
			return res, err
		}
		res.Revoked = n
		a.append(ctx, store.Event{At: now, Kind: store.EventRevoked, Count: n, Actor: actor, Detail: detail,
			Batch: single(f.Batches), Member: single(f.Members)})
	}
	a.logger.WarnContext(ctx, "oncelink: links revoked", "filter", detail, "covered", res.Covered, "revoked", res.Revoked,
		"sequence", res.Sequence, "watermark", res.Watermark, "actor", actor)
	return res, a.endSessionsOf(ctx, f, keep, actor, now, detail, &res)
}

// watermark applies f as watermarks, one per member or one for everyone,
// and returns which consumed records they cover.
func (a *Admin) watermark(ctx context.Context, f store.Filter, actor string, now time.Time, res *RevokeResult) (func(store.Record) bool, error) {
	members := f.Members
	if len(members) == 0 {
		members = []string{""}
	}
	before := store.MicroCeil(f.IssuedBefore)
	marks := map[string]int64{}
	var evs []store.Event
	for _, m := range members {
		detail := "every link recorded so far"
		if before.IsZero() {
			mark, err := a.st.WatermarkNow(ctx, m)
			if err != nil {
				return nil, fmt.Errorf("watermark for %q: %w", m, err)
			}
			marks[m] = mark.Seq
			res.Sequence = max(res.Sequence, mark.Seq)
			detail += fmt.Sprintf(" (sequence below %d)", mark.Seq)
		} else {
			if err := a.st.Watermark(ctx, m, before); err != nil {
				return nil, fmt.Errorf("watermark for %q: %w", m, err)
			}
			detail = "every link issued before " + before.Format(time.RFC3339Nano)
		}
		evs = append(evs, store.Event{At: now, Kind: store.EventWatermark, Member: m, Actor: actor, Detail: detail})
	}
	res.Watermark = before
	if len(f.Members) > 0 {
		res.Members = slices.Clone(f.Members)
	}
	a.append(ctx, evs...)
	return func(r store.Record) bool {
		if !before.IsZero() {
			return r.IssuedAt.Before(before)
		}
		seq, ok := marks[r.Member]
		if !ok {
			seq = marks[""]
		}
		return r.Seq < seq
	}, nil
}

// endSessionsOf hands the sessions of the consumed records f selects, those
// keep accepts, to the session revoker.
func (a *Admin) endSessionsOf(ctx context.Context, f store.Filter, keep func(store.Record) bool, actor string, now time.Time, detail string, res *RevokeResult) error {
	sessions, err := a.sessionsOf(ctx, consumedOf(f), keep)
	if err != nil {
		return fmt.Errorf("%w: links revoked, but their sessions could not be listed: %w", ErrSessions, err)
	}
	res.Sessions = sessions
	if a.sessions == nil || len(sessions) == 0 {
		res.SessionsEnded = len(sessions) == 0
		return nil
	}
	if err := a.endSessions(ctx, sessions); err != nil {
		return fmt.Errorf("%w: %d sessions: %w", ErrSessions, len(sessions), err)
	}
	res.SessionsEnded = true
	a.append(ctx, store.Event{At: now, Kind: store.EventSessions, Count: int64(len(sessions)), Actor: actor, Detail: "ended sessions of revoked links: " + detail})
	return nil
}

// sessionsOf pages through the consumed records a filter selects and
// returns the distinct session references of those keep accepts.
func (a *Admin) sessionsOf(ctx context.Context, f store.Filter, keep func(store.Record) bool) ([]string, error) {
	seen := map[string]bool{}
	sessions := []string{}
	after := ""
	for {
		page, err := a.st.Records(ctx, store.RecordQuery{Filter: f, After: after, Limit: store.MaxPage})
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if s := r.Consumer.Session; s != "" && !seen[s] && keep(r) {
				seen[s] = true
				sessions = append(sessions, s)
			}
		}
		if len(page) < store.MaxPage {
			return sessions, nil
		}
		after = page[len(page)-1].ID
	}
}

// endSessions hands sessions to the revoker in pages, recovering a panic.
func (a *Admin) endSessions(ctx context.Context, sessions []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("session revoker panicked: %v", r)
		}
	}()
	for start := 0; start < len(sessions); start += 1000 {
		if err := a.sessions.RevokeSessions(ctx, sessions[start:min(start+1000, len(sessions))]); err != nil {
			return err
		}
	}
	return nil
}
