package postgresstore

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncelink/oncelink/store"
)

// scanRecord reads recordCols, after the destinations in prefix.
func scanRecord(row pgx.Row, r *store.Record, prefix ...any) error {
	var (
		secret                []byte
		status                int16
		failures              int32
		consumed, revoked     *time.Time
		identity, ip, ua, sid *string
	)
	dest := append(prefix, &r.ID, &r.Member, &r.Purpose, &r.Batch, &r.Recipient, &secret, &r.State,
		&r.IssuedAt, &r.ExpiresAt, &status, &failures, &consumed, &revoked, &identity, &ip, &ua, &sid, &r.Seq)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	copy(r.SecretHash[:], secret)
	r.IssuedAt, r.ExpiresAt = r.IssuedAt.UTC(), r.ExpiresAt.UTC()
	r.Status, r.Failures = store.Status(status), int(failures)
	if consumed != nil {
		r.ConsumedAt = consumed.UTC()
	}
	if revoked != nil {
		r.RevokedAt = revoked.UTC()
	}
	r.Consumer = store.Presentation{Identity: deref(identity), IP: deref(ip), UserAgent: deref(ua), Session: deref(sid)}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nullable stores an empty string as NULL, which costs no bytes in a row.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func stateArg(st []byte) any {
	if st == nil {
		return nil
	}
	return st
}
