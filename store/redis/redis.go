package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

var (
	_ store.Store    = (*Store)(nil)
	_ store.Pinger   = (*Store)(nil)
	_ store.Counters = (*Store)(nil)
)

// Defaults of the options.
const (
	// DefaultPrefix names the keys of a store: every key starts with
	// "{oncelink}:".
	DefaultPrefix = "oncelink"
	// DefaultRetention is how long a record's key outlives the record's
	// expiry, so that consumed records and their sessions can still be
	// revoked and reported on for a day.
	DefaultRetention = 24 * time.Hour
)

// ErrUnsafeServer is returned by [New] when the server's settings could
// lose holds and watermarks or bring back consumed and revoked links, or
// when they cannot be read.
var ErrUnsafeServer = errors.New("redis: unsafe server settings")

// insertChunk is the number of records one insert script call writes. The
// script unpacks two values per record into one command, and Lua 5.1 limits
// unpack to about 8000 values.
const insertChunk = 1000

// selectChunk is the number of records one count or revoke call checks.
const selectChunk = 1000

// Option configures a [Store].
type Option func(*config)

type config struct {
	prefix        string
	retention     time.Duration
	allowSnapshot bool
	allowEviction bool
	skipCheck     bool
}

// WithPrefix sets the prefix of every key; the store's keys all carry the
// hash tag "{prefix}", so that they live in one Redis Cluster slot. The
// prefix must not contain '{' or '}'. Default [DefaultPrefix].
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithRetention sets how long a record's key outlives the record's expiry
// before Redis deletes it. 0 deletes it when the link expires. Default
// [DefaultRetention]. The ledger keeps issued and consumed entries whatever
// the retention, until [Store.Purge].
func WithRetention(d time.Duration) Option { return func(c *config) { c.retention = d } }

// UnsafeAllowSnapshotPersistence lets [New] accept a server that persists
// with RDB snapshots but without the append-only file. Restarting such a
// server reloads an older snapshot, in which links consumed or revoked since
// were still outstanding: they become consumable again.
func UnsafeAllowSnapshotPersistence() Option { return func(c *config) { c.allowSnapshot = true } }

// UnsafeAllowEviction lets [New] accept a server whose maxmemory-policy may
// evict keys without an expiry (allkeys-*). Evicting the store's control
// hash would lift holds and watermarks.
func UnsafeAllowEviction() Option { return func(c *config) { c.allowEviction = true } }

// WithoutPersistenceCheck skips reading the server's settings at [New], for
// servers that do not allow CONFIG GET (managed Redis, ACLs). The operator
// then answers for them: appendonly yes and no allkeys-* eviction.
func WithoutPersistenceCheck() Option { return func(c *config) { c.skipCheck = true } }

// Store is a [store.Store] in Redis. It is safe for concurrent use.
type Store struct {
	c         goredis.UniversalClient
	tag       string // "{prefix}"
	retention int64  // milliseconds
	kAll      string // zset: record ids by issue time
	kExp      string // zset: expiry members by expiry time
	kCtl      string // hash: watermarks and holds
	kEv       string // hash: ledger payloads by entry id
	kLed      string // lex zset: the whole ledger
	kSeq      string // counter of appended entries
	kHits     string // zset: counter buckets by the end of their window
}

// New returns a store that keeps its keys in client, which the caller owns
// and closes. It reads the server's persistence and eviction settings (see
// [UnsafeAllowSnapshotPersistence], [UnsafeAllowEviction],
// [WithoutPersistenceCheck]) and loads the Lua scripts.
func New(ctx context.Context, client goredis.UniversalClient, opts ...Option) (*Store, error) {
	cfg := config{prefix: DefaultPrefix, retention: DefaultRetention}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case client == nil:
		return nil, fmt.Errorf("%w: redis: nil client", store.ErrInvalid)
	case cfg.prefix == "" || len(cfg.prefix) > 64 || strings.ContainsAny(cfg.prefix, "{}"):
		return nil, fmt.Errorf("%w: redis: prefix must be 1 to 64 bytes without '{' or '}'", store.ErrInvalid)
	case cfg.retention < 0:
		return nil, fmt.Errorf("%w: redis: negative retention", store.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("new", err)
	}
	if !cfg.skipCheck {
		if err := checkServer(ctx, client, &cfg); err != nil {
			return nil, err
		}
	}
	for _, sc := range scripts {
		if err := sc.Load(ctx, client).Err(); err != nil {
			return nil, unavailable("load scripts", err)
		}
	}
	return build(client, &cfg), nil
}

func build(client goredis.UniversalClient, cfg *config) *Store {
	tag := "{" + cfg.prefix + "}"
	return &Store{
		c:         client,
		tag:       tag,
		retention: cfg.retention.Milliseconds(),
		kAll:      tag + ":all",
		kExp:      tag + ":exp",
		kCtl:      tag + ":ctl",
		kEv:       tag + ":ev",
		kLed:      tag + ":l",
		kSeq:      tag + ":seq",
		kHits:     tag + ":hx",
	}
}

// checkServer refuses settings under which a restart or memory pressure
// could undo a consumption, a revocation, a hold or a watermark.
func checkServer(ctx context.Context, c goredis.UniversalClient, cfg *config) error {
	get := func(name string) (string, error) {
		m, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			var rerr goredis.Error
			if errors.As(err, &rerr) {
				return "", fmt.Errorf("%w: cannot read %s (%v): allow CONFIG GET, or check the settings yourself and pass WithoutPersistenceCheck", ErrUnsafeServer, name, err)
			}
			return "", unavailable("config get "+name, err)
		}
		return m[name], nil
	}
	aof, err := get("appendonly")
	if err != nil {
		return err
	}
	save, err := get("save")
	if err != nil {
		return err
	}
	if aof != "yes" && strings.TrimSpace(save) != "" && !cfg.allowSnapshot {
		return fmt.Errorf("%w: the server saves RDB snapshots without appendonly: a restart would reload an older snapshot and make consumed and revoked links usable again; set appendonly yes (appendfsync always), or turn persistence off, or pass UnsafeAllowSnapshotPersistence", ErrUnsafeServer)
	}
	policy, err := get("maxmemory-policy")
	if err != nil {
		return err
	}
	if strings.HasPrefix(policy, "allkeys-") && !cfg.allowEviction {
		return fmt.Errorf("%w: maxmemory-policy %s may evict the key that holds freezes and watermarks; use noeviction or a volatile-* policy, or pass UnsafeAllowEviction", ErrUnsafeServer, policy)
	}
	return nil
}

// Ping implements [store.Pinger].
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis: %s: %w", store.ErrUnavailable, op, err)
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return unavailable("context", err)
	}
	return nil
}

func (s *Store) recKey(id string) string { return s.tag + ":t:" + id }

// micro returns t in unix microseconds, truncated as [store.Micro] does.
func micro(t time.Time) int64 { return store.Micro(t).UnixMicro() }

// ceilMicro returns the first microsecond at or after t: a stored time u
// (µs) is at or after t exactly when u >= ceilMicro(t).
func ceilMicro(t time.Time) int64 {
	u := t.UnixMicro()
	if t.After(time.UnixMicro(u)) {
		u++
	}
	return u
}

func fmtInt(v int64) string { return strconv.FormatInt(v, 10) }

func fromMicro(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("malformed time")
	}
	return time.UnixMicro(v).UTC(), nil
}

// timeKey encodes a time in µs as 16 hex digits whose byte order is the
// order of time, so that ledger zsets sort by time lexicographically.
func timeKey(us int64) string {
	const hexdigits = "0123456789abcdef"
	var b [16]byte
	v := uint64(us) ^ 1<<63
	for i := 15; i >= 0; i-- {
		b[i] = hexdigits[v&15]
		v >>= 4
	}
	return string(b[:])
}

func parseTimeKey(k string) (int64, bool) {
	if len(k) < 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(k[:16], 16, 64)
	if err != nil {
		return 0, false
	}
	return int64(v ^ 1<<63), true
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
		Member:    str(0),
		Purpose:   str(1),
		Batch:     str(2),
		Recipient: str(3),
		Consumer:  store.Presentation{Identity: str(12), IP: str(13), UserAgent: str(14), Session: str(15)},
	}
	h := str(4)
	if len(h) != len(r.SecretHash) {
		return store.Record{}, errors.New("malformed record")
	}
	copy(r.SecretHash[:], h)
	if st := str(5); st != "" {
		r.State = []byte(st)
	}
	var err [4]error
	r.IssuedAt, err[0] = fromMicro(str(6))
	r.ExpiresAt, err[1] = fromMicro(str(7))
	r.ConsumedAt, err[2] = fromMicro(str(10))
	r.RevokedAt, err[3] = fromMicro(str(11))
	if e := errors.Join(err[:]...); e != nil {
		return store.Record{}, e
	}
	switch str(8) {
	case "1":
		r.Status = store.StatusIssued
	case "2":
		r.Status = store.StatusConsumed
	case "3":
		r.Status = store.StatusRevoked
	default:
		return store.Record{}, errors.New("malformed record status")
	}
	if f := str(9); f != "" {
		n, e := strconv.Atoi(f)
		if e != nil {
			return store.Record{}, errors.New("malformed record failures")
		}
		r.Failures = n
	}
	return r, nil
}

// outcomes maps the codes of the check scripts to the contract's outcomes.
var outcomes = [...]error{0: nil, 1: store.ErrNotFound, 2: store.ErrSecret, 3: store.ErrRevoked,
	4: store.ErrUsed, 5: store.ErrExpired, 6: store.ErrFrozen, 7: store.ErrStale, 8: store.ErrMismatch}

// outcome decodes a reply {code, record fields...} of a check script.
func outcome(op, id string, v interface{}) (store.Record, error) {
	res, _ := v.([]interface{})
	if len(res) == 0 {
		return store.Record{}, unavailable(op, errors.New("malformed reply"))
	}
	code, ok := res[0].(int64)
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

// Insert implements [store.Tokens]. Records are written by one script call
// per chunk of [insertChunk], pipelined. Each chunk is atomic; when a later
// chunk fails, the chunks already written are removed again, so that a
// concurrent reader may briefly see records of an Insert that then fails.
func (s *Store) Insert(ctx context.Context, recs []store.Record) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	if err := store.ValidateInsert(recs); err != nil {
		return err
	}
	var calls []call
	for i := 0; i < len(recs); i += insertChunk {
		calls = append(calls, s.insertCall(recs[i:min(i+insertChunk, len(recs))]))
	}
	results := s.run(ctx, insertScript, calls)
	var failed error
	dup := make([]bool, len(calls))
	for i, r := range results {
		switch {
		case r.err != nil:
			failed = worse(failed, unavailable("insert", r.err))
		case r.val == int64(0):
			dup[i] = true
			failed = worse(failed, fmt.Errorf("%w: id already held", store.ErrDuplicate))
		}
	}
	if failed == nil {
		return nil
	}
	// One chunk is one atomic script call: it wrote all or nothing. With
	// several, a chunk refused as duplicate wrote nothing, and every other
	// chunk may have been written: the undo script removes the records this
	// call wrote, within the caller's deadline. A record it cannot remove is
	// an orphan that no message carries, and it expires with its token.
	if len(calls) == 1 {
		return failed
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: redis: insert failed (%w) and some of its records may remain", store.ErrUnavailable, failed)
	}
	var undo []call
	for i := 0; i < len(calls); i++ {
		if !dup[i] {
			undo = append(undo, s.undoCall(recs[i*insertChunk:min((i+1)*insertChunk, len(recs))]))
		}
	}
	for _, r := range s.run(ctx, undoScript, undo) {
		if r.err != nil {
			return fmt.Errorf("%w: redis: insert failed (%w) and some of its records may remain: %w", store.ErrUnavailable, failed, r.err)
		}
	}
	return failed
}

// worse keeps the first error, preferring an unavailability, which says that
// the outcome is unknown.
func worse(have, err error) error {
	if have == nil || (errors.Is(err, store.ErrUnavailable) && !errors.Is(have, store.ErrUnavailable)) {
		return err
	}
	return have
}

// expiryMember is a record's member of the expiry index: enough for Purge to
// find every index entry of a record whose key is already gone.
func expiryMember(r *store.Record) string {
	b := make([]byte, 0, 48+len(r.Member)+len(r.Batch))
	return string(enc(enc(enc(b, r.ID), r.Member), r.Batch))
}

func (s *Store) insertCall(recs []store.Record) call {
	keys := make([]string, 0, 4+len(recs))
	keys = append(keys, s.kAll, s.kExp, s.kEv, s.kLed)
	args := make([]interface{}, 1, 1+len(recs)*(insertFields+2))
	args[0] = s.tag
	tail := make([]interface{}, 0, 2*len(recs))
	payloads := make([]interface{}, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		keys = append(keys, s.recKey(r.ID))
		issued, expires := micro(r.IssuedAt), micro(r.ExpiresAt)
		keyExpiry := (expires+999)/1000 + s.retention
		args = append(args, r.ID, r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], r.State,
			fmtInt(issued), fmtInt(expires), fmtInt(keyExpiry), timeKey(issued)+"1"+r.ID)
		tail = append(tail, expiryMember(r))
		payloads = append(payloads, encEvent(&store.Event{Kind: store.EventIssued, TokenID: r.ID,
			Member: r.Member, Batch: r.Batch, Purpose: r.Purpose, Detail: r.Recipient}))
	}
	return call{keys, append(append(args, tail...), payloads...)}
}

func (s *Store) undoCall(recs []store.Record) call {
	keys := make([]string, 0, 4+len(recs))
	keys = append(keys, s.kAll, s.kExp, s.kEv, s.kLed)
	args := make([]interface{}, 1, 1+len(recs)*undoFields)
	args[0] = s.tag
	for i := range recs {
		r := &recs[i]
		keys = append(keys, s.recKey(r.ID))
		args = append(args, r.ID, r.SecretHash[:], r.Member, r.Batch,
			timeKey(micro(r.IssuedAt))+"1"+r.ID, expiryMember(r))
	}
	return call{keys, args}
}

// call is one script call.
type call struct {
	keys []string
	args []interface{}
}

type result struct {
	val interface{}
	err error
}

// pipeDepth bounds the script calls of one pipeline: go-redis applies its
// ReadTimeout to reading a pipeline's replies as a whole, so a pipeline must
// finish well within it (8 insert chunks are 8000 records).
const pipeDepth = 8

// run pipelines calls of one script with EVALSHA, at most [pipeDepth] a
// round trip, and runs again with EVAL any call that found the script
// missing (a restarted or flushed server).
func (s *Store) run(ctx context.Context, sc *goredis.Script, calls []call) []result {
	out := make([]result, len(calls))
	if len(calls) == 1 {
		out[0].val, out[0].err = sc.Run(ctx, s.c, calls[0].keys, calls[0].args...).Result()
		return out
	}
	for lo := 0; lo < len(calls); lo += pipeDepth {
		hi := min(lo+pipeDepth, len(calls))
		pipe := s.c.Pipeline()
		cmds := make([]*goredis.Cmd, hi-lo)
		for i := lo; i < hi; i++ {
			cmds[i-lo] = sc.EvalSha(ctx, pipe, calls[i].keys, calls[i].args...)
		}
		_, _ = pipe.Exec(ctx) // errors are read per command
		for i, cmd := range cmds {
			r := &out[lo+i]
			r.val, r.err = cmd.Result()
			if r.err != nil && goredis.HasErrorPrefix(r.err, "NOSCRIPT") {
				r.val, r.err = sc.Run(ctx, s.c, calls[lo+i].keys, calls[lo+i].args...).Result()
			}
		}
	}
	return out
}

// Get implements [store.Tokens].
func (s *Store) Get(ctx context.Context, id string) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if !store.ValidID(id) {
		return store.Record{}, store.ErrNotFound
	}
	v, err := s.c.HMGet(ctx, s.recKey(id), recordFields...).Result()
	if err != nil {
		return store.Record{}, unavailable("get", err)
	}
	if len(v) == len(recordFields) && v[8] == nil {
		return store.Record{}, store.ErrNotFound
	}
	r, err := record(id, v)
	if err != nil {
		return store.Record{}, unavailable("get", err)
	}
	return r, nil
}

// Peek implements [store.Tokens]: one read-only script call for an
// unconfirmed request; a confirmed or mismatched one runs the consume
// script without consuming, as a refused Consume does.
func (s *Store) Peek(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if err := req.Validate(); err != nil {
		return store.Record{}, err
	}
	if !store.ValidID(req.ID) {
		return store.Record{}, store.ErrNotFound
	}
	if req.Confirmation != store.Unconfirmed {
		return s.present(ctx, &req, false)
	}
	v, err := peekScript.RunRO(ctx, s.c, []string{s.recKey(req.ID), s.kCtl},
		req.SecretHash[:], req.State, fmtInt(micro(req.At)), req.Member, req.Purpose, req.Batch).Result()
	if err != nil {
		return store.Record{}, unavailable("peek", err)
	}
	return outcome("peek", req.ID, v)
}

// Consume implements [store.Tokens]: one script call checks the record,
// counts a mismatch, marks it consumed and writes the consumed ledger
// entry, atomically.
func (s *Store) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if err := req.Validate(); err != nil {
		return store.Record{}, err
	}
	if !store.ValidID(req.ID) {
		return store.Record{}, store.ErrNotFound
	}
	return s.present(ctx, &req, true)
}

// confirmation is the script's code of a confirmation.
var confirmation = [...]string{store.Unconfirmed: "0", store.Confirmed: "1", store.Mismatched: "2"}

// present runs the consume script, consuming or not.
func (s *Store) present(ctx context.Context, req *store.ConsumeRequest, consume bool) (store.Record, error) {
	at := store.Micro(req.At)
	atS := fmtInt(at.UnixMicro())
	p := req.Presentation
	mode, op := "p", "peek"
	if consume {
		mode, op = "c", "consume"
	}
	head := enc(enc(enc(make([]byte, 0, 64), string(store.EventConsumed)), ""), req.ID)
	tail := enc(enc(enc(enc(make([]byte, 0, 32+len(p.Identity)+len(p.IP)+len(p.UserAgent)+len(p.Session)),
		p.Identity), p.IP), p.UserAgent), p.Session)
	args := make([]interface{}, 0, 25)
	args = append(args, s.tag, req.SecretHash[:], req.State, atS, timeKey(at.UnixMicro())+"2"+req.ID,
		head, tail, req.Member, req.Purpose, req.Batch, confirmation[req.Confirmation], req.MaxFailures, mode,
		"st", "2", "c", atS)
	for _, f := range [...]struct{ k, v string }{{"ci", p.Identity}, {"ca", p.IP}, {"cu", p.UserAgent}, {"cs", p.Session}} {
		if f.v != "" {
			args = append(args, f.k, f.v)
		}
	}
	v, err := consumeScript.Run(ctx, s.c, []string{s.recKey(req.ID), s.kCtl, s.kEv, s.kLed}, args...).Result()
	if err != nil {
		return store.Record{}, unavailable(op, err)
	}
	r, err := outcome(op, req.ID, v)
	if err != nil || !consume {
		return r, err
	}
	r.Status, r.ConsumedAt, r.Consumer = store.StatusConsumed, at, p
	return r, nil
}

// Fail implements [store.Tokens]: one script call.
func (s *Store) Fail(ctx context.Context, id string, at time.Time, max int) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if !store.ValidID(id) {
		return store.Record{}, store.ErrNotFound
	}
	v, err := failScript.Run(ctx, s.c, []string{s.recKey(id)}, fmtInt(micro(at)), max).Result()
	if err != nil {
		return store.Record{}, unavailable("fail", err)
	}
	return outcome("fail", id, v)
}

// source is where the candidates of a filter come from: the ids it names,
// or the union of index zsets (by batch, by member, or all), restricted to
// its issue window.
type source struct {
	ids  []string
	keys []string // index zsets the ids came from, for lazy cleaning
	// byMember and byBatch say that every candidate already satisfies the
	// filter's members or batches.
	byMember, byBatch bool
}

func (s *Store) candidates(ctx context.Context, f *store.Filter) (source, error) {
	var src source
	if len(f.IDs) > 0 {
		src.ids = dedupe(slices.Clone(f.IDs))
		return src, nil
	}
	switch {
	case len(f.Batches) > 0:
		src.byBatch = true
		for _, b := range dedupe(slices.Clone(f.Batches)) {
			src.keys = append(src.keys, s.tag+":b:"+b)
		}
	case len(f.Members) > 0:
		src.byMember = true
		for _, m := range dedupe(slices.Clone(f.Members)) {
			src.keys = append(src.keys, s.tag+":m:"+m)
		}
	default:
		src.keys = []string{s.kAll}
	}
	lo, hi := "-inf", "+inf"
	if !f.IssuedFrom.IsZero() {
		lo = fmtInt(ceilMicro(f.IssuedFrom))
	}
	if !f.IssuedBefore.IsZero() {
		hi = "(" + fmtInt(ceilMicro(f.IssuedBefore))
	}
	pipe := s.c.Pipeline()
	cmds := make([]*goredis.StringSliceCmd, len(src.keys))
	for i, k := range src.keys {
		cmds[i] = pipe.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: k, Start: lo, Stop: hi, ByScore: true})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return src, unavailable("select", err)
	}
	for _, c := range cmds {
		src.ids = append(src.ids, c.Val()...)
	}
	if len(cmds) > 1 {
		src.ids = dedupe(src.ids)
	}
	return src, nil
}

func dedupe(v []string) []string {
	slices.Sort(v)
	return slices.Compact(v)
}

// clean removes ids whose record key is gone from the index zsets they came
// from. It is best effort: Purge removes them in any case.
func (s *Store) clean(ctx context.Context, keys []string, gone []string) {
	if len(keys) == 0 || len(gone) == 0 {
		return
	}
	members := make([]interface{}, len(gone))
	for i, id := range gone {
		members[i] = id
	}
	pipe := s.c.Pipeline()
	for _, k := range keys {
		pipe.ZRem(ctx, k, members...)
	}
	_, _ = pipe.Exec(ctx)
}

// selectAll runs the select script in mode "c" (count) or "r" (revoke) over
// the candidates of f.
func (s *Store) selectAll(ctx context.Context, mode string, f *store.Filter, at time.Time) (int64, error) {
	src, err := s.candidates(ctx, f)
	if err != nil {
		return 0, err
	}
	from, before := "", ""
	if !f.IssuedFrom.IsZero() {
		from = fmtInt(ceilMicro(f.IssuedFrom))
	}
	if !f.IssuedBefore.IsZero() {
		before = fmtInt(ceilMicro(f.IssuedBefore))
	}
	consumed := "0"
	if f.Consumed {
		consumed = "1"
	}
	head := []interface{}{mode, fmtInt(micro(at)), f.Purpose, from, before, consumed}
	list := func(v []string, implied bool) {
		if implied {
			v = nil
		}
		head = append(head, len(v))
		for _, x := range v {
			head = append(head, x)
		}
	}
	list(f.Members, src.byMember)
	list(f.Batches, src.byBatch)
	var calls []call
	for i := 0; i < len(src.ids); i += selectChunk {
		ids := src.ids[i:min(i+selectChunk, len(src.ids))]
		keys := make([]string, len(ids))
		for j, id := range ids {
			keys[j] = s.recKey(id)
		}
		calls = append(calls, call{keys, head})
	}
	var n int64
	var gone []string
	for i, r := range s.run(ctx, selectScript, calls) {
		if r.err != nil {
			return n, unavailable("select", r.err)
		}
		res, _ := r.val.([]interface{})
		if len(res) != 2 {
			return n, unavailable("select", errors.New("malformed reply"))
		}
		c, _ := res[0].(int64)
		n += c
		missing, _ := res[1].([]interface{})
		for _, m := range missing {
			if j, ok := m.(int64); ok && j >= 1 && int(j) <= len(calls[i].keys) {
				gone = append(gone, src.ids[i*selectChunk+int(j)-1])
			}
		}
	}
	s.clean(ctx, src.keys, gone)
	return n, nil
}

// Revoke implements [store.Tokens]. Each record is checked and revoked
// atomically, by script calls of [selectChunk] records, pipelined.
func (s *Store) Revoke(ctx context.Context, f store.Filter, at time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	return s.selectAll(ctx, "r", &f, at)
}

// Count implements [store.Tokens].
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	return s.selectAll(ctx, "c", &f, time.Time{})
}

// Records implements [store.Tokens].
func (s *Store) Records(ctx context.Context, q store.RecordQuery) ([]store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	src, err := s.candidates(ctx, &q.Filter)
	if err != nil {
		return nil, err
	}
	ids := src.ids // sorted by dedupe, or by the single index below
	if len(src.keys) == 1 {
		slices.Sort(ids)
	}
	if q.After != "" {
		i, _ := slices.BinarySearch(ids, q.After)
		for i < len(ids) && ids[i] <= q.After {
			i++
		}
		ids = ids[i:]
	}
	limit := q.PageSize()
	out := make([]store.Record, 0, min(limit, len(ids)))
	var gone []string
	for len(ids) > 0 && len(out) < limit {
		chunk := ids[:min(max(limit-len(out), 100), len(ids))]
		ids = ids[len(chunk):]
		pipe := s.c.Pipeline()
		cmds := make([]*goredis.SliceCmd, len(chunk))
		for i, id := range chunk {
			cmds[i] = pipe.HMGet(ctx, s.recKey(id), recordFields...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, unavailable("records", err)
		}
		for i, c := range cmds {
			v := c.Val()
			if len(v) == len(recordFields) && v[8] == nil {
				gone = append(gone, chunk[i])
				continue
			}
			r, err := record(chunk[i], v)
			if err != nil {
				return nil, unavailable("records", err)
			}
			if q.Filter.Match(&r) && len(out) < limit {
				out = append(out, r)
			}
		}
	}
	s.clean(ctx, src.keys, gone)
	return out, nil
}

// Watermark implements [store.Tokens]: one script call, one field written.
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	field := "mg"
	if member != "" {
		field = "mm:" + member
	}
	if err := watermarkScript.Run(ctx, s.c, []string{s.kCtl}, field, fmtInt(ceilMicro(before))).Err(); err != nil {
		return unavailable("watermark", err)
	}
	return nil
}

// Marks implements [store.Tokens].
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	ctl, err := s.control(ctx)
	if err != nil {
		return nil, err
	}
	var global []store.Mark
	var members []store.Mark
	for k, v := range ctl {
		var m store.Mark
		switch {
		case k == "mg":
		case strings.HasPrefix(k, "mm:"):
			m.Member = k[3:]
		default:
			continue
		}
		if m.Before, err = fromMicro(v); err != nil {
			return nil, unavailable("marks", err)
		}
		if m.Member == "" {
			global = append(global, m)
		} else {
			members = append(members, m)
		}
	}
	slices.SortFunc(members, func(a, b store.Mark) int { return strings.Compare(a.Member, b.Member) })
	return append(global, members...), nil
}

func (s *Store) control(ctx context.Context) (map[string]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	ctl, err := s.c.HGetAll(ctx, s.kCtl).Result()
	if err != nil {
		return nil, unavailable("control", err)
	}
	return ctl, nil
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
	if err := s.c.HSetNX(ctx, s.kCtl, holdField(h.Scope, h.Key), since+":"+h.Reason).Err(); err != nil {
		return unavailable("freeze", err)
	}
	return nil
}

// Thaw implements [store.Holds].
func (s *Store) Thaw(ctx context.Context, scope store.Scope, key string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return false, err
	}
	n, err := s.c.HDel(ctx, s.kCtl, holdField(scope, key)).Result()
	if err != nil {
		return false, unavailable("thaw", err)
	}
	return n > 0, nil
}

// Holds implements [store.Holds].
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	ctl, err := s.control(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Hold
	for k, v := range ctl {
		var h store.Hold
		switch {
		case k == "hg":
			h.Scope = store.ScopeGlobal
		case strings.HasPrefix(k, "hb:"):
			h.Scope, h.Key = store.ScopeBatch, k[3:]
		case strings.HasPrefix(k, "hm:"):
			h.Scope, h.Key = store.ScopeMember, k[3:]
		default:
			continue
		}
		since, reason, _ := strings.Cut(v, ":")
		if h.Since, err = fromMicro(since); err != nil {
			return nil, unavailable("holds", err)
		}
		h.Reason = reason
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b store.Hold) int {
		if a.Scope != b.Scope {
			return int(a.Scope) - int(b.Scope)
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// encEvent encodes a ledger payload: kind, reason, token id, member, batch,
// purpose, the presentation (identity, IP, user agent, session), count,
// actor and detail, each length-prefixed. The time is in the ledger member.
func encEvent(e *store.Event) string {
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
	return string(b)
}

// decEvent decodes a payload of encEvent; missing trailing fields are empty.
func decEvent(payload string) (store.Event, error) {
	var buf [13]string
	f, err := fields(payload, buf[:0])
	if err != nil || len(f) > len(buf) {
		return store.Event{}, errors.New("malformed ledger entry")
	}
	f = f[:len(buf)]
	e := store.Event{Kind: store.EventKind(f[0]), Reason: f[1], TokenID: f[2], Member: f[3], Batch: f[4],
		Purpose: f[5], Presentation: store.Presentation{Identity: f[6], IP: f[7], UserAgent: f[8], Session: f[9]},
		Actor: f[11], Detail: f[12]}
	if f[10] != "" {
		if e.Count, err = strconv.ParseInt(f[10], 10, 64); err != nil {
			return store.Event{}, errors.New("malformed ledger entry")
		}
	}
	return e, nil
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
	args[0] = s.tag
	for i := range events {
		e := &events[i]
		args = append(args, timeKey(micro(e.At)), encEvent(e), e.Batch, e.Member)
	}
	if err := appendScript.Run(ctx, s.c, []string{s.kEv, s.kLed, s.kSeq}, args...).Err(); err != nil {
		return unavailable("append", err)
	}
	return nil
}

// validCursor reports whether c is a ledger member: a time key and an entry
// id ("1" or "2" and a token id, or "3" and a sequence number).
func validCursor(c string) bool {
	if _, ok := parseTimeKey(c); !ok || len(c) < 17 {
		return false
	}
	for i := 0; i < 16; i++ {
		if ('0' > c[i] || c[i] > '9') && ('a' > c[i] || c[i] > 'f') {
			return false
		}
	}
	switch c[16] {
	case '1', '2':
		return store.ValidID(c[17:])
	case '3':
		return len(c) == 33
	}
	return false
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
	key := s.kLed
	switch {
	case q.Batch != "":
		key = s.tag + ":l:b:" + q.Batch
	case q.Member != "":
		key = s.tag + ":l:m:" + q.Member
	}
	lo, hi := "-", "+"
	if !q.Since.IsZero() {
		lo = "[" + timeKey(ceilMicro(q.Since))
	}
	if q.After != "" && (lo == "-" || q.After >= lo[1:]) {
		lo = "(" + q.After
	}
	if !q.Until.IsZero() {
		hi = "(" + timeKey(ceilMicro(q.Until))
	}
	derivedOnly := len(q.Kinds) > 0 && !slices.ContainsFunc(q.Kinds, func(k store.EventKind) bool {
		return k != store.EventIssued && k != store.EventConsumed
	})
	limit := q.PageSize()
	chunk := int64(min(limit+1, 1000))
	var out []store.Event
	var gone []interface{}
	for len(out) <= limit {
		ms, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: key, Start: lo, Stop: hi, ByLex: true, Count: chunk}).Result()
		if err != nil {
			return nil, "", unavailable("events", err)
		}
		if len(ms) == 0 {
			break
		}
		lo = "(" + ms[len(ms)-1]
		// The entry id tells issued ("1") and consumed ("2") entries apart
		// without reading them.
		var want []string
		for _, m := range ms {
			if len(m) < 17 {
				continue
			}
			switch m[16] {
			case '1':
				if !q.Wants(store.EventIssued) {
					continue
				}
			case '2':
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
		if len(want) > 0 {
			payloads, err := s.c.HMGet(ctx, s.kEv, want...).Result()
			if err != nil {
				return nil, "", unavailable("events", err)
			}
			for i, m := range want {
				p, ok := payloads[i].(string)
				if !ok {
					gone = append(gone, m) // purged while listed, or left by an interrupted purge
					continue
				}
				e, err := decEvent(p)
				if err != nil {
					return nil, "", unavailable("events", err)
				}
				us, _ := parseTimeKey(m)
				e.At, e.Cursor = time.UnixMicro(us).UTC(), m
				if q.Match(&e) {
					out = append(out, e)
					if len(out) > limit {
						break
					}
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

// Purge implements [store.Tokens]. It deletes in chunks, each in one
// MULTI/EXEC transaction: the records whose expiry is before `before` with
// their index entries, then the ledger entries recorded before it. An
// interrupted Purge leaves nothing that a later Purge does not remove.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := store.ValidatePurge(before); err != nil {
		return 0, err
	}
	cut := ceilMicro(before)
	if err := s.purgeHits(ctx, before.UnixMicro()); err != nil {
		return 0, err
	}
	var n int64
	for {
		ms, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.kExp, Start: "-inf", Stop: "(" + fmtInt(cut), ByScore: true, Count: 1000}).Result()
		if err != nil {
			return n, unavailable("purge", err)
		}
		if len(ms) == 0 {
			break
		}
		var dels []*goredis.IntCmd
		_, err = s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for _, m := range ms {
				f, err := fields(m, nil)
				if err != nil || len(f) != 3 {
					p.ZRem(ctx, s.kExp, m)
					continue
				}
				id, member, batch := f[0], f[1], f[2]
				dels = append(dels, p.Del(ctx, s.recKey(id)))
				p.ZRem(ctx, s.kAll, id)
				p.ZRem(ctx, s.tag+":m:"+member, id)
				if batch != "" {
					p.ZRem(ctx, s.tag+":b:"+batch, id)
				}
				p.ZRem(ctx, s.kExp, m)
			}
			return nil
		})
		if err != nil {
			return n, unavailable("purge", err)
		}
		for _, d := range dels {
			n += d.Val()
		}
	}
	hi := "(" + timeKey(cut)
	for {
		ms, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.kLed, Start: "-", Stop: hi, ByLex: true, Count: 1000}).Result()
		if err != nil {
			return n, unavailable("purge", err)
		}
		if len(ms) == 0 {
			break
		}
		payloads, err := s.c.HMGet(ctx, s.kEv, ms...).Result()
		if err != nil {
			return n, unavailable("purge", err)
		}
		_, err = s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for i, m := range ms {
				if pl, ok := payloads[i].(string); ok {
					if e, err := decEvent(pl); err == nil {
						if e.Batch != "" {
							p.ZRem(ctx, s.tag+":l:b:"+e.Batch, m)
						}
						if e.Member != "" {
							p.ZRem(ctx, s.tag+":l:m:"+e.Member, m)
						}
					}
					p.HDel(ctx, s.kEv, m)
				}
				p.ZRem(ctx, s.kLed, m)
			}
			return nil
		})
		if err != nil {
			return n, unavailable("purge", err)
		}
	}
	return n, nil
}
