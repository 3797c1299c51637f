package admin

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// The plot's frame, in the SVG's user units; the SVG scales to the width
// of its container.
const (
	svgWidth   = 800
	svgHeight  = 320
	plotLeft   = 64
	plotRight  = 16
	plotTop    = 40
	plotBottom = 56
)

// series is one line of the plot: a count per bucket, drawn in a colour
// and a dash pattern of its own so that it is told apart without colour.
type series struct {
	name  string
	color string
	dash  string
	width float64
	value func(*TimelineBucket) int
}

var lineSeries = []series{
	{"Clicks", "#444444", "", 2, func(b *TimelineBucket) int { return b.Clicks }},
	{"Logins", "#1b7837", "8 4", 2, func(b *TimelineBucket) int { return b.Logins }},
	{"Mismatches", "#c51b7d", "", 3.5, func(b *TimelineBucket) int { return b.Mismatches }},
	{"Other refusals", "#b35806", "2 3", 2, func(b *TimelineBucket) int { return b.Refusals }},
	{"Blocked messages", "#5e3c99", "10 3 2 3", 2, func(b *TimelineBucket) int { return b.Blocked }},
}

// markSeries are operators' and the breaker's actions: a vertical line at
// each bucket that holds one.
var markSeries = []series{
	{"Freezes", "#2166ac", "6 3", 2, func(b *TimelineBucket) int { return b.Freezes }},
	{"Thaws", "#35978f", "1 3", 2, func(b *TimelineBucket) int { return b.Thaws }},
	{"Revocations", "#b2182b", "", 2, func(b *TimelineBucket) int { return b.Revocations }},
}

// WriteSVG writes the timeline as a standalone SVG image: a line per kind
// of presentation (clicks, logins, mismatches, other refusals) and blocked
// messages, a vertical mark per step holding a freeze, a thaw or a
// revocation, axes with their labels, and a legend. Its title and
// description say in words what it shows (the totals and the busiest
// step), for a screen reader. It holds no script and no external
// reference; every text is escaped.
func (t *Timeline) WriteSVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := &svgPlot{t: t, w: bw}
	p.write()
	return bw.Flush()
}

type svgPlot struct {
	t    *Timeline
	w    *bufio.Writer
	ymax int
}

func (p *svgPlot) printf(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (p *svgPlot) write() {
	p.printf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="tl-title tl-desc" font-family="sans-serif" font-size="12">`+"\n", svgWidth, svgHeight)
	p.printf("<title id=\"tl-title\">%s</title>\n<desc id=\"tl-desc\">%s</desc>\n", esc(p.t.title()), esc(p.t.Describe()))
	p.printf(`<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, svgHeight)
	if len(p.t.Buckets) == 0 {
		p.printf(`<text x="%d" y="%d" text-anchor="middle">No ledger entries in scope.</text>`+"\n</svg>\n", svgWidth/2, svgHeight/2)
		return
	}
	p.ymax = p.maxValue()
	p.axes()
	for _, s := range markSeries {
		p.marks(s)
	}
	for _, s := range lineSeries {
		p.line(s)
	}
	p.legend()
	p.printf("</svg>\n")
}

func (p *svgPlot) maxValue() int {
	m := 0
	for i := range p.t.Buckets {
		for _, s := range lineSeries {
			m = max(m, s.value(&p.t.Buckets[i]))
		}
	}
	return niceCeil(m)
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 4, so
// that the axis has whole ticks).
func niceCeil(n int) int {
	if n <= 4 {
		return 4
	}
	for pow := 1; ; pow *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*pow >= n {
				return m * pow
			}
		}
	}
}

func (p *svgPlot) x(i float64) float64 {
	n := float64(len(p.t.Buckets))
	return plotLeft + (svgWidth-plotLeft-plotRight)*i/n
}

func (p *svgPlot) y(v int) float64 {
	h := float64(svgHeight - plotTop - plotBottom)
	return float64(plotTop) + h - h*float64(v)/float64(p.ymax)
}

// axes draws the frame, the ticks of both axes and their labels.
func (p *svgPlot) axes() {
	bottom, right := svgHeight-plotBottom, svgWidth-plotRight
	p.printf(`<g stroke="#000000" stroke-width="1"><line x1="%d" y1="%d" x2="%d" y2="%d"/><line x1="%d" y1="%d" x2="%d" y2="%d"/></g>`+"\n",
		plotLeft, plotTop, plotLeft, bottom, plotLeft, bottom, right, bottom)
	for i := 0; i <= 4; i++ {
		v := p.ymax * i / 4
		y := p.y(v)
		p.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/><text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%d</text>`+"\n",
			plotLeft, y, right, y, plotLeft-6, y, v)
	}
	n := len(p.t.Buckets)
	ticks := min(6, n)
	layout := "15:04"
	if p.t.End().Sub(p.t.Start) > 24*time.Hour {
		layout = "Jan 2 15:04"
	}
	for k := 0; k <= ticks; k++ {
		i := n * k / max(ticks, 1)
		x := p.x(float64(i))
		at := p.t.Start.Add(time.Duration(i) * p.t.Step)
		p.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000000"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			x, bottom, x, bottom+5, x, bottom+18, esc(at.UTC().Format(layout)))
	}
	p.printf(`<text x="%d" y="%d" text-anchor="middle">Time (UTC), %s from %s</text>`+"\n",
		(plotLeft+right)/2, svgHeight-12, esc(stepWords(p.t.Step)), esc(p.t.Start.UTC().Format("2006-01-02 15:04")))
	p.printf(`<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">Per step</text>`+"\n", (plotTop+bottom)/2)
}

// line draws one series as a polyline through the middle of each bucket.
func (p *svgPlot) line(s series) {
	var pts strings.Builder
	total := 0
	for i := range p.t.Buckets {
		v := s.value(&p.t.Buckets[i])
		total += v
		fmt.Fprintf(&pts, "%.1f,%.1f ", p.x(float64(i)+0.5), p.y(v))
	}
	if total == 0 {
		return
	}
	p.printf(`<polyline fill="none" stroke="%s" stroke-width="%.1f" stroke-dasharray="%s" points="%s"><title>%s: %d</title></polyline>`+"\n",
		s.color, s.width, s.dash, strings.TrimSpace(pts.String()), esc(s.name), total)
}

// marks draws a vertical line at every bucket that holds an action.
func (p *svgPlot) marks(s series) {
	for i := range p.t.Buckets {
		b := &p.t.Buckets[i]
		if v := s.value(b); v > 0 {
			x := p.x(float64(i) + 0.5)
			p.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="%.1f" stroke-dasharray="%s"><title>%s: %d at %s</title></line>`+"\n",
				x, plotTop, x, svgHeight-plotBottom, s.color, s.width, s.dash, esc(s.name), v, esc(b.At.UTC().Format("15:04:05")))
		}
	}
}

// legend names every series, in two rows above the plot.
func (p *svgPlot) legend() {
	all := append(append([]series{}, lineSeries...), markSeries...)
	per := (len(all) + 1) / 2
	for i, s := range all {
		x := plotLeft + (i%per)*(svgWidth-plotLeft)/per
		y := 12 + (i/per)*16
		p.printf(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="%.1f" stroke-dasharray="%s"/><text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n",
			x, y, x+24, y, s.color, s.width, s.dash, x+30, y, esc(s.name))
	}
}

func (t *Timeline) title() string {
	if t.Batch != "" {
		return "Timeline of batch " + t.Batch
	}
	return "Timeline of every link"
}

// Describe says in words what the timeline shows: its window, its totals
// and its busiest step. It is the SVG's description.
func (t *Timeline) Describe() string {
	if len(t.Buckets) == 0 {
		return "No ledger entries in scope."
	}
	s := t.Total()
	var busiest TimelineBucket
	for _, b := range t.Buckets {
		if b.Clicks > busiest.Clicks {
			busiest = b
		}
	}
	d := fmt.Sprintf("From %s to %s UTC, %s: %d links issued; %d clicks: %d logins, %d mismatches, %d other refusals; %d messages blocked; %d freezes, %d thaws, %d revocations.",
		t.Start.UTC().Format("2006-01-02 15:04:05"), t.End().UTC().Format("2006-01-02 15:04:05"), stepWords(t.Step),
		s.Issued, s.Clicks, s.Logins, s.Mismatches, s.Refusals, s.Blocked, s.Freezes, s.Thaws, s.Revocations)
	if busiest.Clicks > 0 {
		d += fmt.Sprintf(" Most clicks in one step: %d at %s (%d mismatches).", busiest.Clicks, busiest.At.UTC().Format("15:04:05"), busiest.Mismatches)
	}
	return d
}

func stepWords(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return "per " + d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "per " + unit
	}
	return fmt.Sprintf("per %d %ss", n, unit)
}
