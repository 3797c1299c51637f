package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
)

// stagedTimeout is how long a staged Insert may stay uncommitted before
// Purge takes it for abandoned (its process died) and removes its records.
// A later chunk or commit of it then fails.
const stagedTimeout = time.Hour

// Insert implements [store.Tokens].
//
// Up to [insertChunk] records are written by one script call, atomically,
// and are visible at once. A larger Insert is staged: its records are
// written by one script call per chunk, pipelined, each marked with the
// Insert's id, which makes them invisible (not found, not counted, not
// listed, not in the ledger); then one last call commits the Insert, which
// makes them all visible in one step. If the process dies before the
// commit, nothing of the Insert is ever visible, and Purge removes what it
// wrote once it is [stagedTimeout] old. If the Insert fails otherwise, it
// removes what it wrote at once.
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
	if len(recs) <= insertChunk {
		r := s.run(ctx, insertScript, []call{s.insertCall(recs, "")})[0]
		return insertReply(r)
	}
	x, err := newStagingID()
	if err != nil {
		return unavailable("insert", err)
	}
	if err := insertReply(s.run(ctx, beginScript, []call{{[]string{s.k.ctl, s.k.px}, []interface{}{x}}})[0]); err != nil {
		return err
	}
	var calls []call
	for i := 0; i < len(recs); i += insertChunk {
		calls = append(calls, s.insertCall(recs[i:min(i+insertChunk, len(recs))], x))
	}
	var failed error
	for _, r := range s.run(ctx, insertScript, calls) {
		failed = worse(failed, insertReply(r))
	}
	if failed == nil {
		last, batches := summaries(recs)
		args := append([]interface{}{x, fmtInt(last)}, batches...)
		keys := []string{s.k.ctl, s.k.rseq, s.k.xc, s.k.px, s.k.bn, s.k.bt, s.k.staged(x)}
		if failed = insertReply(s.run(ctx, commitScript, []call{{keys, args}})[0]); failed == nil {
			return nil
		}
	}
	// Nothing of the Insert is visible. Remove what it wrote now, within
	// the caller's deadline; what this cannot remove, Purge will.
	if ctx.Err() == nil {
		if err := s.abandon(ctx, x, recs); err != nil {
			return fmt.Errorf("%w (its records are invisible; Purge removes them): %w", failed, err)
		}
	}
	return failed
}

// insertReply turns the reply of insertScript, beginScript or commitScript
// into the contract's error.
func insertReply(r result) error {
	switch {
	case r.err != nil:
		return unavailable("insert", r.err)
	case r.val == int64(1):
		return nil
	case r.val == int64(0):
		return fmt.Errorf("%w: id already held", store.ErrDuplicate)
	case r.val == int64(replyDamaged):
		return errDamaged("insert")
	case r.val == int64(replyAbandoned):
		return unavailable("insert", errors.New("the staged insert was taken for abandoned and removed"))
	}
	return unavailable("insert", fmt.Errorf("unexpected reply %v", r.val))
}

// worse keeps the first error, preferring an unavailability, which says that
// the outcome is unknown.
func worse(have, err error) error {
	if err == nil {
		return have
	}
	if have == nil || (errors.Is(err, store.ErrUnavailable) && !errors.Is(have, store.ErrUnavailable)) {
		return err
	}
	return have
}

func newStagingID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// summaries returns the latest expiry of recs (µs) and the batch summaries
// insertScript and commitScript take: their number, then per batch its
// name, count, first and last issue time (µs).
func summaries(recs []store.Record) (int64, []interface{}) {
	type span struct{ n, first, last int64 }
	var order []string
	spans := map[string]*span{}
	var last int64
	for i := range recs {
		r := &recs[i]
		last = max(last, store.UnixMicro(r.ExpiresAt))
		if r.Batch == "" {
			continue
		}
		at := store.UnixMicro(r.IssuedAt)
		sp, ok := spans[r.Batch]
		if !ok {
			sp = &span{first: at, last: at}
			spans[r.Batch] = sp
			order = append(order, r.Batch)
		}
		sp.n++
		sp.first, sp.last = min(sp.first, at), max(sp.last, at)
	}
	out := []interface{}{len(order)}
	for _, b := range order {
		sp := spans[b]
		out = append(out, b, sp.n, fmtInt(sp.first), fmtInt(sp.last))
	}
	return last, out
}

// insertCall is one call of insertScript for recs; x is the staged Insert's
// id, "" for a direct Insert (which carries the batch summaries).
func (s *Store) insertCall(recs []store.Record, x string) call {
	keys := make([]string, 0, insertKeys+len(recs))
	keys = append(keys, s.k.all, s.k.exp, s.k.ev, s.k.led, s.k.ctl, s.k.rseq, s.k.bn, s.k.bt, s.k.px)
	args := []interface{}{s.k.tag, x}
	if x == "" {
		_, batches := summaries(recs)
		args = append(args, batches...)
	} else {
		args = append(args, 0)
	}
	tail := make([]interface{}, 0, 2*len(recs))
	payloads := make([]interface{}, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		keys = append(keys, s.k.record(r.ID))
		issued, expires := store.UnixMicro(r.IssuedAt), store.UnixMicro(r.ExpiresAt)
		keyExpiry := (expires+999)/1000 + s.retention
		args = append(args, r.ID, r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], r.State,
			fmtInt(issued), fmtInt(expires), fmtInt(keyExpiry), issuedEntry(issued, r.ID))
		tail = append(tail, expiryMember(r, x))
		payloads = append(payloads, encEvent(&store.Event{Kind: store.EventIssued, TokenID: r.ID,
			Member: r.Member, Batch: r.Batch, Purpose: r.Purpose, Detail: r.Recipient}, x))
	}
	return call{keys, append(append(args, tail...), payloads...)}
}

// abandon gives up the staged Insert x and removes what it wrote: first it
// takes x off the pending inserts, so that no chunk or commit of it can run
// any more, then it removes its records, then its id list. recs are its
// records when the caller has them; otherwise they are read from the list.
func (s *Store) abandon(ctx context.Context, x string, recs []store.Record) error {
	if err := s.c.ZRem(ctx, s.k.px, x).Err(); err != nil {
		return unavailable("insert cleanup", err)
	}
	if recs == nil {
		var err error
		if recs, err = s.stagedRecords(ctx, x); err != nil {
			return err
		}
	}
	var calls []call
	for i := 0; i < len(recs); i += insertChunk {
		chunk := recs[i:min(i+insertChunk, len(recs))]
		keys := append(make([]string, 0, 4+len(chunk)), s.k.all, s.k.exp, s.k.ev, s.k.led)
		args := append(make([]interface{}, 0, 2+cleanupFields*len(chunk)), s.k.tag, x)
		for j := range chunk {
			r := &chunk[j]
			keys = append(keys, s.k.record(r.ID))
			args = append(args, r.ID, r.Member, r.Batch, issuedEntry(store.UnixMicro(r.IssuedAt), r.ID), expiryMember(r, x))
		}
		calls = append(calls, call{keys, args})
	}
	for _, r := range s.run(ctx, cleanupScript, calls) {
		if r.err != nil {
			return unavailable("insert cleanup", r.err)
		}
	}
	if err := s.c.Del(ctx, s.k.staged(x)).Err(); err != nil {
		return unavailable("insert cleanup", err)
	}
	return nil
}

// stagedRecords reads the records of the staged Insert x that are still
// there, from its id list: what cleanupScript needs of each.
func (s *Store) stagedRecords(ctx context.Context, x string) ([]store.Record, error) {
	ids, err := s.c.SMembers(ctx, s.k.staged(x)).Result()
	if err != nil {
		return nil, unavailable("insert cleanup", err)
	}
	var out []store.Record
	for i := 0; i < len(ids); i += insertChunk {
		chunk := ids[i:min(i+insertChunk, len(ids))]
		pipe := s.c.Pipeline()
		cmds := make([]*goredis.SliceCmd, len(chunk))
		for j, id := range chunk {
			cmds[j] = pipe.HMGet(ctx, s.k.record(id), recordFields...)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return nil, unavailable("insert cleanup", err)
		}
		for j, c := range cmds {
			v := c.Val()
			str := func(k int) string { s, _ := v[k].(string); return s }
			if len(v) != len(recordFields) || str(fieldStaged) != x {
				continue // gone already, or another call's
			}
			us, err := strconv.ParseInt(str(fieldIssued), 10, 64)
			if err != nil {
				continue
			}
			out = append(out, store.Record{ID: chunk[j], Member: str(fieldMember), Batch: str(fieldBatch),
				IssuedAt: store.FromUnixMicro(us)})
		}
	}
	return out, nil
}

// sweepStaged abandons the staged Inserts older than [stagedTimeout] by
// the server's clock: their processes died before they committed.
func (s *Store) sweepStaged(ctx context.Context) error {
	now, err := s.c.Time(ctx).Result()
	if err != nil {
		return unavailable("purge", err)
	}
	old := now.Add(-stagedTimeout).UnixMilli()
	xs, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.k.px, Start: "-inf", Stop: fmtInt(old), ByScore: true}).Result()
	if err != nil {
		return unavailable("purge", err)
	}
	for _, x := range xs {
		if err := s.abandon(ctx, x, nil); err != nil {
			return err
		}
	}
	return nil
}

// staged is a record read from its hash, with the staged Insert it belongs
// to ("" for a direct one).
type staged struct {
	r *store.Record
	x string
}

// stagedOf returns the staged Insert field of an HMGET of recordFields.
func stagedOf(v []interface{}) string {
	if len(v) != len(recordFields) {
		return ""
	}
	x, _ := v[fieldStaged].(string)
	return x
}

// committed adds to known whether each staged Insert in xs has committed.
func (s *Store) committed(ctx context.Context, known map[string]bool, xs []string) error {
	var ask []string
	for _, x := range xs {
		if _, ok := known[x]; x != "" && !ok {
			known[x] = false
			ask = append(ask, x)
		}
	}
	if len(ask) == 0 {
		return nil
	}
	vals, err := s.c.HMGet(ctx, s.k.xc, ask...).Result()
	if err != nil {
		return unavailable("committed inserts", err)
	}
	for i, v := range vals {
		_, known[ask[i]] = v.(string)
	}
	return nil
}

// resolve returns the records that are visible, with the sequence numbers
// of those a staged Insert wrote: the number its commit drew.
func (s *Store) resolve(ctx context.Context, recs []staged) ([]*store.Record, error) {
	var ask []string
	seqs := map[string]int64{}
	for _, r := range recs {
		if _, ok := seqs[r.x]; r.x != "" && !ok {
			seqs[r.x] = 0
			ask = append(ask, r.x)
		}
	}
	if len(ask) > 0 {
		vals, err := s.c.HMGet(ctx, s.k.xc, ask...).Result()
		if err != nil {
			return nil, unavailable("committed inserts", err)
		}
		for i, v := range vals {
			c, ok := v.(string)
			if !ok {
				delete(seqs, ask[i])
				continue
			}
			q, _, _ := strings.Cut(c, ":")
			n, err := strconv.ParseInt(q, 10, 64)
			if err != nil {
				return nil, unavailable("committed inserts", errors.New("malformed entry"))
			}
			seqs[ask[i]] = n
		}
	}
	out := make([]*store.Record, 0, len(recs))
	for _, r := range recs {
		if r.x == "" {
			out = append(out, r.r)
		} else if n, ok := seqs[r.x]; ok {
			r.r.Seq = n
			out = append(out, r.r)
		}
	}
	return out, nil
}

// insertChunk is the number of records one insert script call writes. The
// script unpacks two values per record into one command, and Lua 5.1 limits
// unpack to about 8000 values.
const insertChunk = 1000
