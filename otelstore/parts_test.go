package otelstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/guard"
	"github.com/oncelink/oncelink/otelstore"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// TestParts counts what oncelink's own parts report through the store: a
// batch minted by the issuer, the incident's message (Ann's mail carrying
// Bo's link) blocked by the send guard, which freezes the batch, and the
// operator's thaw and revocation through the admin.
func TestParts(t *testing.T) {
	st, r := instrument(t, memstore.New())
	ctx := context.Background()
	key, err := token.GenerateHMACKey("k1")
	must(t, err)
	keys, err := token.NewKeyring(key)
	must(t, err)
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	must(t, err)
	p, err := iss.Parser()
	must(t, err)
	links, err := iss.MintBatch(ctx, "invite-1", []token.Request{
		{Member: "m-1", Purpose: token.PurposeLogin, Recipient: "ann@example.org"},
		{Member: "m-2", Purpose: token.PurposeLogin, Recipient: "bo@example.org"},
	})
	must(t, err)
	g, err := guard.New(p, st, guard.WithBatch("invite-1"))
	must(t, err)
	raw := []byte("To: ann@example.org\r\nSubject: Your new member site\r\n\r\nDear Ann,\r\n\r\n" + links[1].URL + "\r\n")
	err = g.CheckAll(ctx, []guard.Mail{{To: "ann@example.org", Member: "m-1", Raw: raw}})
	var be *guard.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("the guard let Bo's link go to Ann: %v", err)
	}
	adm, err := admin.New(st)
	must(t, err)
	if _, err := adm.Thaw(ctx, store.Hold{Scope: store.ScopeBatch, Key: "invite-1"}, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Revoke(ctx, store.Filter{Batches: []string{"invite-1"}}, "ops", admin.Confirm(2)); err != nil {
		t.Fatal(err)
	}

	want := func(name string, n int64, kvs ...string) {
		t.Helper()
		var attrs []attribute.KeyValue
		for i := 0; i+1 < len(kvs); i += 2 {
			attrs = append(attrs, attribute.String(kvs[i], kvs[i+1]))
		}
		if got := r.sum(t, name, attrs...); got != n {
			t.Errorf("%s %v = %d, want %d", name, kvs, got, n)
		}
	}
	want(otelstore.MetricMinted, 2, string(otelstore.KeyKind), "batch")
	want(otelstore.MetricBlocked, 1, string(otelstore.KeyReason), be.Reason)
	want(otelstore.MetricPlaced, 1, string(otelstore.KeyBy), "guard", string(otelstore.KeyScope), "batch")
	want(otelstore.MetricLifted, 1, string(otelstore.KeyScope), "batch")
	want(otelstore.MetricRevoked, 2, string(otelstore.KeyCause), "filter")
	want(otelstore.MetricErrors, 0)
	if be.Reason == "other" || be.Reason == "" {
		t.Errorf("blocked for %q", be.Reason)
	}
	checkBounded(t, r)
}

// TestBreakerTrip: the incident's pattern (one member's link presented by
// two other members, each with their own address) trips the verifier's
// breaker, which is counted as a trip and a hold the breaker placed.
func TestBreakerTrip(t *testing.T) {
	st, r := instrument(t, memstore.New())
	ctx := context.Background()
	key, err := token.GenerateHMACKey("k1")
	must(t, err)
	keys, err := token.NewKeyring(key)
	must(t, err)
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	must(t, err)
	p, err := iss.Parser()
	must(t, err)
	reqs := make([]token.Request, 10)
	for i := range reqs {
		reqs[i] = token.Request{Member: fmt.Sprintf("m-%d", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("member%d@example.org", i)}
	}
	links, err := iss.MintBatch(ctx, "invite-1", reqs)
	must(t, err)
	tripped := make(chan verify.Trip, 1)
	v, err := verify.New(p, st, verify.WithBreaker(verify.Breaker{OnTrip: func(_ context.Context, tr verify.Trip) { tripped <- tr }}))
	must(t, err)
	for i, who := range []string{"member1@example.org", "member2@example.org"} {
		_, err := v.Consume(ctx, verify.Request{Link: links[0].URL, Purpose: token.PurposeLogin,
			Identity: verify.Identity{Email: who}, IP: fmt.Sprintf("192.0.2.%d", i+1), UserAgent: "mail client " + who})
		if !errors.Is(err, verify.ErrMismatch) {
			t.Fatalf("%s with member0's link: %v", who, err)
		}
	}
	select {
	case <-tripped:
	default:
		t.Fatal("the breaker did not trip")
	}
	want := func(name string, n int64, kvs ...attribute.KeyValue) {
		t.Helper()
		if got := r.sum(t, name, kvs...); got != n {
			t.Errorf("%s %v = %d, want %d", name, kvs, got, n)
		}
	}
	want(otelstore.MetricTrips, 1)
	want(otelstore.MetricPlaced, 1, otelstore.KeyBy.String("breaker"), otelstore.KeyScope.String("batch"))
	want(otelstore.MetricRefusals, 2, otelstore.KeyReason.String(string(store.ReasonMismatch)))
	want(otelstore.MetricConsumed, 0)
}
