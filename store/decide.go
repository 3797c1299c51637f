package store

import (
	"context"
	"crypto/subtle"
	"slices"
	"strings"
	"time"
)

// Guards are the watermarks and holds in force, indexed so that the ones
// that cover a record are found at once. [Decide] and [Check] read them;
// the memory store keeps its own in a Guards, and the admin layer loads a
// store's with [LoadGuards] to report what Consume would decide. The zero
// value is not usable; call [NewGuards]. A Guards is not safe for
// concurrent use.
type Guards struct {
	global  Mark
	members map[string]Mark
	holds   map[holdKey]Hold
}

type holdKey struct {
	scope Scope
	key   string
}

// NewGuards returns guards holding marks and holds.
func NewGuards(marks []Mark, holds []Hold) *Guards {
	g := &Guards{members: make(map[string]Mark), holds: make(map[holdKey]Hold)}
	for _, m := range marks {
		g.Mark(m)
	}
	for _, h := range holds {
		g.Freeze(h)
	}
	return g
}

// LoadGuards reads the watermarks and holds in force in s.
func LoadGuards(ctx context.Context, s Store) (*Guards, error) {
	marks, err := s.Marks(ctx)
	if err != nil {
		return nil, err
	}
	holds, err := s.Holds(ctx)
	if err != nil {
		return nil, err
	}
	return NewGuards(marks, holds), nil
}

// Mark raises the watermark of m.Member to m: each of its time and sequence
// only moves forward.
func (g *Guards) Mark(m Mark) {
	cur := g.global
	if m.Member != "" {
		cur = g.members[m.Member]
	}
	cur.Member = m.Member
	if m.Before.After(cur.Before) {
		cur.Before = m.Before
	}
	cur.Seq = max(cur.Seq, m.Seq)
	if m.Member == "" {
		g.global = cur
	} else {
		g.members[m.Member] = cur
	}
}

// MarkOf returns the watermark of member ("" for the global one), zero if
// there is none.
func (g *Guards) MarkOf(member string) Mark {
	if member == "" {
		return g.global
	}
	return g.members[member]
}

// Freeze places h unless a hold of the same scope and key stands, and
// reports whether it placed it.
func (g *Guards) Freeze(h Hold) bool {
	k := holdKey{h.Scope, h.Key}
	if _, ok := g.holds[k]; ok {
		return false
	}
	g.holds[k] = h
	return true
}

// Thaw lifts the hold of scope and key and reports whether there was one.
func (g *Guards) Thaw(scope Scope, key string) bool {
	k := holdKey{scope, key}
	_, ok := g.holds[k]
	delete(g.holds, k)
	return ok
}

// Marks returns the watermarks, the global one first, then by member, as
// [Tokens.Marks] does.
func (g *Guards) Marks() []Mark {
	var out []Mark
	if !g.global.IsZero() {
		out = append(out, g.global)
	}
	members := make([]Mark, 0, len(g.members))
	for _, m := range g.members {
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b Mark) int { return strings.Compare(a.Member, b.Member) })
	return append(out, members...)
}

// Holds returns the holds ordered by scope then key, as [Holds.Holds] does.
func (g *Guards) Holds() []Hold {
	out := make([]Hold, 0, len(g.holds))
	for _, h := range g.holds {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Hold) int {
		if a.Scope != b.Scope {
			return int(a.Scope) - int(b.Scope)
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// covers reports whether m revokes r: issued before its time, or recorded
// before its sequence number.
func (m Mark) covers(r *Record) bool {
	return r.IssuedAt.Before(m.Before) || r.Seq < m.Seq
}

// Revokes reports whether a watermark covers r, the global one or its
// member's.
func (g *Guards) Revokes(r *Record) bool {
	if g.global.covers(r) {
		return true
	}
	m, ok := g.members[r.Member]
	return ok && m.covers(r)
}

// Freezes reports whether a hold covers r: the global one, its batch's or
// its member's.
func (g *Guards) Freezes(r *Record) bool {
	if len(g.holds) == 0 {
		return false
	}
	if _, ok := g.holds[holdKey{ScopeGlobal, ""}]; ok {
		return true
	}
	if r.Batch != "" {
		if _, ok := g.holds[holdKey{ScopeBatch, r.Batch}]; ok {
			return true
		}
	}
	_, ok := g.holds[holdKey{ScopeMember, r.Member}]
	return ok
}

// Decide returns what Consume would answer for the record r under the
// guards g at time at, leaving aside what depends on the request (the
// secret and claims, the member's state and the confirmation): [ErrRevoked] (one by one or by a
// watermark), [ErrUsed], [ErrExpired], [ErrFrozen], in that order, or nil
// when the record is consumable. It is the one statement of those rules in
// Go: the memory store consumes by it, reports describe records by it, and
// the conformance suite checks that every store's Peek agrees with it.
func Decide(r *Record, g *Guards, at time.Time) error {
	switch {
	case r.Status == StatusRevoked || g.Revokes(r):
		return ErrRevoked
	case r.Status == StatusConsumed:
		return ErrUsed
	case !r.ExpiresAt.After(at):
		return ErrExpired
	case g.Freezes(r):
		return ErrFrozen
	}
	return nil
}

// Check runs every check of Consume on the record r for req, in contract
// order: the secret (the secret hash, compared in constant time, and the
// request's member, purpose and batch equal to the record's), then
// [Decide] at req.At, then the member's state, then, for a [Mismatched]
// request that passed them all, [ErrMismatch]. r is the record as it was
// before the request: the failure a mismatched request counts, and a
// revocation at the cap, never change its own outcome.
func Check(r *Record, g *Guards, req *ConsumeRequest) error {
	if subtle.ConstantTimeCompare(r.SecretHash[:], req.SecretHash[:]) != 1 ||
		r.Member != req.Member || r.Purpose != req.Purpose || r.Batch != req.Batch {
		return ErrSecret
	}
	if err := Decide(r, g, req.At); err != nil {
		return err
	}
	if r.State != nil && subtle.ConstantTimeCompare(r.State, req.State) != 1 {
		return ErrStale
	}
	if req.Confirmation == Mismatched {
		return ErrMismatch
	}
	return nil
}
