package redisstore

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
	// DefaultServerCheckInterval is how often the store reads the server's
	// settings again after New ([WithServerCheckInterval]).
	DefaultServerCheckInterval = 10 * time.Second
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
	checkEvery    time.Duration
	control       string // "create", "open" or "repair": see controlScript
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

// WithServerCheckInterval sets how often the store reads the server's
// persistence and eviction settings again, after [New]: a server whose
// settings became unsafe (CONFIG SET maxmemory-policy allkeys-lru, say)
// turns Consume and Peek to refusing until they are safe again. The check
// runs within a Consume or Peek that finds it due. Default
// [DefaultServerCheckInterval]; it must be positive.
func WithServerCheckInterval(d time.Duration) Option { return func(c *config) { c.checkEvery = d } }

// MustExist makes [New] open only a store that is already there: a prefix
// under which no store was created is an error wrapping [store.ErrNoStore],
// and New creates nothing. Operators' tools use it, so that a mistyped
// prefix is an error rather than a new, empty store.
func MustExist() Option { return func(c *config) { c.control = "open" } }

// RepairControl lets [New] open a store whose control key is missing while
// it holds data (see [ErrDamaged]). The holds and watermarks that key held
// are lost, so New makes a new control key with a global sequence
// watermark: every link recorded before is refused. Place the holds again
// afterwards; links minted after the repair work.
func RepairControl() Option { return func(c *config) { c.control = "repair" } }

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
	kRSeq     string // counter: the record sequence
	kXC       string // hash: committed staged inserts, id -> "<seq>:<latest expiry µs>"
	kPX       string // zset: pending staged inserts by start time (server ms)
	kBN       string // hash: batch -> number of records
	kBT       string // hash: batch -> "<first issued µs>:<last issued µs>"
	server    serverCheck
}

// New returns a store that keeps its keys in client, which the caller owns
// and closes. It reads the server's persistence and eviction settings (see
// [UnsafeAllowSnapshotPersistence], [UnsafeAllowEviction],
// [WithoutPersistenceCheck]) and loads the Lua scripts.
func New(ctx context.Context, client goredis.UniversalClient, opts ...Option) (*Store, error) {
	cfg := config{prefix: DefaultPrefix, retention: DefaultRetention, checkEvery: DefaultServerCheckInterval, control: "create"}
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
	case cfg.checkEvery <= 0:
		return nil, fmt.Errorf("%w: redis: the server check interval must be positive", store.ErrInvalid)
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
	s := build(client, &cfg)
	if err := s.openControl(ctx, cfg.control); err != nil {
		return nil, err
	}
	return s, nil
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
		kRSeq:     tag + ":rseq",
		kXC:       tag + ":xc",
		kPX:       tag + ":px",
		kBN:       tag + ":bn",
		kBT:       tag + ":bt",
		server:    newServerCheck(cfg),
	}
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
	if q := str(16); q != "" {
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
	seen, err := s.resolve(ctx, []staged{{&r, stagedOf(v)}})
	if err != nil {
		return store.Record{}, err
	}
	if len(seen) == 0 {
		return store.Record{}, store.ErrNotFound
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
	if err := s.server.ok(ctx, s.c); err != nil {
		return store.Record{}, err
	}
	if req.Confirmation != store.Unconfirmed {
		return s.present(ctx, &req, false)
	}
	v, err := peekScript.RunRO(ctx, s.c, []string{s.recKey(req.ID), s.kCtl, s.kXC},
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
	if err := s.server.ok(ctx, s.c); err != nil {
		return store.Record{}, err
	}
	return s.present(ctx, &req, true)
}

// confirmation is the script's code of a confirmation.
var confirmation = [...]string{store.Unconfirmed: "0", store.Confirmed: "1", store.Mismatched: "2"}

// present runs the consume script, consuming or not. The caller has
// checked the request and the server's settings.
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
	v, err := consumeScript.Run(ctx, s.c, []string{s.recKey(req.ID), s.kCtl, s.kXC, s.kEv, s.kLed}, args...).Result()
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
	v, err := failScript.Run(ctx, s.c, []string{s.recKey(id), s.kXC}, fmtInt(micro(at)), max).Result()
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

// filterArgs renders the filter f, whose candidates are src, as
// selectScript and tallyScript read it: purpose, issued from, issued before
// (µs or ""), consumed only, then the members and the batches, each list
// preceded by its length (0 when the candidates already satisfy it).
func filterArgs(f *store.Filter, src *source) []interface{} {
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
	args := []interface{}{f.Purpose, from, before, consumed}
	list := func(v []string, implied bool) {
		if implied {
			v = nil
		}
		args = append(args, len(v))
		for _, x := range v {
			args = append(args, x)
		}
	}
	list(f.Members, src.byMember)
	list(f.Batches, src.byBatch)
	return args
}

// scan runs sc over the candidates of f, [selectChunk] record keys a call
// after the keys in fixed, with head then the filter as arguments. Each
// reply is a list whose last element is the positions of the record keys
// that no longer exist; each hands the rest to the caller. Index entries of
// the records that are gone are cleaned afterwards.
func (s *Store) scan(ctx context.Context, sc *goredis.Script, f *store.Filter, fixed []string, head []interface{},
	each func(res []interface{}) error) error {
	src, err := s.candidates(ctx, f)
	if err != nil {
		return err
	}
	args := append(head, filterArgs(f, &src)...)
	var calls []call
	for i := 0; i < len(src.ids); i += selectChunk {
		ids := src.ids[i:min(i+selectChunk, len(src.ids))]
		keys := append(make([]string, 0, len(fixed)+len(ids)), fixed...)
		for _, id := range ids {
			keys = append(keys, s.recKey(id))
		}
		calls = append(calls, call{keys, args})
	}
	var gone []string
	for i, r := range s.run(ctx, sc, calls) {
		if r.err != nil {
			return unavailable("select", r.err)
		}
		res, _ := r.val.([]interface{})
		if len(res) < 2 {
			// A script's short reply says why it did nothing.
			if len(res) == 1 {
				if err := each(res); err != nil {
					return err
				}
			}
			return unavailable("select", errors.New("malformed reply"))
		}
		if err := each(res[:len(res)-1]); err != nil {
			return err
		}
		missing, _ := res[len(res)-1].([]interface{})
		for _, m := range missing {
			if j, ok := m.(int64); ok && j >= 1 && int(j) <= len(calls[i].keys)-len(fixed) {
				gone = append(gone, src.ids[i*selectChunk+int(j)-1])
			}
		}
	}
	s.clean(ctx, src.keys, gone)
	return nil
}

// selectAll runs the select script in mode "c" (count) or "r" (revoke) over
// the candidates of f.
func (s *Store) selectAll(ctx context.Context, mode string, f *store.Filter, at time.Time) (int64, error) {
	var n int64
	err := s.scan(ctx, selectScript, f, []string{s.kXC}, []interface{}{mode, fmtInt(micro(at))}, func(res []interface{}) error {
		if len(res) != 1 {
			return unavailable("select", errors.New("malformed reply"))
		}
		c, ok := res[0].(int64)
		if !ok {
			return unavailable("select", errors.New("malformed reply"))
		}
		n += c
		return nil
	})
	return n, err
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
		recs := make([]store.Record, len(chunk))
		var found []staged
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
			recs[i] = r
			found = append(found, staged{&recs[i], stagedOf(v)})
		}
		seen, err := s.resolve(ctx, found)
		if err != nil {
			return nil, err
		}
		for _, r := range seen {
			if q.Filter.Match(r) && len(out) < limit {
				out = append(out, *r)
			}
		}
	}
	s.clean(ctx, src.keys, gone)
	return out, nil
}

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
	args[0] = s.tag
	for i := range events {
		e := &events[i]
		args = append(args, timeKey(micro(e.At)), encEvent(e, ""), e.Batch, e.Member)
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

// wanted returns the ledger members of ms of the kinds q wants: the entry
// id tells issued ("1") and consumed ("2") entries apart without reading
// them.
func wanted(ms []string, q *store.EventQuery, derivedOnly bool) []string {
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
	payloads, err := s.c.HMGet(ctx, s.kEv, ms...).Result()
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
		e.At, e.Cursor = time.UnixMicro(us).UTC(), m
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
