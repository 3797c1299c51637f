package token

import (
	"errors"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store/memstore"
)

func lifetime(l *Link) time.Duration { return l.Claims.ExpiresAt.Sub(l.Claims.IssuedAt) }

// TestDefaultLifetimes: a link a member asks for lives minutes (NIST SP
// 800-63B 5.1.3.2, OWASP ASVS 2.7.2); a link sent unprompted in a batch
// lives longer; each has its option.
func TestDefaultLifetimes(t *testing.T) {
	cases := []struct {
		name        string
		opts        []IssuerOption
		single, bat time.Duration
	}{
		{"defaults", nil, DefaultTTL, DefaultBatchTTL},
		{"ten minutes, three days", []IssuerOption{WithTTL(10 * time.Minute), WithBatchTTL(72 * time.Hour)}, 10 * time.Minute, 72 * time.Hour},
		{"a 15-minute maximum caps the batch default", []IssuerOption{WithMaxTTL(15 * time.Minute)}, 15 * time.Minute, 15 * time.Minute},
		{"a 5-minute maximum caps both defaults", []IssuerOption{WithMaxTTL(5 * time.Minute)}, 5 * time.Minute, 5 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, hmacKey(t, "k"), tc.opts...)
			if got := lifetime(f.mint(t, login)); got != tc.single {
				t.Fatalf("Mint: a link for %v, want %v", got, tc.single)
			}
			links, err := f.iss.MintBatch(ctx, "b-1", []Request{login})
			if err != nil {
				t.Fatal(err)
			}
			if got := lifetime(links[0]); got != tc.bat {
				t.Fatalf("MintBatch: a link for %v, want %v", got, tc.bat)
			}
			if _, err := f.p.Parse(links[0].URL, PurposeLogin); err != nil {
				t.Fatalf("the issuer's parser refuses its batch link: %v", err)
			}
		})
	}
	if DefaultTTL != 15*time.Minute || DefaultBatchTTL != 24*time.Hour {
		t.Fatalf("defaults %v and %v, documented as 15m and 24h", DefaultTTL, DefaultBatchTTL)
	}
}

// TestShortMaxTTL: a site whose links live at most 15 minutes builds its
// issuer, the issuer's parser and a parser of its own, and its links parse;
// a longer link is refused when minted and when parsed.
func TestShortMaxTTL(t *testing.T) {
	f := setup(t, hmacKey(t, "k"), WithMaxTTL(15*time.Minute))
	l := f.mint(t, login)
	if _, err := f.p.Parse(l.URL, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	p, err := NewParser(f.keys, WithIssuer("https://members.example.org"), WithMaxTTL(15*time.Minute), WithClock(f.clk.now))
	if err != nil {
		t.Fatalf("a parser with a 15-minute maximum: %v", err)
	}
	if _, err := p.Parse(l.URL, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iss.Mint(ctx, Request{Member: "m", Purpose: PurposeLogin, TTL: 16 * time.Minute}); !errors.Is(err, ErrRequest) {
		t.Fatalf("a 16-minute link under a 15-minute maximum: %v", err)
	}
	long := setup(t, hmacKey(t, "k2"), WithTTL(time.Hour))
	ll := long.mint(t, login)
	p2, err := NewParser(long.keys, WithIssuer("https://members.example.org"), WithMaxTTL(15*time.Minute), WithClock(long.clk.now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Parse(ll.URL, PurposeLogin); !errors.Is(err, ErrClaims) {
		t.Fatalf("an hour-long link under a 15-minute maximum: %v", err)
	}
}

func TestLifetimeConfig(t *testing.T) {
	keys, _ := NewKeyring(hmacKey(t, "k"))
	cases := []struct {
		name string
		opts []IssuerOption
	}{
		{"ttl above max", []IssuerOption{WithMaxTTL(15 * time.Minute), WithTTL(time.Hour)}},
		{"batch ttl above max", []IssuerOption{WithMaxTTL(15 * time.Minute), WithBatchTTL(time.Hour)}},
		{"batch ttl above hard cap", []IssuerOption{WithBatchTTL(hardMaxTTL + time.Hour)}},
		{"batch ttl below min", []IssuerOption{WithBatchTTL(time.Second)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]IssuerOption{WithBaseURL("https://x.example")}, tc.opts...)
			if _, err := NewIssuer(keys, memstore.New(), opts...); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}
