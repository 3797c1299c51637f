package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

// encEvent encodes a ledger payload: kind, reason, token id, member, batch,
// purpose, the presentation (identity, IP, user agent, session), count,
// actor and detail, each length-prefixed, then, for the issued entry of a
// record of a staged Insert, that Insert's id. The time is in the ledger
// member.
func encEvent(e *store.Event, staging string) string {
	count := ""
	if e.Count != 0 {
		count = fmtInt(e.Count)
	}
	p := e.Presentation
	b := make([]byte, 0, 64+len(e.Reason)+len(e.Member)+len(e.Batch)+len(e.Purpose)+len(p.Identity)+
		len(p.IP)+len(p.UserAgent)+len(p.Session)+len(e.Actor)+len(e.Detail))
	for _, f := range [...]string{string(e.Kind), e.Reason, e.TokenID, e.Member, e.Batch, e.Purpose,
		p.Identity, p.IP, p.UserAgent, p.Session, count, e.Actor, e.Detail} {
		b = enc(b, f)
	}
	if staging != "" {
		b = enc(b, staging)
	}
	return string(b)
}

// decEvent decodes a payload of encEvent, and the staged Insert's id;
// missing trailing fields are empty.
func decEvent(payload string) (store.Event, string, error) {
	var buf [14]string
	f, err := fields(payload, buf[:0])
	if err != nil || len(f) > len(buf) {
		return store.Event{}, "", errors.New("malformed ledger entry")
	}
	f = f[:len(buf)]
	e := store.Event{Kind: store.EventKind(f[0]), Reason: f[1], TokenID: f[2], Member: f[3], Batch: f[4],
		Purpose: f[5], Presentation: store.Presentation{Identity: f[6], IP: f[7], UserAgent: f[8], Session: f[9]},
		Actor: f[11], Detail: f[12]}
	if f[10] != "" {
		if e.Count, err = strconv.ParseInt(f[10], 10, 64); err != nil {
			return store.Event{}, "", errors.New("malformed ledger entry")
		}
	}
	return e, f[13], nil
}

// Append implements [store.Ledger]: one script call, all or nothing.
func (s *Store) Append(ctx context.Context, events ...store.Event) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateEvents(events); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	args := make([]interface{}, 1, 1+4*len(events))
	args[0] = s.k.tag
	for i := range events {
		e := &events[i]
		args = append(args, timeKey(store.UnixMicro(e.At)), encEvent(e, ""), e.Batch, e.Member)
	}
	if err := appendScript.Run(ctx, s.c, []string{s.k.ev, s.k.led, s.k.seq}, args...).Err(); err != nil {
		return unavailable("append", err)
	}
	return nil
}

// Events implements [store.Ledger]. It reads the ledger zset of the query's
// batch, else of its member, else the whole ledger, from the query's window
// and cursor on, so that it never reads entries outside them.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, "", err
	}
	if err := q.Validate(); err != nil {
		return nil, "", err
	}
	if q.After != "" && !validCursor(q.After) {
		return nil, "", fmt.Errorf("%w: malformed ledger cursor", store.ErrInvalid)
	}
	key := s.k.led
	switch {
	case q.Batch != "":
		key = s.k.batchLedger(q.Batch)
	case q.Member != "":
		key = s.k.memberLedger(q.Member)
	}
	lo, hi := "-", "+"
	if !q.Since.IsZero() {
		lo = "[" + timeKey(store.UnixMicroCeil(q.Since))
	}
	if q.After != "" && (lo == "-" || q.After >= lo[1:]) {
		lo = "(" + q.After
	}
	if !q.Until.IsZero() {
		hi = "(" + timeKey(store.UnixMicroCeil(q.Until))
	}
	derivedOnly := len(q.Kinds) > 0 && !slices.ContainsFunc(q.Kinds, func(k store.EventKind) bool {
		return k != store.EventIssued && k != store.EventConsumed
	})
	limit := q.PageSize()
	chunk := int64(min(limit+1, 1000))
	var out []store.Event
	var gone []interface{}
	committed := map[string]bool{}
	for len(out) <= limit {
		ms, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: key, Start: lo, Stop: hi, ByLex: true, Count: chunk}).Result()
		if err != nil {
			return nil, "", unavailable("events", err)
		}
		if len(ms) == 0 {
			break
		}
		lo = "(" + ms[len(ms)-1]
		evs, missing, err := s.entries(ctx, wanted(ms, &q, derivedOnly), committed)
		if err != nil {
			return nil, "", err
		}
		gone = append(gone, missing...)
		for i := range evs {
			if q.Match(&evs[i]) {
				out = append(out, evs[i])
				if len(out) > limit {
					break
				}
			}
		}
		if int64(len(ms)) < chunk {
			break
		}
	}
	if len(gone) > 0 {
		s.c.ZRem(ctx, key, gone...)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Cursor
	}
	return out, next, nil
}

// wanted returns the ledger members of ms of the kinds q wants: the kind
// in the member tells issued and consumed entries apart without reading
// them.
func wanted(ms []string, q *store.EventQuery, derivedOnly bool) []string {
	var want []string
	for _, m := range ms {
		switch entryKind(m) {
		case 0:
			continue
		case entryIssued:
			if !q.Wants(store.EventIssued) {
				continue
			}
		case entryConsumed:
			if !q.Wants(store.EventConsumed) {
				continue
			}
		default:
			if derivedOnly {
				continue
			}
		}
		want = append(want, m)
	}
	return want
}

// entries reads the ledger entries of the members ms, leaving out the
// issued entries of records whose Insert has not committed (committed
// caches what is known), and returns the members whose payload is gone
// (purged while listed, or left by an interrupted purge).
func (s *Store) entries(ctx context.Context, ms []string, committed map[string]bool) ([]store.Event, []interface{}, error) {
	if len(ms) == 0 {
		return nil, nil, nil
	}
	payloads, err := s.c.HMGet(ctx, s.k.ev, ms...).Result()
	if err != nil {
		return nil, nil, unavailable("events", err)
	}
	evs := make([]store.Event, 0, len(ms))
	xs := make([]string, 0, len(ms))
	var gone []interface{}
	for i, m := range ms {
		p, ok := payloads[i].(string)
		if !ok {
			gone = append(gone, m)
			continue
		}
		e, x, err := decEvent(p)
		if err != nil {
			return nil, nil, unavailable("events", err)
		}
		us, _ := parseTimeKey(m)
		e.At, e.Cursor = store.FromUnixMicro(us), m
		evs, xs = append(evs, e), append(xs, x)
	}
	if err := s.committed(ctx, committed, xs); err != nil {
		return nil, nil, err
	}
	out := evs[:0]
	for i := range evs {
		if xs[i] == "" || committed[xs[i]] {
			out = append(out, evs[i])
		}
	}
	return out, gone, nil
}
