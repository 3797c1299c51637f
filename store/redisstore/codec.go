package redisstore

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

func fmtInt(v int64) string { return strconv.FormatInt(v, 10) }

// fromMicro parses a time kept in unix microseconds ([store.UnixMicro]),
// "" for the zero time.
func fromMicro(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("malformed time")
	}
	return store.FromUnixMicro(v), nil
}

// enc appends a length-prefixed field: "<len>:<bytes>".
func enc(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// fields splits length-prefixed fields.
func fields(s string, out []string) ([]string, error) {
	for s != "" {
		n, rest, ok := strings.Cut(s, ":")
		l, err := strconv.Atoi(n)
		if !ok || err != nil || l < 0 || l > len(rest) {
			return nil, errors.New("malformed field")
		}
		out = append(out, rest[:l])
		s = rest[l:]
	}
	return out, nil
}

// record decodes the values of recordFields.
func record(id string, v []interface{}) (store.Record, error) {
	if len(v) != len(recordFields) {
		return store.Record{}, errors.New("malformed record reply")
	}
	str := func(i int) string { s, _ := v[i].(string); return s }
	r := store.Record{
		ID:        id,
		Member:    str(fieldMember),
		Purpose:   str(fieldPurpose),
		Batch:     str(fieldBatch),
		Recipient: str(fieldRecipient),
		Consumer: store.Presentation{Identity: str(fieldIdentity), IP: str(fieldIP), UserAgent: str(fieldAgent),
			Session: str(fieldSession)},
	}
	h := str(fieldSecret)
	if len(h) != len(r.SecretHash) {
		return store.Record{}, errors.New("malformed record")
	}
	copy(r.SecretHash[:], h)
	if st := str(fieldState); st != "" {
		r.State = []byte(st)
	}
	var err [4]error
	r.IssuedAt, err[0] = fromMicro(str(fieldIssued))
	r.ExpiresAt, err[1] = fromMicro(str(fieldExpires))
	r.ConsumedAt, err[2] = fromMicro(str(fieldConsumed))
	r.RevokedAt, err[3] = fromMicro(str(fieldRevoked))
	if e := errors.Join(err[:]...); e != nil {
		return store.Record{}, e
	}
	for _, st := range [...]store.Status{store.StatusIssued, store.StatusConsumed, store.StatusRevoked} {
		if str(fieldStatus) == statusValue(st) {
			r.Status = st
		}
	}
	if r.Status == 0 {
		return store.Record{}, errors.New("malformed record status")
	}
	if f := str(fieldFailures); f != "" {
		n, e := strconv.Atoi(f)
		if e != nil {
			return store.Record{}, errors.New("malformed record failures")
		}
		r.Failures = n
	}
	if q := str(fieldSeq); q != "" {
		n, e := strconv.ParseInt(q, 10, 64)
		if e != nil {
			return store.Record{}, errors.New("malformed record sequence")
		}
		r.Seq = n
	}
	return r, nil
}

// outcomes maps the codes of the check scripts to the contract's outcomes.
var outcomes = [...]error{0: nil, 1: store.ErrNotFound, 2: store.ErrSecret, 3: store.ErrRevoked,
	4: store.ErrUsed, 5: store.ErrExpired, 6: store.ErrFrozen, 7: store.ErrStale, codeMismatch: store.ErrMismatch}

// outcome decodes a reply {code, record fields...} of a check script.
func outcome(op, id string, v interface{}) (store.Record, error) {
	res, _ := v.([]interface{})
	if len(res) == 0 {
		return store.Record{}, unavailable(op, errors.New("malformed reply"))
	}
	code, ok := res[0].(int64)
	if ok && code == codeDamaged {
		return store.Record{}, errDamaged(op)
	}
	if !ok || code < 0 || int(code) >= len(outcomes) {
		return store.Record{}, unavailable(op, errors.New("malformed reply"))
	}
	if code == 1 {
		return store.Record{}, store.ErrNotFound
	}
	r, err := record(id, res[1:])
	if err != nil {
		return store.Record{}, unavailable(op, err)
	}
	return r, outcomes[code]
}
