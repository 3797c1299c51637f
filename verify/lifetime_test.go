package verify

import (
	"errors"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
)

// TestShortLivedSite: a site whose links live at most 15 minutes builds
// its issuer, parser and verifier, and its links log in until they expire.
func TestShortLivedSite(t *testing.T) {
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	key, _ := token.GenerateHMACKey("k1")
	keys, _ := token.NewKeyring(key)
	st := memstore.New()
	iss, err := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"),
		token.WithMaxTTL(15*time.Minute), token.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iss.Parser()
	if err != nil {
		t.Fatalf("the issuer's parser: %v", err)
	}
	v, err := New(p, st)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := iss.MintBatch(ctx, "b-1", []token.Request{ann})
	if err != nil {
		t.Fatal(err)
	}
	one, err := iss.Mint(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Consume(ctx, login(one.URL, Identity{Email: "ann@example.org"})); err != nil {
		t.Fatalf("a link minted under a 15-minute maximum: %v", err)
	}
	clk.add(15*time.Minute + time.Second)
	if _, err := v.Consume(ctx, login(batch[0].URL, Identity{Email: "ann@example.org"})); !errors.Is(err, ErrExpired) {
		t.Fatalf("a batch link after 15 minutes: %v, want ErrExpired", err)
	}
}
