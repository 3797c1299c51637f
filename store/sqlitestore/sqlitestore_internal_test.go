package sqlitestore

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

// TestSettle runs the transactional path of Consume, taken when the
// refusal read finds no reason (a hold lifted between the UPDATE and the
// read): it consumes what passes and refuses the rest in contract order.
func TestSettle(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "tx.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := store.Micro(time.Now())
	mk := func(id, batch string) (store.Record, store.ConsumeRequest) {
		h := sha256.Sum256([]byte(id))
		r := store.Record{ID: id, Member: "m", Purpose: "login", Batch: batch, SecretHash: h,
			IssuedAt: n.Add(-time.Minute), ExpiresAt: n.Add(time.Hour)}
		return r, store.ConsumeRequest{ID: id, SecretHash: h, At: n, Member: "m", Purpose: "login", Batch: batch,
			Presentation: store.Presentation{Session: "s"}}
	}
	ok, okReq := mk("0190a1b2-c3d4-7e5f-8a9b-000000000001", "")
	frozen, frozenReq := mk("0190a1b2-c3d4-7e5f-8a9b-000000000002", "fb")
	if err := s.Insert(ctx, []store.Record{ok, frozen}); err != nil {
		t.Fatal(err)
	}
	if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "fb"}); err != nil {
		t.Fatal(err)
	}
	badSecret := okReq
	badSecret.SecretHash[0] ^= 1
	missing := okReq
	missing.ID = "0190a1b2-c3d4-7e5f-8a9b-0000000000ff"
	for _, tc := range []struct {
		name    string
		req     store.ConsumeRequest
		wantErr error
	}{
		{"secret", badSecret, store.ErrSecret},
		{"not found", missing, store.ErrNotFound},
		{"frozen", frozenReq, store.ErrFrozen},
		{"success", okReq, nil},
		{"used", okReq, store.ErrUsed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := checkRequest(ctx, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.settle(ctx, id, &tc.req, true, consumeArgs(id, &tc.req))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("settle: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && (r.Status != store.StatusConsumed || r.Consumer.Session != "s") {
				t.Fatalf("settle returned %+v", r)
			}
			if errors.Is(tc.wantErr, store.ErrFrozen) && r.ID != tc.req.ID {
				t.Fatalf("a refusal must return the record, got %+v", r)
			}
		})
	}
	if r, err := s.Get(ctx, frozen.ID); err != nil || r.Status != store.StatusIssued {
		t.Fatalf("a refused settle changed the record: %+v, %v", r, err)
	}
}
