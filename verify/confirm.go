package verify

import (
	"fmt"
	"strings"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

func (v *Verifier) policy(purpose string) Policy {
	if p, ok := v.cfg.policies[purpose]; ok {
		return p
	}
	return v.cfg.fallback
}

// needs returns the kinds that can confirm vt under policy.
func needs(vt *token.Verified, p Policy) Confirm {
	if p.UnsafeNoConfirmation {
		return 0
	}
	n := p.accepts(vt.Batch != "")
	if !vt.BoundEmail {
		n &^= ConfirmEmail
	}
	if !vt.BoundNumber {
		n &^= ConfirmNumber
	}
	return n
}

// confirmation is how the presented identities compared with a link.
type confirmation struct {
	// compared: an identity was compared with a binding (or could not be
	// an identity at all): a guess was made.
	compared bool
	// mismatch: a compared identity did not match.
	mismatch bool
	// sufficient: the policy is satisfied.
	sufficient bool
	// kind is the kind that did not match, for the error.
	kind string
	// confirmed is the canonical identity that satisfied the policy;
	// presented is the identity to record: the one that did not match, or
	// the one that matched.
	confirmed, presented string
}

// store returns what the store is told.
func (c *confirmation) store() store.Confirmation {
	switch {
	case c.mismatch:
		return store.Mismatched
	case c.compared:
		return store.Confirmed
	}
	return store.Unconfirmed
}

// confirm compares every presented identity with the link and applies the
// policy. A value that cannot be an identity cannot match; it is recorded
// as a keyed fingerprint ([token.Parser.Fingerprint]), never as typed.
func (v *Verifier) confirm(vt *token.Verified, id Identity, p Policy) confirmation {
	all := [...]struct {
		kind  Confirm
		name  token.Kind
		value string
		canon func(string) (string, error)
	}{
		{ConfirmEmail, token.KindEmail, id.Email, token.CanonicalEmail},
		{ConfirmNumber, token.KindNumber, id.Number, token.CanonicalNumber},
		{ConfirmMember, token.KindMember, id.Member, canonicalMember},
	}
	var c confirmation
	var matched Confirm
	var fulls [len(all)]string
	for i, pi := range all {
		if pi.value == "" {
			continue
		}
		canon, err := pi.canon(pi.value)
		if err != nil {
			c.compared, c.mismatch, c.kind = true, true, string(pi.name)
			c.presented = store.CleanText(string(pi.name)+":"+v.p.Fingerprint(pi.value), store.MaxIdentityLen)
			return c
		}
		full := store.CleanText(string(pi.name)+":"+canon, store.MaxIdentityLen)
		bound, match := vt.Confirm(pi.name, canon)
		if !bound {
			continue
		}
		c.compared = true
		if !match {
			c.mismatch, c.kind, c.presented = true, string(pi.name), full
			return c
		}
		matched |= pi.kind
		fulls[i] = full
		if c.presented == "" {
			c.presented = full
		}
	}
	if accepted := p.accepts(vt.Batch != ""); matched&accepted != 0 {
		for i, pi := range all {
			if matched&accepted&pi.kind != 0 {
				c.sufficient, c.confirmed, c.presented = true, fulls[i], fulls[i]
				return c
			}
		}
	}
	c.sufficient = p.UnsafeNoConfirmation
	return c
}

func canonicalMember(s string) (string, error) {
	if s == "" || !store.ValidText(s, store.MaxMemberLen) {
		return "", fmt.Errorf("%w: member id", ErrMismatch)
	}
	return s, nil
}

// describe renders presented identities for a refusal recorded before the
// link could be read: canonical forms, or fingerprints of what is not an
// identity.
func (v *Verifier) describe(id Identity) string {
	var parts []string
	for _, pi := range [...]struct {
		name  token.Kind
		value string
		canon func(string) (string, error)
	}{
		{token.KindEmail, id.Email, token.CanonicalEmail},
		{token.KindNumber, id.Number, token.CanonicalNumber},
		{token.KindMember, id.Member, canonicalMember},
	} {
		if pi.value == "" {
			continue
		}
		c, err := pi.canon(pi.value)
		if err != nil {
			c = v.p.Fingerprint(pi.value)
		}
		parts = append(parts, string(pi.name)+":"+c)
	}
	return store.CleanText(strings.Join(parts, " "), store.MaxIdentityLen)
}

func kindOf(identity string) string {
	kind, _, _ := strings.Cut(identity, ":")
	return kind
}
