package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrisis runs the replay at full size on the SQLite default and checks
// its report: nothing leaves with the buggy mailer, 18,000 distinct correct
// links with the correct one.
func TestCrisis(t *testing.T) {
	var out bytes.Buffer
	sum, err := run(context.Background(), &out, "sqlite:"+filepath.Join(t.TempDir(), "crisis.db"), 18000, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if sum.Unguarded.Sent != 18000 || sum.Unguarded.Foreign != 16200 {
		t.Fatalf("the incident: sent %d, foreign %d; want 18000 and 16200", sum.Unguarded.Sent, sum.Unguarded.Foreign)
	}
	if sum.Guarded.Sent != 0 || sum.Guarded.Blocked == nil || sum.Guarded.Blocked.Reason != "foreign link" {
		t.Fatalf("the guarded buggy mailer: sent %d, blocked %v", sum.Guarded.Sent, sum.Guarded.Blocked)
	}
	if sum.Correct.Sent != 18000 || sum.Correct.Distinct != 18000 || sum.Correct.Foreign != 0 || sum.Correct.Blocked != nil {
		t.Fatalf("the correct mailer: %+v", sum.Correct)
	}
	for _, want := range []string{
		"sent 18000 messages; 16200 carried another member's link",
		"batch 1 refused: foreign link",
		"sent 0 messages",
		"sent 18000 messages; 18000 distinct links; 0 carried another member's link",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
