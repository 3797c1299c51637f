package postgresstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncelink/oncelink/store"
)

// Append implements [store.Ledger] in one INSERT.
func (s *Store) Append(ctx context.Context, events ...store.Event) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("append", err)
	}
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		at                                    = make([]time.Time, n)
		kind, reason, tid, member, batch, pur = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ident, ip, ua, sess, actor, detail    = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		count                                 = make([]int64, n)
	)
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			return err
		}
		at[i], kind[i], reason[i], tid[i] = store.Micro(e.At), string(e.Kind), e.Reason, e.TokenID
		member[i], batch[i], pur[i] = e.Member, e.Batch, e.Purpose
		ident[i], ip[i], ua[i], sess[i] = e.Presentation.Identity, e.Presentation.IP, e.Presentation.UserAgent, e.Presentation.Session
		count[i], actor[i], detail[i] = e.Count, e.Actor, e.Detail
	}
	if _, err := s.pool.Exec(ctx, s.sql.appendEvents, at, kind, reason, tid, member, batch, pur,
		ident, ip, ua, sess, count, actor, detail); err != nil {
		return s.unavailable("append", err)
	}
	return nil
}

// Ledger entries are ordered by (time, ord, key): issued entries (ord 0)
// before consumed ones (1) before appended events (2) at the same
// microsecond, then by token id or by sequence number. A cursor is that
// triple as "<unix µs>.<ord>.<id or seq>".
const (
	ordIssued   = 0
	ordConsumed = 1
	ordAppended = 2
)

type eventKey struct {
	at  time.Time
	ord int
	id  string // ordIssued, ordConsumed
	seq int64  // ordAppended
}

func (k eventKey) String() string {
	key := k.id
	if k.ord == ordAppended {
		key = strconv.FormatInt(k.seq, 10)
	}
	return strconv.FormatInt(store.UnixMicro(k.at), 10) + "." + strconv.Itoa(k.ord) + "." + key
}

func parseEventKey(c string) (eventKey, error) {
	bad := fmt.Errorf("%w: postgres: malformed ledger cursor", store.ErrInvalid)
	at, rest, ok1 := strings.Cut(c, ".")
	ord, key, ok2 := strings.Cut(rest, ".")
	us, err1 := strconv.ParseInt(at, 10, 64)
	o, err2 := strconv.Atoi(ord)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || o < ordIssued || o > ordAppended {
		return eventKey{}, bad
	}
	k := eventKey{at: store.FromUnixMicro(us), ord: o}
	if o == ordAppended {
		seq, err := strconv.ParseInt(key, 10, 64)
		if err != nil || seq < 0 {
			return eventKey{}, bad
		}
		k.seq = seq
	} else {
		if !store.ValidID(key) {
			return eventKey{}, bad
		}
		k.id = key
	}
	return k, nil
}

// eventQuery builds the ledger query: one branch per source, each with the
// filters, the cursor and the limit pushed down so that it can use the
// indexes, merged in key order.
type eventQuery struct {
	q        *store.EventQuery
	cur      *eventKey // the cursor, nil for the first page
	args     []any
	branches []string
}

func (b *eventQuery) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// after renders the cursor condition for a branch of the given ord, whose
// time column is at and whose key column and cast are key.
func (b *eventQuery) after(ord int, at, key string, keyVal any) string {
	k := b.cur
	switch {
	case k == nil:
		return ""
	case ord > k.ord:
		return " AND " + at + " >= " + b.arg(k.at)
	case ord < k.ord:
		return " AND " + at + " > " + b.arg(k.at)
	}
	t := b.arg(k.at)
	return " AND (" + at + " > " + t + " OR (" + at + " = " + t + " AND " + key + " > " + b.arg(keyVal) + "))"
}

func (b *eventQuery) window(at string) string {
	var w string
	if !b.q.Since.IsZero() {
		w += " AND " + at + " >= " + b.arg(store.MicroCeil(b.q.Since))
	}
	if !b.q.Until.IsZero() {
		w += " AND " + at + " < " + b.arg(store.MicroCeil(b.q.Until))
	}
	return w
}

// build returns the ledger query, its arguments in b.args.
func (b *eventQuery) build(st *statements) string {
	q := b.q
	limit := b.arg(q.PageSize() + 1)
	var who string
	// The <> '' conditions let generic plans use the partial indexes.
	if q.Batch != "" {
		who += " AND t.batch = " + b.arg(q.Batch) + " AND t.batch <> ''"
	}
	if q.Member != "" {
		who += " AND t.member = " + b.arg(q.Member) + " AND t.member <> ''"
	}
	var id string
	var seq int64
	if b.cur != nil && b.cur.ord != ordAppended {
		id = b.cur.id
	} else if b.cur != nil {
		seq = b.cur.seq
	}
	if q.Wants(store.EventIssued) {
		b.branches = append(b.branches, st.issuedEntries+who+b.window("t.issued_at")+
			b.after(ordIssued, "t.issued_at", "t.id", id)+"\nORDER BY 1, 3 LIMIT "+limit)
	}
	if q.Wants(store.EventConsumed) {
		b.branches = append(b.branches, st.consumedEntries+who+b.window("t.consumed_at")+
			b.after(ordConsumed, "t.consumed_at", "t.id", id)+"\nORDER BY 1, 3 LIMIT "+limit)
	}
	var kinds []string
	for _, k := range q.Kinds {
		if k != store.EventIssued && k != store.EventConsumed {
			kinds = append(kinds, string(k))
		}
	}
	if len(q.Kinds) == 0 || len(kinds) > 0 {
		cond := strings.ReplaceAll(who, "t.", "e.")
		if len(kinds) > 0 {
			cond += " AND e.kind = ANY(" + b.arg(kinds) + "::text[])"
		}
		b.branches = append(b.branches, st.appendedEntries+cond+b.window("e.occurred_at")+
			b.after(ordAppended, "e.occurred_at", "e.seq", seq)+"\nORDER BY 1, 4 LIMIT "+limit)
	}
	return "SELECT * FROM ((" + strings.Join(b.branches, ") UNION ALL (") + ")) x ORDER BY at, ord, kid, kseq LIMIT " + limit
}

// Events implements [store.Ledger]: appended events and the entries derived
// from the records, merged in one query.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", s.unavailable("events", err)
	}
	if err := q.Validate(); err != nil {
		return nil, "", err
	}
	b := &eventQuery{q: &q}
	if q.After != "" {
		k, err := parseEventKey(q.After)
		if err != nil {
			return nil, "", err
		}
		b.cur = &k
	}
	rows, _ := s.pool.Query(ctx, b.build(&s.sql), b.args...)
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, "", s.unavailable("events", err)
	}
	next := ""
	if len(evs) > q.PageSize() {
		evs = evs[:q.PageSize()]
		next = evs[len(evs)-1].Cursor
	}
	return evs, next, nil
}

// scanEvent reads a row of the ledger query, with its cursor.
func scanEvent(row pgx.CollectableRow) (store.Event, error) {
	var (
		e    store.Event
		k    eventKey
		kid  *string
		kind string
	)
	err := row.Scan(&e.At, &k.ord, &kid, &k.seq, &kind, &e.Reason, &e.TokenID, &e.Member, &e.Batch, &e.Purpose,
		&e.Presentation.Identity, &e.Presentation.IP, &e.Presentation.UserAgent, &e.Presentation.Session,
		&e.Count, &e.Actor, &e.Detail)
	e.At, e.Kind = e.At.UTC(), store.EventKind(kind)
	k.at, k.id = e.At, deref(kid)
	e.Cursor = k.String()
	return e, err
}
