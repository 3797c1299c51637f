package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// The control hash {p}:ctl holds every watermark and hold, and "v", which
// says that the store exists: time watermarks "mg" (global) and
// "mm:<member>" (µs), sequence watermarks "sg" and "sm:<member>", holds
// "hg", "hb:<batch>" and "hm:<member>" ("<since µs>:<reason>"). Every
// script that writes it refuses to when "v" is missing, so that a write
// never recreates a control key that was lost.

// markFields returns the time and sequence fields of member's watermarks.
func markFields(member string) (at, seq string) {
	if member == "" {
		return "mg", "sg"
	}
	return "mm:" + member, "sm:" + member
}

// holdField is the field of the control hash that holds a hold.
func holdField(scope store.Scope, key string) string {
	switch scope {
	case store.ScopeBatch:
		return "hb:" + key
	case store.ScopeMember:
		return "hm:" + key
	}
	return "hg"
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

// Watermark implements [store.Tokens]: one script call, one field written.
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	field, _ := markFields(member)
	v, err := watermarkScript.Run(ctx, s.c, []string{s.kCtl}, field, fmtInt(ceilMicro(before))).Result()
	return written("watermark", v, err)
}

// WatermarkNow implements [store.Tokens]: one script call draws the next
// number of the record sequence and raises the member's sequence mark to
// it. Scripts run one at a time, so every Insert that drew its number
// before is covered and every later one is not; a staged Insert draws its
// number when it commits.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Mark{}, err
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	at, seq := markFields(member)
	v, err := watermarkNowScript.Run(ctx, s.c, []string{s.kCtl, s.kRSeq}, seq, at).Result()
	if err := written("watermark", v, err); err != nil {
		return store.Mark{}, err
	}
	res, _ := v.([]interface{})
	if len(res) != 2 {
		return store.Mark{}, unavailable("watermark", errors.New("malformed reply"))
	}
	ctl := map[string]string{}
	for i, f := range []string{seq, at} {
		if str, _ := res[i].(string); str != "" {
			ctl[f] = str
		}
	}
	g, err := guardsOf(ctl)
	if err != nil {
		return store.Mark{}, err
	}
	return g.MarkOf(member), nil
}

// control reads the control hash; a missing one is a damaged store.
func (s *Store) control(ctx context.Context) (*store.Guards, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	ctl, err := s.c.HGetAll(ctx, s.kCtl).Result()
	if err != nil {
		return nil, unavailable("control", err)
	}
	if _, ok := ctl["v"]; !ok {
		return nil, errDamaged("control")
	}
	return guardsOf(ctl)
}

// guardsOf parses the fields of the control hash.
func guardsOf(ctl map[string]string) (*store.Guards, error) {
	g := store.NewGuards(nil, nil)
	for k, v := range ctl {
		kind, key, _ := strings.Cut(k, ":")
		var err error
		switch kind {
		case "mg", "mm":
			var m store.Mark
			m.Member = key
			m.Before, err = fromMicro(v)
			g.Mark(m)
		case "sg", "sm":
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			g.Mark(store.Mark{Member: key, Seq: n})
		case "hg", "hb", "hm":
			h := store.Hold{Scope: map[string]store.Scope{"hg": store.ScopeGlobal, "hb": store.ScopeBatch, "hm": store.ScopeMember}[kind], Key: key}
			since, reason, _ := strings.Cut(v, ":")
			h.Since, err = fromMicro(since)
			h.Reason = reason
			g.Freeze(h)
		}
		if err != nil {
			return nil, unavailable("control", errors.New("malformed control field "+kind))
		}
	}
	return g, nil
}

// Marks implements [store.Tokens].
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	g, err := s.control(ctx)
	if err != nil {
		return nil, err
	}
	return g.Marks(), nil
}

// Freeze implements [store.Holds].
func (s *Store) Freeze(ctx context.Context, h store.Hold) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	since := ""
	if !h.Since.IsZero() {
		since = fmtInt(micro(h.Since))
	}
	v, err := freezeScript.Run(ctx, s.c, []string{s.kCtl}, holdField(h.Scope, h.Key), since+":"+h.Reason).Result()
	return written("freeze", v, err)
}

// Thaw implements [store.Holds].
func (s *Store) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, err
	}
	v, err := thawScript.Run(ctx, s.c, []string{s.kCtl}, holdField(scope, key)).Result()
	if err := written("thaw", v, err); err != nil {
		return false, err
	}
	return v == int64(1), nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	g, err := s.control(ctx)
	if err != nil {
		return nil, err
	}
	return g.Holds(), nil
}
