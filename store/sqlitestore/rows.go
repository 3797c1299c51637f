package sqlitestore

import (
	"database/sql"
	"fmt"

	"github.com/oncelink/oncelink/store"
)

// row is a record as scanned, in the order of recordCols.
type row struct {
	id, secret, state                 []byte
	member, purpose, batch, recipient string
	issued, expires, seq              int64
	status, failures                  int64
	consumed, revoked                 sql.NullInt64
	identity, ip, agent, session      string
}

func (x *row) dest(extra ...any) []any {
	return append([]any{&x.id, &x.member, &x.purpose, &x.batch, &x.recipient, &x.secret, &x.state,
		&x.issued, &x.expires, &x.status, &x.failures, &x.consumed, &x.revoked,
		&x.identity, &x.ip, &x.agent, &x.session, &x.seq}, extra...)
}

func (x *row) record() (store.Record, error) {
	id, err := formatID(x.id)
	if err != nil {
		return store.Record{}, err
	}
	if len(x.secret) != 32 {
		return store.Record{}, fmt.Errorf("%w: sqlite: stored secret hash of %d bytes", store.ErrUnavailable, len(x.secret))
	}
	r := store.Record{
		ID:         id,
		Member:     x.member,
		Purpose:    x.purpose,
		Batch:      x.batch,
		Recipient:  x.recipient,
		SecretHash: [32]byte(x.secret),
		State:      x.state,
		IssuedAt:   store.FromUnixMicro(x.issued),
		ExpiresAt:  store.FromUnixMicro(x.expires),
		Seq:        x.seq,
		Status:     store.Status(x.status),
		Failures:   int(x.failures),
		ConsumedAt: fromMicro(x.consumed),
		RevokedAt:  fromMicro(x.revoked),
		Consumer:   store.Presentation{Identity: x.identity, IP: x.ip, UserAgent: x.agent, Session: x.session},
	}
	return r, nil
}

// queryRecords runs a query returning recordCols rows to the end: for a
// write with RETURNING, the last step is the one that commits.
func queryRecords(rows *sql.Rows, err error) ([]store.Record, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		var x row
		if err := rows.Scan(x.dest()...); err != nil {
			return nil, err
		}
		r, err := x.record()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}
