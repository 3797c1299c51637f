package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

func testInvalidRequest(t *testing.T, s store.Store) {
	tk := mk(t, "m")
	insert(t, s, tk)
	noTime := tk.Request(time.Time{})
	badState := tk.Request(now())
	badState.State = []byte{1, 2, 3}
	longUA := tk.Request(now())
	longUA.Presentation.UserAgent = string(make([]byte, store.MaxUserAgentLen+1))
	noMember := tk.Request(now())
	noMember.Member = ""
	noPurpose := tk.Request(now())
	noPurpose.Purpose = ""
	badConfirmation := tk.Request(now())
	badConfirmation.Confirmation = 7
	badCap := tk.Request(now())
	badCap.MaxFailures = -1
	for name, req := range map[string]store.ConsumeRequest{"no time": noTime, "short state": badState, "long user agent": longUA,
		"no member": noMember, "no purpose": noPurpose, "unknown confirmation": badConfirmation, "negative cap": badCap} {
		_, err := s.Peek(ctx, req)
		wantErr(t, "Peek "+name, err, store.ErrInvalid)
		_, err = s.Consume(ctx, req)
		wantErr(t, "Consume "+name, err, store.ErrInvalid)
	}
	wantStatus(t, s, tk.ID, store.StatusIssued)
}

// testInvalidText: every text a store would write or look up must be
// bounded UTF-8 without NUL; anything else is refused with ErrInvalid,
// whatever the engine would have done with it, and text cleaned with
// store.CleanText is kept as it is.
func testInvalidText(t *testing.T, s store.Store) {
	n := now()
	tk := mk(t, "m", batch("tb"))
	insert(t, s, tk)
	bad := []string{"Mozilla/5.0 \xff", "a\x00b", "\xc3"}
	for _, b := range bad {
		t.Run(fmt.Sprintf("%q", b), func(t *testing.T) {
			wantErr(t, "Append user agent", s.Append(ctx, store.Event{At: n, Kind: store.EventRefused, Presentation: store.Presentation{UserAgent: b}}), store.ErrInvalid)
			wantErr(t, "Append reason", s.Append(ctx, store.Event{At: n, Kind: store.EventRefused, Reason: b}), store.ErrInvalid)
			wantErr(t, "Append detail", s.Append(ctx, store.Event{At: n, Kind: store.EventBlocked, Detail: b}), store.ErrInvalid)
			rec := mk(t, b)
			wantErr(t, "Insert member", s.Insert(ctx, []store.Record{rec.Record}), store.ErrInvalid)
			rec = mk(t, "m", recipient(b))
			wantErr(t, "Insert recipient", s.Insert(ctx, []store.Record{rec.Record}), store.ErrInvalid)
			req := tk.Request(n)
			req.Presentation.Identity = b
			_, err := s.Consume(ctx, req)
			wantErr(t, "Consume identity", err, store.ErrInvalid)
			_, err = s.Peek(ctx, req)
			wantErr(t, "Peek identity", err, store.ErrInvalid)
			wantErr(t, "Freeze reason", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "tb", Since: n, Reason: b}), store.ErrInvalid)
			wantErr(t, "Freeze key", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: b, Since: n}), store.ErrInvalid)
			_, err = s.Count(ctx, store.Filter{Members: []string{b}})
			wantErr(t, "Count member", err, store.ErrInvalid)
			_, _, err = s.Events(ctx, store.EventQuery{Batch: b})
			wantErr(t, "Events batch", err, store.ErrInvalid)
			wantErr(t, "Watermark member", s.Watermark(ctx, b, n), store.ErrInvalid)
			_, err = s.WatermarkNow(ctx, b)
			wantErr(t, "WatermarkNow member", err, store.ErrInvalid)
			if lister, ok := s.(store.BatchLister); ok {
				_, err = lister.Batches(ctx, store.BatchQuery{After: b})
				wantErr(t, "Batches cursor", err, store.ErrInvalid)
			}
		})
	}
	if marks, err := s.Marks(ctx); err != nil || len(marks) != 0 {
		t.Fatalf("a refused watermark was placed: %+v, %v", marks, err)
	}
	holds, err := s.Holds(ctx)
	wantErr(t, "Holds", err, nil)
	if len(holds) != 0 {
		t.Fatalf("a refused hold was placed: %+v", holds)
	}
	ua := store.CleanText("Mozilla/5.0 \xff\x00"+strings.Repeat("é", store.MaxUserAgentLen), store.MaxUserAgentLen)
	ev := store.Event{At: n, Kind: store.EventRefused, Batch: "tb", Reason: "mismatch", Presentation: store.Presentation{UserAgent: ua}}
	wantErr(t, "Append of cleaned text", s.Append(ctx, ev), nil)
	evs, _, err := s.Events(ctx, store.EventQuery{Batch: "tb", Kinds: []store.EventKind{store.EventRefused}})
	wantErr(t, "Events", err, nil)
	if len(evs) != 1 || evs[0].Presentation.UserAgent != ua {
		t.Fatalf("cleaned text came back as %+v", evs)
	}
	req := tk.Request(n)
	req.Presentation.UserAgent = ua
	r, err := s.Consume(ctx, req)
	wantErr(t, "Consume with cleaned text", err, nil)
	if r.Consumer.UserAgent != ua || get(t, s, tk.ID).Consumer.UserAgent != ua {
		t.Fatalf("cleaned text was not kept as it is")
	}
}
