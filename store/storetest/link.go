package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

// now is the base time of a test: real time, to the microsecond.
func now() time.Time { return store.Micro(time.Now()) }

// A Link is a record as an issuer inserts it, with the secret of the
// token it was minted for, so that a test can present it to a store.
type Link struct {
	store.Record
	// Secret is the token's secret; the record keeps only its SHA-256 hash.
	Secret []byte
}

// NewLink returns a valid link for member: a new UUIDv7 id, the purpose
// "login", no batch, recipient or state, a random secret, issued a minute
// ago and expiring in two hours, to the microsecond. A test sets the
// record's other fields, or changes these, before it inserts the record.
func NewLink(t testing.TB, member string) Link {
	t.Helper()
	secret := make([]byte, 32)
	rand.Read(secret)
	n := now()
	return Link{Record: store.Record{
		ID:         newID(),
		Member:     member,
		Purpose:    "login",
		SecretHash: sha256.Sum256(secret),
		IssuedAt:   n.Add(-time.Minute),
		ExpiresAt:  n.Add(2 * time.Hour),
	}, Secret: secret}
}

// Request returns the request that presents l at time at: its id, the
// hash of its secret, the claims of its token (member, purpose, batch),
// unconfirmed. It consumes l while l is consumable.
func (l Link) Request(at time.Time) store.ConsumeRequest {
	return store.ConsumeRequest{ID: l.ID, SecretHash: sha256.Sum256(l.Secret), At: at,
		Member: l.Member, Purpose: l.Purpose, Batch: l.Batch}
}

// idClock keeps the time part of the ids of one process increasing.
var idClock struct {
	sync.Mutex
	last int64 // unix milliseconds << 12 | 12 bits of their fraction
}

// newID returns a new UUIDv7 (RFC 9562) in canonical form: 48 bits of unix
// milliseconds and 12 bits of their fraction, increasing within the
// process, then the variant and 62 random bits.
func newID() string {
	var b [16]byte
	rand.Read(b[8:])
	n := time.Now()
	v := n.UnixMilli()<<12 | int64(n.Nanosecond()%1e6)*4096/1e6
	idClock.Lock()
	v = max(v, idClock.last+1)
	idClock.last = v
	idClock.Unlock()
	binary.BigEndian.PutUint64(b[:8], uint64(v>>12)<<16)
	b[6] = 0x70 | byte(v>>8)&0x0f
	b[7] = byte(v)
	b[8] = b[8]&0x3f | 0x80
	return store.FormatID(b)
}

// opt changes a link the suite makes with mk.
type opt func(*store.Record)

func batch(b string) opt      { return func(r *store.Record) { r.Batch = b } }
func purpose(p string) opt    { return func(r *store.Record) { r.Purpose = p } }
func issued(t time.Time) opt  { return func(r *store.Record) { r.IssuedAt = t } }
func expires(t time.Time) opt { return func(r *store.Record) { r.ExpiresAt = t } }
func recipient(a string) opt  { return func(r *store.Record) { r.Recipient = a } }
func state(s []byte) opt      { return func(r *store.Record) { r.State = s } }

// mk makes a link for member ([NewLink]) with opts applied.
func mk(t testing.TB, member string, opts ...opt) Link {
	t.Helper()
	l := NewLink(t, member)
	for _, o := range opts {
		o(&l.Record)
	}
	return l
}

func insert(t testing.TB, s store.Store, tks ...Link) {
	t.Helper()
	recs := make([]store.Record, len(tks))
	for i := range tks {
		recs[i] = tks[i].Record
	}
	if err := s.Insert(context.Background(), recs); err != nil {
		t.Fatalf("Insert: %v", err)
	}
}

func get(t testing.TB, s store.Store, id string) store.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return r
}

func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: got error %v, want success", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("%s: got error %v, want %v", what, got, want)
	}
}

func wantStatus(t testing.TB, s store.Store, id string, want store.Status) store.Record {
	t.Helper()
	r := get(t, s, id)
	if r.Status != want {
		t.Fatalf("record %s: status %v, want %v", id, r.Status, want)
	}
	return r
}

var ctx = context.Background()
