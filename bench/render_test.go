package main

import (
	"strings"
	"testing"
	"time"
)

// TestRender checks the report's verdicts on made-up samples: a missed
// target carries its reason, the best peer is the fastest product, op/s
// is read from ns/op, and a subset leaves out what it did not measure.
func TestRender(t *testing.T) {
	peer := func(name, g string) string { return "bench.BenchmarkPeers/postgres/" + name + "/goroutines=" + g }
	s := samples{
		peer("oncelink", "1"):  {"ns/op": {1e6, 1e6, 1e6}}, // 1000/s
		peer("kratos", "1"):    {"ns/op": {2e6, 2e6, 2e6}}, // 500/s
		peer("supabase", "1"):  {"ns/op": {8e5, 8e5, 8e5}}, // 1250/s: the best product
		peer("raw", "1"):       {"ns/op": {1e5}},           // a floor, not a peer
		peer("oncelink", "16"): {"ns/op": {1e5}},
		peer("kratos", "16"):   {"ns/op": {2e5}},
		peer("supabase", "16"): {"ns/op": {4e5}},
		"guard.BenchmarkCheck": {"ns/op": {30000, 31000, 29000}},
	}
	out := render(s, rows(), 3, time.Minute, true)
	targets := out[:strings.Index(out, "\n## Peer table")]
	for _, want := range []string{
		"| postgres, 1 goroutine(s): against the best peer (supabase) | 1000/s | 1250/s | 0.80x | ≥ 2x | **missed** | " + reasons["peers/postgres/1"] + " |",
		"| postgres, 16 goroutine(s): against the best peer (kratos) | 10000/s | 5000/s | 2.00x | ≥ 1x | met |  |",
		"| Guard.Check on a 20 KB HTML message, link twice | 30.0 µs |  |  | < 25 µs | **missed** | not profiled yet |",
	} {
		if !strings.Contains(targets, want) {
			t.Errorf("the targets table lacks\n%s\nin\n%s", want, targets)
		}
	}
	for _, absent := range []string{"mixed", "MintBatch", "redis, 1 goroutine"} {
		if strings.Contains(targets, absent) {
			t.Errorf("a subset's targets table shows %q, which it did not measure:\n%s", absent, targets)
		}
	}
	full := render(s, rows(), 3, time.Minute, false)
	if !strings.Contains(full, "| sqlite: presentations a second, mixed against clean (16 goroutines) |  |  |  | ≥ 0.8x | not measured |") {
		t.Errorf("a full report does not say that the mixed day was not measured:\n%s", full)
	}
}

// TestEveryTargetHasAnID checks that every row with a target can be given
// a reason, and that no reason names a row that does not exist.
func TestEveryTargetHasAnID(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range rows() {
		if r.check != nil && r.id == "" {
			t.Errorf("row %q has a target and no id for its reason", r.label)
		}
		if ids[r.id] && r.id != "" {
			t.Errorf("two rows have the id %q", r.id)
		}
		ids[r.id] = true
	}
	for id := range reasons {
		if !ids[id] {
			t.Errorf("reasons names %q, which no row has", id)
		}
	}
}
