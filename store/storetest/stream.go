package storetest

import (
	"errors"
	"iter"
	"testing"

	"github.com/oncelink/oncelink/store"
)

// seqOf yields recs, then err if it is not nil.
func seqOf(recs []store.Record, err error) iter.Seq2[store.Record, error] {
	return func(yield func(store.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
		if err != nil {
			yield(store.Record{}, err)
		}
	}
}

// testInsertSeq checks store.InsertSeq, which a store may implement
// (store.StreamInserter) and otherwise gets from Insert: the records go in
// all or nothing, whatever breaks the stream.
func testInsertSeq(t *testing.T, s store.Store) {
	recs, _ := Tokens(t, 300, "seq")
	count := func() int64 {
		t.Helper()
		n, err := s.Count(ctx, store.Filter{Batches: []string{"seq"}})
		wantErr(t, "Count", err, nil)
		return n
	}
	wantErr(t, "InsertSeq(empty)", store.InsertSeq(ctx, s, seqOf(nil, nil)), nil)

	stop := errors.New("the producer failed")
	if err := store.InsertSeq(ctx, s, seqOf(recs, stop)); !errors.Is(err, stop) {
		t.Fatalf("InsertSeq with a failing producer = %v, want its error", err)
	}
	bad := append([]store.Record(nil), recs...)
	bad[250].Member = ""
	wantErr(t, "InsertSeq with an invalid record", store.InsertSeq(ctx, s, seqOf(bad, nil)), store.ErrInvalid)
	twice := append(append([]store.Record(nil), recs...), recs[7])
	wantErr(t, "InsertSeq with an id twice", store.InsertSeq(ctx, s, seqOf(twice, nil)), store.ErrDuplicate)
	if n := count(); n != 0 {
		t.Fatalf("failed InsertSeq calls left %d records, want 0", n)
	}

	wantErr(t, "InsertSeq", store.InsertSeq(ctx, s, seqOf(recs, nil)), nil)
	if n := count(); n != int64(len(recs)) {
		t.Fatalf("InsertSeq of %d records: %d in the store", len(recs), n)
	}
	for _, i := range []int{0, 128, 299} {
		got := get(t, s, recs[i].ID)
		if got.Member != recs[i].Member || got.SecretHash != recs[i].SecretHash || got.Status != store.StatusIssued {
			t.Fatalf("record %d after InsertSeq: %+v", i, got)
		}
	}
	more, _ := Tokens(t, 3, "seq")
	more[1] = recs[5]
	wantErr(t, "InsertSeq of an id already held", store.InsertSeq(ctx, s, seqOf(more, nil)), store.ErrDuplicate)
	if n := count(); n != int64(len(recs)) {
		t.Fatalf("a refused InsertSeq changed the count to %d, want %d", n, len(recs))
	}
}
