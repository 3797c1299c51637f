package verify

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// mintBatch mints n links of one batch, for members m0..m(n-1) at
// m<i>@example.org.
func (f *fixture) mintBatch(t testing.TB, batch string, n int) []*token.Link {
	t.Helper()
	reqs := make([]token.Request, n)
	for i := range reqs {
		reqs[i] = token.Request{Member: fmt.Sprint("m", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("m%d@example.org", i)}
	}
	ls, err := f.iss.MintBatch(ctx, batch, reqs)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// as is member i presenting link with the address they typed, from their
// own browser.
func as(i int, link, typed string) Request {
	return Request{Link: link, Purpose: token.PurposeLogin, Identity: Identity{Email: typed},
		IP: fmt.Sprintf("198.51.%d.%d", i/250, i%250+1), UserAgent: fmt.Sprintf("Mozilla/5.0 (member %d)", i)}
}

func (f *fixture) frozen(t testing.TB, batch string) bool {
	t.Helper()
	hs, err := f.st.Holds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Scope == store.ScopeBatch && h.Key == batch {
			return true
		}
	}
	return false
}

// incident replays the incident on a batch: in each group of ten, the other
// nine present the first member's link with their own addresses, from their
// own browsers. It stops at the first refusal for a freeze and reports
// whether there was one.
func (f *fixture) incident(t testing.TB, ls []*token.Link, groups int) bool {
	t.Helper()
	for g := 0; g < groups; g++ {
		for i := 10*g + 1; i < 10*g+10; i++ {
			f.v.Consume(ctx, as(i, ls[10*g].URL, fmt.Sprintf("m%d@example.org", i)))
			if f.frozen(t, ls[0].Claims.Batch) {
				return true
			}
			f.clk.add(time.Second)
		}
	}
	return false
}

func TestBreakerOnePersonsTypos(t *testing.T) {
	f := setup(t, nil, nil)
	ls := f.mintBatch(t, "b-typos", 100)
	for _, typed := range []string{"m5@exmaple.org", "m5@example.ogr", "m55@example.org"} {
		if _, err := f.v.Consume(ctx, as(5, ls[5].URL, typed)); !errors.Is(err, ErrMismatch) {
			t.Fatalf("typo %s: %v", typed, err)
		}
		f.clk.add(20 * time.Second)
	}
	if f.frozen(t, "b-typos") {
		t.Fatal("one member's three typos froze the batch")
	}
	if _, err := f.v.Consume(ctx, as(5, ls[5].URL, "m5@example.org")); err != nil {
		t.Fatalf("the member after the typos: %v", err)
	}
}

func TestBreakerMismatchesOnUsedLinks(t *testing.T) {
	f := setup(t, nil, nil)
	ls := f.mintBatch(t, "b-used", 100)
	if _, err := f.v.Consume(ctx, as(7, ls[7].URL, "m7@example.org")); err != nil {
		t.Fatal(err)
	}
	// The member posts their used link again, three times, each with a typo.
	for i := 0; i < 3; i++ {
		if _, err := f.v.Consume(ctx, as(7, ls[7].URL, fmt.Sprintf("m7@example.or%d", i))); !errors.Is(err, ErrUsed) {
			t.Fatalf("used link with a typo: %v", err)
		}
	}
	if f.frozen(t, "b-used") {
		t.Fatal("mismatches on a used link froze the batch")
	}
	evs, _, err := f.st.Events(ctx, store.EventQuery{Batch: "b-used", Kinds: []store.EventKind{store.EventRefused}})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("the mismatches on the used link were not recorded: %+v", evs)
	}
}

func TestBreakerIncident(t *testing.T) {
	f := setup(t, nil, nil)
	ls := f.mintBatch(t, "b-incident", 100)
	if !f.incident(t, ls, 10) {
		t.Fatal("the incident's pattern did not freeze the batch")
	}
}

func TestBreakerThawStartsNewWindow(t *testing.T) {
	f := setup(t, nil, nil)
	ls := f.mintBatch(t, "b-thaw", 100)
	if !f.incident(t, ls, 10) {
		t.Fatal("the incident's pattern did not freeze the batch")
	}
	if _, err := f.st.Thaw(ctx, store.ScopeBatch, "b-thaw"); err != nil {
		t.Fatal(err)
	}
	f.clk.add(time.Minute)
	if _, err := f.v.Consume(ctx, as(95, ls[95].URL, "m95@exmaple.org")); !errors.Is(err, ErrMismatch) {
		t.Fatalf("a typo after the thaw: %v", err)
	}
	if f.frozen(t, "b-thaw") {
		t.Fatal("one typo after the thaw froze the batch again: the mismatches before the thaw still counted")
	}
}

func TestBreakerBlindLedger(t *testing.T) {
	cs := &countingStore{failAppend: true}
	f := setup(t, nil, nil)
	cs.Store = f.st
	f = setup(t, nil, cs)
	ls := f.mintBatch(t, "b-blind", 100)
	if !f.incident(t, ls, 10) {
		t.Fatal("with a ledger that cannot be written, the incident's pattern did not freeze the batch")
	}
}

func TestBreakerLedgerReads(t *testing.T) {
	cs := &countingStore{}
	f := setup(t, nil, nil)
	cs.Store = f.st
	f = setup(t, nil, cs)
	ls := f.mintBatch(t, "b-reads", 1000)
	cs.take()
	// Twenty members each make a typo within the same second.
	for i := 0; i < 20; i++ {
		f.v.Consume(ctx, as(i, ls[i].URL, fmt.Sprintf("m%d@exmaple.org", i)))
	}
	reads := 0
	for _, c := range cs.take() {
		if c == "Events" {
			reads++
		}
	}
	if reads > 1 {
		t.Fatalf("the breaker read the ledger %d times within one second", reads)
	}
}

// TestBreakerInstancesApart runs the incident's pattern across two
// instances whose clocks are five minutes apart: neither sees a shared link
// on its own, and one of them freezes the batch from what the ledger tells
// it of the other.
func TestBreakerInstancesApart(t *testing.T) {
	for _, skew := range []time.Duration{5 * time.Minute, -5 * time.Minute} {
		t.Run(fmt.Sprint(skew), func(t *testing.T) {
			a := setup(t, nil, nil)
			ls := a.mintBatch(t, "b-apart", 100)
			b := &fixture{clk: &clock{t: a.clk.now().Add(skew)}, st: a.st}
			p, err := token.NewParser(a.keys, token.WithIssuer("https://members.example.org"), token.WithClock(b.clk.now), token.WithLeeway(5*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if b.v, err = New(p, a.st); err != nil {
				t.Fatal(err)
			}
			for g := 0; g < 5 && !a.frozen(t, "b-apart"); g++ {
				for k, f := range []*fixture{a, b} {
					i := 10*g + 1 + k
					f.v.Consume(ctx, as(i, ls[10*g].URL, fmt.Sprintf("m%d@example.org", i)))
					a.clk.add(2 * time.Second)
					b.clk.add(2 * time.Second)
				}
			}
			if !a.frozen(t, "b-apart") {
				t.Fatal("two instances five minutes apart did not put their mismatches together")
			}
		})
	}
}
