package redisstore

import (
	"slices"
	"strconv"
	"strings"

	"github.com/oncelink/oncelink/store"
)

// This file is the store's key layout, which the README's "Key layout"
// describes: the names of its keys, the fields of its hashes and where a
// reply holds each, and the members of its ledger. Go builds them with
// the functions below; the scripts build them with the Lua prelude
// luaLayout, generated from the same names, so that a name is written once.

// keys are the names of a store's fixed keys. Every key of a store starts
// with its hash tag "{prefix}", so that all of them live in one Redis
// Cluster slot.
type keys struct {
	tag  string // "{prefix}"
	all  string // zset: record ids by issue time
	exp  string // zset: expiry members by expiry time
	ctl  string // hash: the control fields
	ev   string // hash: ledger payloads by ledger member
	led  string // lex zset: the whole ledger
	seq  string // counter of appended entries
	hits string // zset: counter buckets by the end of their window
	rseq string // counter: the record sequence
	xc   string // hash: committed staged inserts, id -> "<seq>:<latest expiry µs>"
	px   string // zset: pending staged inserts by start time (server ms)
	bn   string // hash: batch -> number of records
	bt   string // hash: batch -> "<first issued µs>:<last issued µs>"
}

func newKeys(prefix string) keys {
	tag := "{" + prefix + "}"
	return keys{
		tag:  tag,
		all:  tag + ":all",
		exp:  tag + ":exp",
		ctl:  tag + ":ctl",
		ev:   tag + ":ev",
		led:  tag + ":l",
		seq:  tag + ":seq",
		hits: tag + ":hx",
		rseq: tag + ":rseq",
		xc:   tag + ":xc",
		px:   tag + ":px",
		bn:   tag + ":bn",
		bt:   tag + ":bt",
	}
}

// The keys named by a value: the tag, an infix, the value.
const (
	recordInfix       = ":t:"   // a record's hash, by token id
	memberIndexInfix  = ":m:"   // zset of a member's record ids by issue time
	batchIndexInfix   = ":b:"   // zset of a batch's record ids by issue time
	memberLedgerInfix = ":l:m:" // lex zset of a member's ledger members
	batchLedgerInfix  = ":l:b:" // lex zset of a batch's ledger members
	stagedInfix       = ":pi:"  // set of the record ids of a pending staged insert
	hitInfix          = ":h:"   // a counter's bucket: "<window µs>:<bucket>:<key>"
)

func (k *keys) record(id string) string          { return k.tag + recordInfix + id }
func (k *keys) memberIndex(member string) string { return k.tag + memberIndexInfix + member }
func (k *keys) batchIndex(batch string) string   { return k.tag + batchIndexInfix + batch }
func (k *keys) memberLedger(member string) string {
	return k.tag + memberLedgerInfix + member
}
func (k *keys) batchLedger(batch string) string { return k.tag + batchLedgerInfix + batch }
func (k *keys) staged(x string) string          { return k.tag + stagedInfix + x }

// hit is the key of a counter's bucket.
func (k *keys) hit(key string, w, bucket int64) string {
	return k.tag + hitInfix + fmtInt(w) + ":" + fmtInt(bucket) + ":" + key
}

// The fields of a record hash, in the order of recordFields: an HMGET of
// recordFields has each at its position here, and the scripts read it at
// the same position (counted from 1) through the locals of luaLayout
// (F_MEMBER, ...).
const (
	fieldMember    = iota // "m"
	fieldPurpose          // "p"
	fieldBatch            // "b": "" for a single link
	fieldRecipient        // "r"
	fieldSecret           // "h": the SHA-256 of the secret, 32 bytes
	fieldState            // "s": the state hash, "" for none
	fieldIssued           // "i": µs
	fieldExpires          // "e": µs
	fieldStatus           // "st": a store.Status, in decimal
	fieldFailures         // "f"
	fieldConsumed         // "c": µs
	fieldRevoked          // "v": µs
	fieldIdentity         // "ci": the consumer's identity
	fieldIP               // "ca": its address
	fieldAgent            // "cu": its user agent
	fieldSession          // "cs": its session
	fieldSeq              // "q": the sequence number of a direct insert
	fieldStaged           // "x": the staged insert that wrote the record
)

// recordFields are the fields of a record hash, in the order of HMGET
// replies. A record has "q" when its Insert wrote it directly, and "x"
// when a staged Insert did (see insert.go).
var recordFields = []string{
	fieldMember: "m", fieldPurpose: "p", fieldBatch: "b", fieldRecipient: "r", fieldSecret: "h", fieldState: "s",
	fieldIssued: "i", fieldExpires: "e", fieldStatus: "st", fieldFailures: "f", fieldConsumed: "c", fieldRevoked: "v",
	fieldIdentity: "ci", fieldIP: "ca", fieldAgent: "cu", fieldSession: "cs", fieldSeq: "q", fieldStaged: "x",
}

// statusValue is a status as a record hash keeps it.
func statusValue(s store.Status) string { return strconv.Itoa(int(s)) }

// consumerFields are the fields a consumption sets, with the value of each
// in a presentation.
func consumerFields(p *store.Presentation) [4][2]string {
	return [4][2]string{
		{recordFields[fieldIdentity], p.Identity}, {recordFields[fieldIP], p.IP},
		{recordFields[fieldAgent], p.UserAgent}, {recordFields[fieldSession], p.Session},
	}
}

// The control hash {p}:ctl holds every watermark and hold, and a field
// that says that the store exists. Every script that writes it refuses to
// when that field is missing, so that a write never recreates a control
// key that was lost.
const (
	ctlExists     = "v"   // "1": the store exists
	ctlGlobalTime = "mg"  // the global time watermark, µs
	ctlMemberTime = "mm:" // + member: a member's time watermark, µs
	ctlGlobalSeq  = "sg"  // the global sequence watermark
	ctlMemberSeq  = "sm:" // + member: a member's sequence watermark
	ctlGlobalHold = "hg"  // the global hold, "<since µs>:<reason>"
	ctlBatchHold  = "hb:" // + batch: a batch's hold
	ctlMemberHold = "hm:" // + member: a member's hold
)

// markFields returns the time and sequence fields of member's watermarks.
func markFields(member string) (at, seq string) {
	if member == "" {
		return ctlGlobalTime, ctlGlobalSeq
	}
	return ctlMemberTime + member, ctlMemberSeq + member
}

// holdField is the field of the control hash that holds a hold.
func holdField(scope store.Scope, key string) string {
	switch scope {
	case store.ScopeBatch:
		return ctlBatchHold + key
	case store.ScopeMember:
		return ctlMemberHold + key
	}
	return ctlGlobalHold
}

// A ledger member is a time key, the kind of its entry and the entry's
// id: a token id for the issued and consumed entries derived from a
// record, 16 hex digits of the ledger's sequence for an appended one.
// Members sort by time, then issued before consumed before appended, then
// by id: the stable order of Events, whose cursor is the member.
const (
	timeKeyLen    = 16 // hex digits
	entryIssued   = '1'
	entryConsumed = '2'
	entryAppended = '3'
)

// timeKey encodes a time in µs as 16 hex digits whose byte order is the
// order of time, so that ledger zsets sort by time lexicographically.
func timeKey(us int64) string {
	const hexdigits = "0123456789abcdef"
	var b [timeKeyLen]byte
	v := uint64(us) ^ 1<<63
	for i := timeKeyLen - 1; i >= 0; i-- {
		b[i] = hexdigits[v&15]
		v >>= 4
	}
	return string(b[:])
}

func parseTimeKey(k string) (int64, bool) {
	if len(k) < timeKeyLen {
		return 0, false
	}
	v, err := strconv.ParseUint(k[:timeKeyLen], 16, 64)
	if err != nil {
		return 0, false
	}
	return int64(v ^ 1<<63), true
}

// issuedEntry and consumedEntry are the ledger members of a record's
// issued and consumed entries.
func issuedEntry(us int64, id string) string   { return timeKey(us) + string(entryIssued) + id }
func consumedEntry(us int64, id string) string { return timeKey(us) + string(entryConsumed) + id }

// entryKind returns the kind of a ledger member's entry, 0 for a string
// too short to be one.
func entryKind(m string) byte {
	if len(m) <= timeKeyLen {
		return 0
	}
	return m[timeKeyLen]
}

// validCursor reports whether c is a ledger member: a time key and an
// entry id.
func validCursor(c string) bool {
	if _, ok := parseTimeKey(c); !ok {
		return false
	}
	for i := 0; i < timeKeyLen; i++ {
		if ('0' > c[i] || c[i] > '9') && ('a' > c[i] || c[i] > 'f') {
			return false
		}
	}
	switch entryKind(c) {
	case entryIssued, entryConsumed:
		return store.ValidID(c[timeKeyLen+1:])
	case entryAppended:
		return len(c) == timeKeyLen+1+16
	}
	return false
}

// expiry is a member of the expiry index: enough for Purge to find every
// index entry of a record whose key is already gone, and the staged Insert
// it belongs to, if any.
type expiry struct {
	id, member, batch, staged string
}

// expiryMember encodes a record's member of the expiry index; x is its
// staged Insert, "" for a direct one.
func expiryMember(r *store.Record, x string) string {
	b := make([]byte, 0, 64+len(r.Member)+len(r.Batch))
	b = enc(enc(enc(b, r.ID), r.Member), r.Batch)
	if x != "" {
		b = enc(b, x)
	}
	return string(b)
}

// parseExpiryMember decodes a member of the expiry index.
func parseExpiryMember(m string) (expiry, bool) {
	f, err := fields(m, nil)
	if err != nil || len(f) < 3 || len(f) > 4 {
		return expiry{}, false
	}
	e := expiry{id: f[0], member: f[1], batch: f[2]}
	if len(f) == 4 {
		e.staged = f[3]
	}
	return e, true
}

// luaLayout is the key layout in Lua, for the scripts: the positions of
// recordFields in an HMGET reply (F_MEMBER ... F_STAGED, from 1) and their
// names (FIELDS), the record statuses, the control fields and the
// positions of their values in the reply of guards(), the kind of an
// appended ledger entry, and the builders of the keys named by a value.
var luaLayout = func() string {
	pos := []string{
		fieldMember: "F_MEMBER", fieldPurpose: "F_PURPOSE", fieldBatch: "F_BATCH", fieldRecipient: "F_RECIPIENT",
		fieldSecret: "F_SECRET", fieldState: "F_STATE", fieldIssued: "F_ISSUED", fieldExpires: "F_EXPIRES",
		fieldStatus: "F_STATUS", fieldFailures: "F_FAILURES", fieldConsumed: "F_CONSUMED", fieldRevoked: "F_REVOKED",
		fieldIdentity: "F_IDENTITY", fieldIP: "F_IP", fieldAgent: "F_AGENT", fieldSession: "F_SESSION",
		fieldSeq: "F_SEQ", fieldStaged: "F_STAGED",
	}
	if len(pos) != len(recordFields) || slices.Contains(pos, "") {
		panic("redisstore: a field of recordFields has no name in Lua")
	}
	nums := make([]string, len(pos))
	for i := range pos {
		nums[i] = strconv.Itoa(i + 1)
	}
	q := func(s string) string { return "'" + s + "'" }
	st := func(s store.Status) string { return q(statusValue(s)) }
	return `
local ` + strings.Join(pos, ", ") + ` = ` + strings.Join(nums, ", ") + `
local FIELDS = {` + luaRecordFields + `}
local ISSUED, CONSUMED, REVOKED = ` + st(store.StatusIssued) + `, ` + st(store.StatusConsumed) + `, ` + st(store.StatusRevoked) + `
local CTL_EXISTS = ` + q(ctlExists) + `
local G_EXISTS, G_TIME, G_MEMBER_TIME, G_HOLD, G_BATCH_HOLD, G_MEMBER_HOLD, G_SEQ, G_MEMBER_SEQ = 1, 2, 3, 4, 5, 6, 7, 8
local function guards(ctl, m, b)
  return redis.call('HMGET', ctl, CTL_EXISTS, ` + q(ctlGlobalTime) + `, ` + q(ctlMemberTime) + ` .. m,
    ` + q(ctlGlobalHold) + `, ` + q(ctlBatchHold) + ` .. b, ` + q(ctlMemberHold) + ` .. m,
    ` + q(ctlGlobalSeq) + `, ` + q(ctlMemberSeq) + ` .. m)
end
local ENTRY_APPENDED = ` + q(string(entryAppended)) + `
local function memberIndex(tag, m) return tag .. ` + q(memberIndexInfix) + ` .. m end
local function batchIndex(tag, b) return tag .. ` + q(batchIndexInfix) + ` .. b end
local function memberLedger(tag, m) return tag .. ` + q(memberLedgerInfix) + ` .. m end
local function batchLedger(tag, b) return tag .. ` + q(batchLedgerInfix) + ` .. b end
local function stagedIDs(tag, x) return tag .. ` + q(stagedInfix) + ` .. x end
`
}()

// luaRecordFields is recordFields as a Lua list.
var luaRecordFields = func() string {
	q := make([]string, len(recordFields))
	for i, f := range recordFields {
		q[i] = "'" + f + "'"
	}
	return strings.Join(q, ",")
}()
