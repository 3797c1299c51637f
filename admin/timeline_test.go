package admin_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/verify"
)

// TestTimeline runs a send on every store: links minted and clicked
// through the verifier (logins, mismatches, replays), and operators'
// actions recorded at known minutes before it. The timeline of the batch
// counts each in its minute, shows a global freeze but not another batch's
// entries nor a member's hold, and Clicks = Logins + Mismatches + Refusals.
func TestTimeline(t *testing.T) {
	for _, b := range teststores.All() {
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 20, 10, "tl")
			now := time.Now()
			for i := 0; i < 3; i++ {
				if err := s.consume(links[i], email(i), fmt.Sprint("s", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.consume(links[0], email(0), "again"); !errors.Is(err, verify.ErrUsed) {
				t.Fatalf("a replay: %v", err)
			}
			if err := s.consume(links[5], email(6), "wrong"); !errors.Is(err, verify.ErrMismatch) {
				t.Fatalf("a mismatch: %v", err)
			}
			if err := s.consume(links[15], email(15), "other batch"); err != nil {
				t.Fatal(err)
			}
			base := now.Truncate(time.Minute).Add(-10 * time.Minute)
			at := func(m int) time.Time { return base.Add(time.Duration(m)*time.Minute + 7*time.Second) }
			evs := []store.Event{
				{At: at(1), Kind: store.EventFrozen, Batch: "tl-000", Detail: "batch tl-000"},
				{At: at(1), Kind: store.EventBreaker, Batch: "tl-000", Detail: "tripped"},
				{At: at(2), Kind: store.EventThawed, Batch: "tl-000"},
				{At: at(3), Kind: store.EventFrozen, Detail: "global"},
				{At: at(3), Kind: store.EventFrozen, Member: member(3), Detail: "a member"},
				{At: at(4), Kind: store.EventRevoked, Batch: "tl-000", Count: 10},
				{At: at(4), Kind: store.EventWatermark, Detail: "everything"},
				{At: at(5), Kind: store.EventBlocked, Batch: "tl-000", Reason: "foreign-link"},
				{At: at(5), Kind: store.EventFrozen, Batch: "tl-001"},
				{At: at(6), Kind: store.EventSessions, Batch: "tl-000", Count: 3},
			}
			if err := st.Append(ctx, evs...); err != nil {
				t.Fatal(err)
			}
			tl, err := s.a.Timeline(ctx, admin.TimelineQuery{Batch: "tl-000", Since: base, Until: base.Add(15 * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if len(tl.Buckets) != 15 || tl.Step != time.Minute || !tl.Start.Equal(base) {
				t.Fatalf("timeline: %d buckets of %s from %s, want 15 of 1m from %s", len(tl.Buckets), tl.Step, tl.Start, base)
			}
			want := map[int]admin.TimelineBucket{
				1: {Freezes: 2}, 2: {Thaws: 1}, 3: {Freezes: 1}, 4: {Revocations: 2}, 5: {Blocked: 1},
			}
			for i, b := range tl.Buckets {
				if !b.At.Equal(base.Add(time.Duration(i) * time.Minute)) {
					t.Fatalf("bucket %d at %s", i, b.At)
				}
				if i < 10 {
					w := want[i]
					w.At = b.At
					if b != w {
						t.Errorf("bucket %d = %+v, want %+v", i, b, w)
					}
				}
			}
			sum := tl.Total()
			if sum.Issued != 10 || sum.Logins != 3 || sum.Mismatches != 1 || sum.Refusals != 1 || sum.Clicks != 5 {
				t.Errorf("totals of the send = %+v, want 10 issued, 5 clicks: 3 logins, 1 mismatch, 1 replay", sum)
			}
		})
	}
}

// TestTimelineSpan: without a window, the timeline spans the entries in
// scope on whole steps; without a step, a window too wide for one-minute
// buckets gets a coarser round step, and an explicit step that would need
// too many buckets is refused.
func TestTimelineSpan(t *testing.T) {
	st := memstore.New()
	a, err := admin.New(st)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := a.Timeline(ctx, admin.TimelineQuery{})
	if err != nil || len(empty.Buckets) != 0 {
		t.Fatalf("timeline of an empty ledger: %+v, %v", empty, err)
	}
	var buf bytes.Buffer
	if err := empty.WriteSVG(&buf); err != nil || !strings.Contains(buf.String(), "No ledger entries") {
		t.Fatalf("empty SVG: %v\n%s", err, buf.String())
	}
	t0 := time.Date(2026, 10, 3, 9, 30, 42, 0, time.UTC)
	refusal := func(at time.Time, reason string) store.Event {
		return store.Event{At: at, Kind: store.EventRefused, Reason: reason, Batch: "b"}
	}
	if err := st.Append(ctx, refusal(t0, "mismatch"), refusal(t0.Add(47*time.Minute), "used")); err != nil {
		t.Fatal(err)
	}
	tl, err := a.Timeline(ctx, admin.TimelineQuery{Batch: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !tl.Start.Equal(t0.Truncate(time.Minute)) || len(tl.Buckets) != 48 || tl.Buckets[0].Mismatches != 1 || tl.Buckets[47].Refusals != 1 {
		t.Fatalf("span of the entries: start %s, %d buckets, first %+v, last %+v", tl.Start, len(tl.Buckets), tl.Buckets[0], tl.Buckets[len(tl.Buckets)-1])
	}

	if err := st.Append(ctx, refusal(t0.Add(72*time.Hour), "mismatch")); err != nil {
		t.Fatal(err)
	}
	tl, err = a.Timeline(ctx, admin.TimelineQuery{Batch: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if tl.Step != 5*time.Minute || len(tl.Buckets) > admin.MaxTimelineBuckets || tl.Total().Clicks != 3 {
		t.Fatalf("three days without a step: %d buckets of %s, %d clicks", len(tl.Buckets), tl.Step, tl.Total().Clicks)
	}
	if tl.Buckets[0].Mismatches != 1 || tl.Buckets[len(tl.Buckets)-1].Mismatches != 1 || !tl.Start.Equal(t0.Truncate(5*time.Minute)) {
		t.Fatalf("three days in 5 minute steps: start %s, first %+v, last %+v", tl.Start, tl.Buckets[0], tl.Buckets[len(tl.Buckets)-1])
	}
	year, err := a.Timeline(ctx, admin.TimelineQuery{Since: t0.Add(-300 * 24 * time.Hour), Until: t0.Add(65 * 24 * time.Hour)})
	if err != nil || len(year.Buckets) > admin.MaxTimelineBuckets || year.Total().Clicks != 3 {
		t.Fatalf("a year without a step: %v, %d buckets of %s", err, len(year.Buckets), year.Step)
	}

	for _, tc := range []struct {
		name string
		q    admin.TimelineQuery
	}{
		{"negative step", admin.TimelineQuery{Step: -time.Minute}},
		{"step under a second", admin.TimelineQuery{Step: time.Millisecond}},
		{"window ends before it starts", admin.TimelineQuery{Since: t0, Until: t0.Add(-time.Minute)}},
		{"too many steps in the window", admin.TimelineQuery{Since: t0, Until: t0.Add(48 * time.Hour), Step: time.Minute}},
		{"too many steps in the span", admin.TimelineQuery{Batch: "b", Step: time.Minute}},
		{"batch not text", admin.TimelineQuery{Batch: "a\x00b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.Timeline(ctx, tc.q); !errors.Is(err, admin.ErrRequest) {
				t.Fatalf("Timeline(%+v) = %v, want ErrRequest", tc.q, err)
			}
		})
	}
}

// TestTimelineSVG: the SVG is well-formed XML, names itself and its
// totals for a screen reader, labels both axes, has a legend, carries no
// script or event handler, and escapes a hostile batch name.
func TestTimelineSVG(t *testing.T) {
	st := memstore.New()
	a, _ := admin.New(st)
	t0 := time.Date(2026, 10, 3, 9, 30, 0, 0, time.UTC)
	batch := `<script>alert(1)</script>" onload="x`
	evs := []store.Event{
		{At: t0, Kind: store.EventRefused, Reason: "mismatch", Batch: batch},
		{At: t0.Add(time.Minute), Kind: store.EventRefused, Reason: "mismatch", Batch: batch},
		{At: t0.Add(time.Minute), Kind: store.EventRefused, Reason: "used", Batch: batch},
		{At: t0.Add(2 * time.Minute), Kind: store.EventBreaker, Batch: batch},
	}
	if err := st.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	tl, err := a.Timeline(ctx, admin.TimelineQuery{Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tl.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "script" || tok.Name.Local == "foreignObject" {
				t.Fatalf("SVG holds a <%s>", tok.Name.Local)
			}
			for _, at := range tok.Attr {
				if strings.HasPrefix(strings.ToLower(at.Name.Local), "on") || strings.Contains(at.Value, "javascript:") {
					t.Fatalf("SVG holds an attribute %s=%q", at.Name.Local, at.Value)
				}
			}
		case xml.CharData:
			texts = append(texts, string(tok))
		}
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{
		"Timeline of batch " + batch, "3 clicks: 0 logins, 2 mismatches, 1 other refusals", "1 freezes",
		"Time (UTC)", "Per step", "Clicks", "Mismatches", "Freezes", "Revocations",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG text lacks %q:\n%s", want, all)
		}
	}
	if !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, `aria-labelledby="tl-title tl-desc"`) {
		t.Errorf("SVG is not labelled as an image:\n%s", svg)
	}
}

// TestTimelineBounded: a timeline reads at most its cap of ledger entries
// and refuses past it, rather than plotting part of the scope.
func TestTimelineBounded(t *testing.T) {
	st := memstore.New()
	a, _ := admin.New(st)
	t0 := time.Date(2026, 10, 3, 9, 30, 0, 0, time.UTC)
	var evs []store.Event
	for i := range 50 {
		evs = append(evs, store.Event{At: t0.Add(time.Duration(i) * time.Second), Kind: store.EventRefused, Reason: "mismatch", Batch: "b"})
	}
	if err := st.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	defer admin.SetTimelineEventCap(49)()
	if _, err := a.Timeline(ctx, admin.TimelineQuery{Batch: "b"}); !errors.Is(err, admin.ErrRequest) {
		t.Fatalf("50 entries past a cap of 49: %v, want ErrRequest", err)
	}
	tl, err := a.Timeline(ctx, admin.TimelineQuery{Batch: "b", Until: t0.Add(49 * time.Second)})
	if err != nil || tl.Total().Mismatches != 49 {
		t.Fatalf("49 entries within the cap: %v", err)
	}
}
