package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// eventWidth is the number of columns Append writes a row.
const eventWidth = 14

// Append implements [store.Ledger]: one multi-row INSERT, or chunks of
// insertChunk rows in one transaction; all or nothing.
func (s *Store) Append(ctx context.Context, events ...store.Event) error {
	if err := ctx.Err(); err != nil {
		return s.unavailable("append", err)
	}
	if len(events) == 0 {
		return nil
	}
	if err := store.ValidateEvents(events); err != nil {
		return err
	}
	chunk := func(ctx context.Context, x execerContext, evs []store.Event) error {
		args := make([]any, 0, eventWidth*len(evs))
		for i := range evs {
			e := &evs[i]
			var tid any
			if id, ok := store.ParseID(e.TokenID); ok {
				tid = id[:]
			}
			args = append(args, store.Micro(e.At), string(e.Kind), e.Reason, tid, e.Member, e.Batch, e.Purpose,
				e.Presentation.Identity, e.Presentation.IP, e.Presentation.UserAgent, e.Presentation.Session,
				e.Count, e.Actor, e.Detail)
		}
		_, err := x.ExecContext(ctx, s.sql.append+rows(len(evs), eventWidth), args...)
		return err
	}
	err := retry(ctx, func() error {
		if len(events) <= insertChunk {
			return chunk(ctx, s.db, events)
		}
		return s.inTx(ctx, func(tx *sql.Tx) error {
			for i := 0; i < len(events); i += insertChunk {
				if err := chunk(ctx, tx, events[i:min(i+insertChunk, len(events))]); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
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
	id  [16]byte // ordIssued, ordConsumed
	seq uint64   // ordAppended
}

func (k eventKey) String() string {
	key := store.FormatID(k.id)
	if k.ord == ordAppended {
		key = strconv.FormatUint(k.seq, 10)
	}
	return strconv.FormatInt(store.UnixMicro(k.at), 10) + "." + strconv.Itoa(k.ord) + "." + key
}

func parseEventKey(c string) (eventKey, error) {
	bad := fmt.Errorf("%w: mysqlstore: malformed ledger cursor", store.ErrInvalid)
	at, rest, ok1 := strings.Cut(c, ".")
	ord, key, ok2 := strings.Cut(rest, ".")
	us, err1 := strconv.ParseInt(at, 10, 64)
	o, err2 := strconv.Atoi(ord)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || o < ordIssued || o > ordAppended {
		return eventKey{}, bad
	}
	k := eventKey{at: store.FromUnixMicro(us), ord: o}
	if o == ordAppended {
		seq, err := strconv.ParseUint(key, 10, 64)
		if err != nil {
			return eventKey{}, bad
		}
		k.seq = seq
		return k, nil
	}
	id, ok := store.ParseID(key)
	if !ok {
		return eventKey{}, bad
	}
	k.id = id
	return k, nil
}

// eventQuery builds the ledger query: one branch per source, each with the
// filters, the cursor and the limit pushed down so that it can use the
// indexes, merged in key order. Placeholders are positional: text and
// arguments are appended together, in order.
type eventQuery struct {
	q     *store.EventQuery
	cur   *eventKey
	limit int
	sql   strings.Builder
	args  []any
}

func (b *eventQuery) w(parts ...string) {
	for _, p := range parts {
		b.sql.WriteString(p)
	}
}

func (b *eventQuery) arg(v any) string {
	b.args = append(b.args, v)
	return "?"
}

// filters writes the conditions of one branch on the alias x (t or e),
// whose time column is at and whose key column is key, for entries of ord.
func (b *eventQuery) filters(x, at, key string, ord int) {
	if b.q.Batch != "" {
		b.w(" AND ", x, ".batch = ", b.arg(b.q.Batch))
	}
	if b.q.Member != "" {
		b.w(" AND ", x, ".member = ", b.arg(b.q.Member))
	}
	if !b.q.Since.IsZero() {
		b.w(" AND ", at, " >= ", b.arg(store.MicroCeil(b.q.Since)))
	}
	if !b.q.Until.IsZero() {
		b.w(" AND ", at, " < ", b.arg(store.MicroCeil(b.q.Until)))
	}
	k := b.cur
	switch {
	case k == nil:
	case ord > k.ord:
		b.w(" AND ", at, " >= ", b.arg(k.at))
	case ord < k.ord:
		b.w(" AND ", at, " > ", b.arg(k.at))
	default:
		var kv any = k.id[:]
		if ord == ordAppended {
			kv = k.seq
		}
		b.w(" AND (", at, " > ", b.arg(k.at), " OR (", at, " = ", b.arg(k.at), " AND ", key, " > ", b.arg(kv), "))")
	}
	b.w(" ORDER BY ", at, ", ", key, " LIMIT ", b.arg(b.limit), ")")
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
	b := &eventQuery{q: &q, limit: q.PageSize() + 1}
	if q.After != "" {
		k, err := parseEventKey(q.After)
		if err != nil {
			return nil, "", err
		}
		b.cur = &k
	}
	union := func() {
		if b.sql.Len() > 0 {
			b.w(" UNION ALL ")
		}
	}
	if q.Wants(store.EventIssued) {
		b.w(s.sql.eventsIssued)
		b.filters("t", "t.issued_at", "t.id", ordIssued)
	}
	if q.Wants(store.EventConsumed) {
		union()
		b.w(s.sql.eventsConsumed)
		b.filters("t", "t.consumed_at", "t.id", ordConsumed)
	}
	var kinds []string
	for _, k := range q.Kinds {
		if k != store.EventIssued && k != store.EventConsumed {
			kinds = append(kinds, string(k))
		}
	}
	if len(q.Kinds) == 0 || len(kinds) > 0 {
		union()
		b.w(s.sql.eventsAppended)
		if len(kinds) > 0 {
			b.w(" AND e.kind IN (", strings.Repeat("?, ", len(kinds)-1), "?)")
			for _, k := range kinds {
				b.args = append(b.args, k)
			}
		}
		b.filters("e", "e.occurred_at", "e.seq", ordAppended)
	}
	b.w(" ORDER BY at, ord, kid, kseq LIMIT ", b.arg(b.limit))
	evs, err := collect(ctx, s.db, b.sql.String(), b.args, scanEvent)
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

func scanEvent(rows *sql.Rows) (store.Event, error) {
	var (
		e        store.Event
		k        eventKey
		kid, tid []byte
		kind     string
	)
	err := rows.Scan(&e.At, &k.ord, &kid, &k.seq, &kind, &e.Reason, &tid, &e.Member, &e.Batch, &e.Purpose,
		&e.Presentation.Identity, &e.Presentation.IP, &e.Presentation.UserAgent, &e.Presentation.Session,
		&e.Count, &e.Actor, &e.Detail)
	if err != nil {
		return e, err
	}
	if len(kid) == 16 {
		k.id = [16]byte(kid)
	}
	if len(tid) == 16 {
		e.TokenID = store.FormatID([16]byte(tid))
	}
	e.At, e.Kind = e.At.UTC(), store.EventKind(kind)
	k.at = e.At
	e.Cursor = k.String()
	return e, nil
}
