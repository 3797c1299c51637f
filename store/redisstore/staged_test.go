package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// stageWithoutCommit writes the chunks of a staged Insert and stops where a
// killed process would: before the commit.
func stageWithoutCommit(t *testing.T, s *Store, recs []store.Record) string {
	t.Helper()
	ctx := context.Background()
	x, err := newStagingID()
	if err != nil {
		t.Fatal(err)
	}
	if err := insertReply(s.run(ctx, beginScript, []call{{[]string{s.k.ctl, s.k.px}, []interface{}{x}}})[0]); err != nil {
		t.Fatal(err)
	}
	var calls []call
	for i := 0; i < len(recs); i += insertChunk {
		calls = append(calls, s.insertCall(recs[i:min(i+insertChunk, len(recs))], x))
	}
	for _, r := range s.run(ctx, insertScript, calls) {
		if err := insertReply(r); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// TestStagedInsertInvisible: the records of an Insert whose process died
// before it committed are never consumable, counted, listed or in the
// ledger, and Purge removes them once the Insert is old enough.
func TestStagedInsertInvisible(t *testing.T) {
	ctx := context.Background()
	c, _ := realClient(t)
	s := realStore(t, c)
	ls := newLinks(t, 2*insertChunk+10, "staged")
	x := stageWithoutCommit(t, s, records(ls))
	f := store.Filter{Batches: []string{"fault"}}
	if n, err := s.Count(ctx, f); err != nil || n != 0 {
		t.Fatalf("Count of an uncommitted insert = %d, %v", n, err)
	}
	if recs, err := s.Records(ctx, store.RecordQuery{Filter: f}); err != nil || len(recs) != 0 {
		t.Fatalf("Records of an uncommitted insert = %d, %v", len(recs), err)
	}
	if tally, err := s.Tally(ctx, f, time.Now()); err != nil || tally.Total() != 0 {
		t.Fatalf("Tally of an uncommitted insert = %+v, %v", tally, err)
	}
	if bs, err := s.Batches(ctx, store.BatchQuery{}); err != nil || len(bs) != 0 {
		t.Fatalf("Batches with an uncommitted insert = %+v, %v", bs, err)
	}
	if evs, _, err := s.Events(ctx, store.EventQuery{Batch: "fault"}); err != nil || len(evs) != 0 {
		t.Fatalf("ledger of an uncommitted insert: %d entries, %v", len(evs), err)
	}
	if n, err := s.Revoke(ctx, f, time.Now()); err != nil || n != 0 {
		t.Fatalf("Revoke of an uncommitted insert = %d, %v", n, err)
	}
	for _, l := range []storetest.Link{ls[0], ls[len(ls)-1]} {
		if _, err := s.Get(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get of an uncommitted record: %v", err)
		}
		if _, err := s.Peek(ctx, l.Request(time.Now())); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Peek of an uncommitted record: %v", err)
		}
		if _, err := s.Consume(ctx, l.Request(time.Now())); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Consume of an uncommitted record: %v", err)
		}
		if _, err := s.Fail(ctx, l.ID, time.Now(), 5); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Fail of an uncommitted record: %v", err)
		}
	}
	// A Purge does not take a young Insert for abandoned.
	if _, err := s.Purge(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, s.k.record(ls[0].ID)).Result(); n != 1 {
		t.Fatal("Purge removed the records of an Insert still in progress")
	}
	// An hour later, it does, and the Insert can no longer commit.
	if err := c.ZAdd(ctx, s.k.px, goredis.Z{Score: 0, Member: x}).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if n, _ := c.Exists(ctx, s.k.record(l.ID)).Result(); n != 0 {
			t.Fatal("Purge left a record of an abandoned insert")
		}
	}
	for _, k := range []string{s.k.all, s.k.exp, s.k.led, s.k.px, s.k.batchIndex("fault"), s.k.batchLedger("fault")} {
		if n, _ := c.ZCard(ctx, k).Result(); n != 0 {
			t.Fatalf("%s holds %d entries of an abandoned insert", k, n)
		}
	}
	if n, _ := c.HLen(ctx, s.k.ev).Result(); n != 0 {
		t.Fatalf("the ledger holds %d payloads of an abandoned insert", n)
	}
	if n, _ := c.Exists(ctx, s.k.staged(x)).Result(); n != 0 {
		t.Fatal("the id list of an abandoned insert remains")
	}
	last, batches := summaries(records(ls))
	r := s.run(ctx, commitScript, []call{{[]string{s.k.ctl, s.k.rseq, s.k.xc, s.k.px, s.k.bn, s.k.bt, s.k.staged(x)},
		append([]interface{}{x, fmtInt(last)}, batches...)}})[0]
	if err := insertReply(r); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("commit of an abandoned insert: %v", err)
	}
}

// TestStagedInsertCommits: a large Insert is visible at once when it
// returns, with one sequence number, and counted in its batch.
func TestStagedInsertCommits(t *testing.T) {
	ctx := context.Background()
	c, _ := realClient(t)
	s := realStore(t, c)
	ls := newLinks(t, 2*insertChunk+10, "committed")
	if err := s.Insert(ctx, records(ls)); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Get(ctx, ls[0].ID)
	last, _ := s.Get(ctx, ls[len(ls)-1].ID)
	if first.Seq == 0 || first.Seq != last.Seq {
		t.Fatalf("sequence numbers %d and %d, want one number for the Insert", first.Seq, last.Seq)
	}
	bs, err := s.Batches(ctx, store.BatchQuery{})
	if err != nil || len(bs) != 1 || bs[0].Links != int64(len(ls)) {
		t.Fatalf("Batches = %+v, %v", bs, err)
	}
	if _, err := s.Consume(ctx, ls[len(ls)-1].Request(time.Now())); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.ZCard(ctx, s.k.px).Result(); n != 0 {
		t.Fatalf("%d pending inserts after a committed one", n)
	}
	// Purge of everything forgets the batch and the committed insert.
	if n, err := s.Purge(ctx, time.Now().Add(2*time.Hour)); err != nil || n != int64(len(ls)) {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	if bs, _ := s.Batches(ctx, store.BatchQuery{}); len(bs) != 0 {
		t.Fatalf("Batches after the purge = %+v", bs)
	}
	if n, _ := c.HLen(ctx, s.k.xc).Result(); n != 0 {
		t.Fatalf("%d committed inserts remembered after their records were purged", n)
	}
}
