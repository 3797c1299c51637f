package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/oncelink/oncelink/store"
)

// ErrDamaged: the store's control key, which holds its freezes and
// watermarks and says that the store exists, is missing while the store
// holds data: it was evicted, deleted or lost in a restart. The store then
// refuses every link (the error wraps [store.ErrUnavailable] too), since
// it can no longer tell which are frozen or revoked. [RepairControl] opens
// it again, revoking every link recorded before.
var ErrDamaged = errors.New("redis: damaged store: the control key is missing")

func errDamaged(op string) error {
	return fmt.Errorf("%w: %w: %s (evicted, deleted or lost in a restart): every link is refused; open the store with RepairControl to revoke the links recorded before and start again",
		store.ErrUnavailable, ErrDamaged, op)
}

// openControl finds the store's control key, creating it for a new store
// or repairing it as mode says (see controlScript).
func (s *Store) openControl(ctx context.Context, mode string) error {
	keys := []string{s.k.ctl, s.k.rseq, s.k.all, s.k.seq, s.k.led, s.k.ev, s.k.exp, s.k.xc, s.k.px, s.k.bn, s.k.hits}
	v, err := controlScript.Run(ctx, s.c, keys, mode).Result()
	if err != nil {
		return unavailable("open", err)
	}
	switch v {
	case int64(controlOK), int64(controlUpgraded), int64(controlCreated), int64(controlRepaired):
		return nil
	case int64(controlNone):
		return fmt.Errorf("%w: redis: no store under the prefix %s", store.ErrNoStore, s.k.tag)
	case int64(controlDamaged):
		return errDamaged("open " + s.k.tag)
	}
	return unavailable("open", fmt.Errorf("unexpected reply %v", v))
}

// written turns the reply of a script that writes the control hash into an
// error.
func written(op string, v interface{}, err error) error {
	if err != nil {
		return unavailable(op, err)
	}
	if v == int64(replyDamaged) {
		return errDamaged(op)
	}
	return nil
}

// control reads the control hash; a missing one is a damaged store.
func (s *Store) control(ctx context.Context) (*store.Guards, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	ctl, err := s.c.HGetAll(ctx, s.k.ctl).Result()
	if err != nil {
		return nil, unavailable("control", err)
	}
	if _, ok := ctl[ctlExists]; !ok {
		return nil, errDamaged("control")
	}
	return guardsOf(ctl)
}

// guardsOf parses the fields of the control hash.
func guardsOf(ctl map[string]string) (*store.Guards, error) {
	g := store.NewGuards(nil, nil)
	for f, v := range ctl {
		var err error
		if member, ok := controlKey(f, ctlGlobalTime, ctlMemberTime); ok {
			m := store.Mark{Member: member}
			m.Before, err = fromMicro(v)
			g.Mark(m)
		} else if member, ok := controlKey(f, ctlGlobalSeq, ctlMemberSeq); ok {
			m := store.Mark{Member: member}
			m.Seq, err = strconv.ParseInt(v, 10, 64)
			g.Mark(m)
		} else if h, ok := holdOf(f); ok {
			since, reason, _ := strings.Cut(v, ":")
			h.Since, err = fromMicro(since)
			h.Reason = reason
			g.Freeze(h)
		}
		if err != nil {
			return nil, unavailable("control", errors.New("malformed control field "+f))
		}
	}
	return g, nil
}

// controlKey returns the member of a control field that is global or
// starts with prefix: "" for the global one.
func controlKey(f, global, prefix string) (string, bool) {
	if f == global {
		return "", true
	}
	return strings.CutPrefix(f, prefix)
}

// holdOf returns the hold a control field holds, without its value.
func holdOf(f string) (store.Hold, bool) {
	if f == ctlGlobalHold {
		return store.Hold{Scope: store.ScopeGlobal}, true
	}
	if b, ok := strings.CutPrefix(f, ctlBatchHold); ok {
		return store.Hold{Scope: store.ScopeBatch, Key: b}, true
	}
	if m, ok := strings.CutPrefix(f, ctlMemberHold); ok {
		return store.Hold{Scope: store.ScopeMember, Key: m}, true
	}
	return store.Hold{}, false
}
