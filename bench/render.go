package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// samples holds every figure of a run: samples[benchmark][unit].
type samples = map[string]map[string][]float64

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// value is the median of a benchmark's samples in unit; "op/s" is read
// from ns/op.
func value(s samples, name, unit string) float64 {
	if unit != "op/s" {
		return median(s[name][unit])
	}
	var per []float64
	for _, ns := range s[name]["ns/op"] {
		if ns > 0 {
			per = append(per, 1e9/ns)
		}
	}
	return median(per)
}

// figures are a row's medians and verdict.
type figures struct {
	ours, floor     float64
	floorName       string
	ratio, verdict  string
	measured, check bool
}

func (r *row) figures(s samples) figures {
	f := figures{ours: value(s, r.ours, r.unit), floorName: r.floor}
	for _, b := range r.best {
		if v := value(s, b, r.unit); v > f.floor {
			f.floor, f.floorName = v, b
		}
	}
	if r.floor != "" {
		f.floor = value(s, r.floor, r.unit)
	}
	f.measured = f.ours > 0 || f.floor > 0
	if f.ours > 0 && f.floor > 0 {
		f.ratio = fmt.Sprintf("%.2fx", f.ours/f.floor)
	}
	switch {
	case r.check == nil:
	case f.ours == 0 || (r.floor != "" || len(r.best) > 0) && f.floor == 0:
		f.verdict, f.check = "not measured", true
	case r.check(f.ours, f.floor):
		f.verdict, f.check = "met", true
	default:
		f.verdict, f.check = "**missed**", true
	}
	return f
}

// reason is what the report says of a missed target.
func (r *row) reason(f figures) string {
	if f.verdict != "**missed**" {
		return ""
	}
	if why, ok := reasons[r.id]; ok {
		return why
	}
	return "not profiled yet"
}

// label names the row, and the peer that was best when it compares with
// the best.
func (r *row) title(f figures) string {
	if len(r.best) == 0 || f.floorName == "" {
		return r.label
	}
	parts := strings.Split(f.floorName, "/") // bench.BenchmarkPeers/<engine>/<peer>/goroutines=<n>
	return fmt.Sprintf("%s (%s)", r.label, parts[max(0, len(parts)-2)])
}

func human(v float64, unit string) string {
	if v == 0 {
		return ""
	}
	switch unit {
	case "ns/op":
		switch {
		case v >= 1e9:
			return fmt.Sprintf("%.2f s", v/1e9)
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.1f µs", v/1e3)
		}
		return fmt.Sprintf("%.0f ns", v)
	case "records/s", "links/s":
		return fmt.Sprintf("%.0fk/s", v/1000)
	case "op/s", "presentations/s":
		return fmt.Sprintf("%.0f/s", v)
	case "s/send":
		return fmt.Sprintf("%.2f s", v)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// render writes the report: the targets, each section, the scaling
// figures and the raw samples. With subset, rows nothing measured are left
// out.
func render(s samples, rs []row, count int, took time.Duration, subset bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# oncelink benchmarks\n\nMade by `go run ./bench -o BENCHMARKS.md` on %s, in %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	fmt.Fprintf(&b, "%s\n", machine())
	fmt.Fprintf(&b, "Each figure is the median of %d runs; every ratio compares two benchmarks of the same run on the same engine, ratio = oncelink / floor. ", count)
	b.WriteString("Latencies (µs, ms, s): lower is better. Throughputs (/s): higher is better.\n")
	b.WriteString("\n## Targets\n\nEvery target, met or missed; a missed target says what its profile showed and why.\n\n")
	b.WriteString("| measure | oncelink | floor or peer | ratio | target | | reason |\n| --- | ---: | ---: | ---: | --- | --- | --- |\n")
	for i := range rs {
		r := &rs[i]
		f := r.figures(s)
		if !f.check || subset && !f.measured {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.title(f), human(f.ours, r.unit), human(f.floor, r.unit), f.ratio, r.target, f.verdict, r.reason(f))
	}
	section := ""
	for i := range rs {
		r := &rs[i]
		f := r.figures(s)
		if subset && !f.measured {
			continue
		}
		if r.section != section {
			section = r.section
			fmt.Fprintf(&b, "\n## %s\n\n", section)
			if intro := intros[section]; intro != "" {
				b.WriteString(intro + "\n\n")
			}
			b.WriteString("| measure | oncelink | floor or peer | ratio | target | |\n| --- | ---: | ---: | ---: | --- | --- |\n")
		}
		if !f.measured {
			f.verdict = "not measured"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.title(f), human(f.ours, r.unit), human(f.floor, r.unit), f.ratio, r.target, f.verdict)
	}
	roundTrips(&b, s)
	if !subset || len(s["store/memstore.BenchmarkBytesPerToken"])+len(s["store/postgresstore.BenchmarkWatermark/tokens=1M"]) > 0 {
		scaling(&b, s)
	}
	rawSamples(&b, s)
	return b.String()
}

// intros explain a section's rows.
var intros = map[string]string{
	secPeers: "oncelink's figure is its whole verification (the verifier's Consume: parse, signature, claims, the typed address " +
		"against the link's binding, the member limit, the atomic consume) on the store; each peer's is its consume pattern, " +
		"read from its source, on the same server and the same table (the store's own migration), with what it does besides " +
		"consuming left out. Ratio: oncelink's verifications a second over the peer's (higher is better). The target compares " +
		"with the best of the products (Kratos, Supabase; Keycloak on Redis), not the floors. See bench/peers_test.go.",
	secMixed: "Presentations a second through the verifier on the real store, 16 goroutines, the circuit breaker off " +
		"(1 wrong address in 5 is the pattern it freezes). Clean: every link presented once, rightly. Mixed: every link " +
		"presented 3 times, 1 presentation in 5 with another address. See bench/mixed_test.go.",
}

func scaling(b *strings.Builder, s samples) {
	b.WriteString("\n## Scaling\n\n| measure | value | target |\n| --- | ---: | --- |\n")
	bpt := median(s["store/memstore.BenchmarkBytesPerToken"]["B/token"])
	verdict := "met"
	if bpt >= 250 || bpt == 0 {
		verdict = "**missed**"
	}
	fmt.Fprintf(b, "| memory store, bytes per outstanding link at 1M links | %.0f B | < 250 B, %s |\n", bpt, verdict)
	for _, sz := range []string{"10k", "1M"} {
		w := s["store/postgresstore.BenchmarkWatermark/tokens="+sz]
		fmt.Fprintf(b, "| postgres, table bytes per link at %s links | %.0f B | |\n", sz, median(w["table-B/token"]))
		fmt.Fprintf(b, "| postgres, index bytes per link at %s links | %.0f B | |\n", sz, median(w["index-B/token"]))
	}
}

// roundTrips lists the round trips to the server each verification or
// peer pattern took, as the benchmarks counted them (statements sent,
// commands and pipelines): the first line of a profile.
func roundTrips(b *strings.Builder, s samples) {
	var names []string
	for name, units := range s {
		if len(units["round-trips/op"]) > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	b.WriteString("\n## Round trips a verification\n\nStatements and commands sent to the server a verification, as the benchmarks count them " +
		"(a pipeline is one; BEGIN and COMMIT are one each).\n\n| benchmark | round trips |\n| --- | ---: |\n")
	for _, name := range names {
		fmt.Fprintf(b, "| %s | %.2f |\n", name, median(s[name]["round-trips/op"]))
	}
}

func rawSamples(b *strings.Builder, s samples) {
	b.WriteString("\n## Raw samples\n\n| benchmark | unit | samples |\n| --- | --- | --- |\n")
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		units := make([]string, 0, len(s[name]))
		for u := range s[name] {
			units = append(units, u)
		}
		slices.Sort(units)
		for _, u := range units {
			if u == "B/op" || u == "allocs/op" {
				continue
			}
			var vs []string
			for _, v := range s[name][u] {
				vs = append(vs, strconv.FormatFloat(v, 'g', 5, 64))
			}
			fmt.Fprintf(b, "| %s | %s | %s |\n", name, u, strings.Join(vs, " "))
		}
	}
}
