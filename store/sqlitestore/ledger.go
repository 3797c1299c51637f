package sqlitestore

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/oncelink/oncelink/store"
)

// Append implements [store.Ledger]: one transaction.
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
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("append", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, appendSQL)
	if err != nil {
		return unavailable("append", err)
	}
	defer st.Close()
	for i := range events {
		e := &events[i]
		var token any
		if e.TokenID != "" {
			id, _ := parseID(e.TokenID)
			token = id
		}
		p := &e.Presentation
		if _, err := st.ExecContext(ctx, store.UnixMicro(e.At), string(e.Kind), e.Reason, token, e.Member, e.Batch, e.Purpose,
			p.Identity, p.IP, p.UserAgent, p.Session, e.Count, e.Actor, e.Detail); err != nil {
			return unavailable("append", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable("append", err)
	}
	return nil
}

// Ledger order: entries sort by time, then issued (0) before consumed (1)
// before appended (2), then by token id or sequence number. The cursor is
// "<at>.<ord>.<key>", key being the hex id or the sequence number.
const (
	ordIssued   = 0
	ordConsumed = 1
	ordAppended = 2
)

type cursor struct {
	at  int64
	ord int
	key any // []byte for ordIssued and ordConsumed, int64 for ordAppended
}

func (c cursor) String() string {
	k := ""
	switch v := c.key.(type) {
	case []byte:
		k = hex.EncodeToString(v)
	case int64:
		k = strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(c.at, 10) + "." + strconv.Itoa(c.ord) + "." + k
}

func parseCursor(s string) (cursor, error) {
	bad := fmt.Errorf("%w: sqlite: malformed ledger cursor", store.ErrInvalid)
	at, rest, ok1 := strings.Cut(s, ".")
	ord, key, ok2 := strings.Cut(rest, ".")
	us, err1 := strconv.ParseInt(at, 10, 64)
	o, err2 := strconv.Atoi(ord)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return cursor{}, bad
	}
	c := cursor{at: us, ord: o}
	switch o {
	case ordIssued, ordConsumed:
		id, err := hex.DecodeString(key)
		if err != nil || len(id) != 16 {
			return cursor{}, bad
		}
		c.key = id
	case ordAppended:
		seq, err := strconv.ParseInt(key, 10, 64)
		if err != nil {
			return cursor{}, bad
		}
		c.key = seq
	default:
		return cursor{}, bad
	}
	return c, nil
}

// arm is one SELECT of the ledger query, ordered by (at, key) within itself.
type arm struct {
	ord      int
	sel      string // the columns
	from     string // FROM and the conditions the arm always has
	at, key  string // its time and key columns
	appended bool
}

var arms = [...]arm{
	{ordIssued, `issued_at, 0, id, 'issued', '', id, member, batch, purpose, '', '', '', '', 0, '', recipient`,
		"FROM tokens WHERE 1", "issued_at", "id", false},
	{ordConsumed, `consumed_at, 1, id, 'consumed', '', id, member, batch, purpose,
		consumer_identity, consumer_ip, consumer_agent, consumer_session, 0, '', ''`,
		"FROM tokens WHERE consumed_at IS NOT NULL", "consumed_at", "id", false},
	{ordAppended, `at, 2, seq, kind, reason, token_id, member, batch, purpose, identity, ip, agent, session, n, actor, detail`,
		"FROM events WHERE 1", "at", "seq", true},
}

// eventsQuery builds the ledger query: one arm per source the query
// wants, each with the filters and the cursor condition, so that each arm
// can walk an index in order; the last parameter, the limit, is left to
// the caller. It returns "" when no source is wanted.
func eventsQuery(q *store.EventQuery, after *cursor) (string, []any) {
	var appendedKinds []any
	for _, k := range q.Kinds {
		if k != store.EventIssued && k != store.EventConsumed {
			appendedKinds = append(appendedKinds, string(k))
		}
	}
	var parts []string
	var args []any
	for _, a := range arms {
		switch {
		case a.ord == ordIssued && !q.Wants(store.EventIssued),
			a.ord == ordConsumed && !q.Wants(store.EventConsumed),
			a.appended && len(q.Kinds) > 0 && len(appendedKinds) == 0:
			continue
		}
		b := "SELECT " + a.sel + " " + a.from
		if q.Batch != "" {
			b += " AND batch = ?"
			args = append(args, q.Batch)
		}
		if q.Member != "" {
			b += " AND member = ?"
			args = append(args, q.Member)
		}
		if a.appended && len(q.Kinds) > 0 {
			b += " AND kind IN (" + strings.TrimSuffix(strings.Repeat("?,", len(appendedKinds)), ",") + ")"
			args = append(args, appendedKinds...)
		}
		if !q.Since.IsZero() {
			b += " AND " + a.at + " >= ?"
			args = append(args, store.UnixMicroCeil(q.Since))
		}
		if !q.Until.IsZero() {
			b += " AND " + a.at + " < ?"
			args = append(args, store.UnixMicroCeil(q.Until))
		}
		if after != nil {
			switch {
			case a.ord > after.ord:
				b += " AND " + a.at + " >= ?"
				args = append(args, after.at)
			case a.ord < after.ord:
				b += " AND " + a.at + " > ?"
				args = append(args, after.at)
			default:
				b += " AND (" + a.at + " > ? OR (" + a.at + " = ? AND " + a.key + " > ?))"
				args = append(args, after.at, after.at, after.key)
			}
		}
		parts = append(parts, b)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, " UNION ALL ") + " ORDER BY 1, 2, 3 LIMIT ?", args
}

// Events implements [store.Ledger]: one compound SELECT over the appended
// events and the entries derived from tokens, merged in ledger order, with
// keyset pagination.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, "", err
	}
	if err := q.Validate(); err != nil {
		return nil, "", err
	}
	var after *cursor
	if q.After != "" {
		c, err := parseCursor(q.After)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	query, args := eventsQuery(&q, after)
	if query == "" {
		return nil, "", nil
	}
	limit := q.PageSize()
	rows, err := s.r.QueryContext(ctx, query, append(args, limit+1)...)
	if err != nil {
		return nil, "", unavailable("events", err)
	}
	defer rows.Close()
	var out []store.Event
	var keys []cursor
	for rows.Next() {
		var e store.Event
		var c cursor
		var key any
		var kind string
		var token []byte
		p := &e.Presentation
		if err := rows.Scan(&c.at, &c.ord, &key, &kind, &e.Reason, &token, &e.Member, &e.Batch, &e.Purpose,
			&p.Identity, &p.IP, &p.UserAgent, &p.Session, &e.Count, &e.Actor, &e.Detail); err != nil {
			return nil, "", unavailable("events", err)
		}
		switch k := key.(type) {
		case []byte:
			c.key = bytes.Clone(k)
		case int64:
			c.key = k
		default:
			return nil, "", fmt.Errorf("%w: sqlite: events: unexpected key type %T", store.ErrUnavailable, key)
		}
		if token != nil {
			if e.TokenID, err = formatID(token); err != nil {
				return nil, "", err
			}
		}
		e.At, e.Kind, e.Cursor = store.FromUnixMicro(c.at), store.EventKind(kind), c.String()
		out = append(out, e)
		keys = append(keys, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", unavailable("events", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = keys[limit-1].String()
	}
	return out, next, nil
}
