package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

func testFreeze(t *testing.T, s store.Store) {
	n := now()
	tk := mk(t, "m", batch("fb"))
	insert(t, s, tk)
	h := store.Hold{Scope: store.ScopeBatch, Key: "fb", Since: n, Reason: "first"}
	wantErr(t, "Freeze", s.Freeze(ctx, h), nil)
	again := h
	again.Since, again.Reason = n.Add(time.Minute), "second"
	wantErr(t, "Freeze again", s.Freeze(ctx, again), nil)
	holds, err := s.Holds(ctx)
	wantErr(t, "Holds", err, nil)
	if len(holds) != 1 || holds[0].Scope != store.ScopeBatch || holds[0].Key != "fb" || holds[0].Reason != "first" || !holds[0].Since.Equal(n) {
		t.Fatalf("Holds = %+v, want the first hold kept", holds)
	}
	_, err = s.Consume(ctx, tk.Request(n))
	wantErr(t, "Consume frozen", err, store.ErrFrozen)
	_, err = s.Peek(ctx, tk.Request(n))
	wantErr(t, "Peek frozen", err, store.ErrFrozen)
	wantStatus(t, s, tk.ID, store.StatusIssued)

	ok, err := s.Thaw(ctx, store.ScopeBatch, "fb")
	wantErr(t, "Thaw", err, nil)
	if !ok {
		t.Fatal("Thaw of a frozen batch reported no hold")
	}
	ok, err = s.Thaw(ctx, store.ScopeBatch, "fb")
	wantErr(t, "Thaw again", err, nil)
	if ok {
		t.Fatal("a second Thaw reported a hold")
	}
	_, err = s.Consume(ctx, tk.Request(n))
	wantErr(t, "Consume thawed", err, nil)

	for _, bad := range []store.Hold{
		{Scope: store.ScopeBatch}, {Scope: store.ScopeMember}, {Scope: store.ScopeGlobal, Key: "x"}, {Scope: 99, Key: "x"},
	} {
		wantErr(t, fmt.Sprintf("Freeze(%+v)", bad), s.Freeze(ctx, bad), store.ErrInvalid)
	}
	if holds, _ := s.Holds(ctx); len(holds) != 0 {
		t.Fatalf("invalid holds were placed: %+v", holds)
	}
}

func testFreezeScopes(t *testing.T, s store.Store) {
	n := now()
	inBatch := mk(t, "m1", batch("sb"))
	member := mk(t, "m2")
	plain := mk(t, "m3")
	insert(t, s, inBatch, member, plain)
	cases := []struct {
		name   string
		hold   store.Hold
		frozen map[string]bool
	}{
		{"batch", store.Hold{Scope: store.ScopeBatch, Key: "sb"}, map[string]bool{inBatch.ID: true}},
		{"member", store.Hold{Scope: store.ScopeMember, Key: "m2"}, map[string]bool{member.ID: true}},
		{"global", store.Hold{Scope: store.ScopeGlobal}, map[string]bool{inBatch.ID: true, member.ID: true, plain.ID: true}},
		{"other batch", store.Hold{Scope: store.ScopeBatch, Key: "nope"}, map[string]bool{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.hold.Since = n
			wantErr(t, "Freeze", s.Freeze(ctx, tc.hold), nil)
			for _, tk := range []Link{inBatch, member, plain} {
				var want error
				if tc.frozen[tk.ID] {
					want = store.ErrFrozen
				}
				_, err := s.Peek(ctx, tk.Request(n))
				wantErr(t, "Peek "+tk.Member, err, want)
			}
			ok, err := s.Thaw(ctx, tc.hold.Scope, tc.hold.Key)
			wantErr(t, "Thaw", err, nil)
			if !ok {
				t.Fatal("Thaw reported no hold")
			}
		})
	}
	wantErr(t, "Freeze member", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "zed", Since: n}), nil)
	wantErr(t, "Freeze global", s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal, Since: n}), nil)
	wantErr(t, "Freeze batch", s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "b", Since: n}), nil)
	wantErr(t, "Freeze member", s.Freeze(ctx, store.Hold{Scope: store.ScopeMember, Key: "amy", Since: n}), nil)
	holds, err := s.Holds(ctx)
	wantErr(t, "Holds", err, nil)
	var got []string
	for _, h := range holds {
		got = append(got, h.Scope.String()+":"+h.Key)
	}
	if want := []string{"global:", "batch:b", "member:amy", "member:zed"}; !slices.Equal(got, want) {
		t.Fatalf("Holds = %v, want %v", got, want)
	}
}
