package store

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"clean text as it is", "Mozilla/5.0 (X11)", 64, "Mozilla/5.0 (X11)"},
		{"an invalid byte", "Mozilla/5.0 \xff", 64, "Mozilla/5.0 \ufffd"},
		{"a truncated character", "\xc3", 64, "\ufffd"},
		{"NUL", "a\x00b", 64, "a\ufffdb"},
		{"cut on a character boundary", "aé", 2, "a"},
		{"a replacement that does not fit", "ab\xff", 4, "ab"},
		{"nothing fits", "é", 1, ""},
		{"negative bound", "abc", -1, ""},
		{"empty", "", 10, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CleanText(tc.in, tc.max)
			if got != tc.want {
				t.Fatalf("CleanText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if !ValidText(got, max(tc.max, 0)) {
				t.Fatalf("CleanText(%q, %d) = %q is not valid text", tc.in, tc.max, got)
			}
		})
	}
}

// FuzzCleanText: whatever comes in, what comes out is valid text within
// the bound, clean text is kept as it is, and cleaning twice changes
// nothing more.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "abc", "\xff\xfe", "a\x00", "é" + strings.Repeat("\xc3", 5), "\U0010FFFF"} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 1 << 12
		got := CleanText(s, n)
		if !ValidText(got, max(n, 0)) {
			t.Fatalf("CleanText(%q, %d) = %q", s, n, got)
		}
		if ValidText(s, n) && got != s {
			t.Fatalf("clean text %q changed to %q", s, got)
		}
		if CleanText(got, n) != got {
			t.Fatalf("cleaning %q twice changed it", s)
		}
		if utf8.ValidString(s) && !strings.Contains(s, "\x00") && !strings.HasPrefix(s, got) {
			t.Fatalf("valid text %q was not cut to a prefix: %q", s, got)
		}
	})
}

func TestHitCount(t *testing.T) {
	w := time.Minute
	base := time.Unix(1_800_000_000, 0).Truncate(w)
	cases := []struct {
		name      string
		cur, prev int64
		at        time.Time
		want      int64
	}{
		{"start of a window: the previous one whole", 1, 4, base, 5},
		{"half way", 2, 4, base.Add(w / 2), 4},
		{"near the end", 3, 4, base.Add(w - time.Microsecond), 3},
		{"no previous window", 7, 0, base.Add(time.Second), 7},
		{"huge counts do not overflow", 1, 1 << 62, base.Add(w / 4), 1 + 3*(1<<62)/4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := HitCount(tc.cur, tc.prev, w, tc.at); got != tc.want {
				t.Fatalf("HitCount = %d, want %d", got, tc.want)
			}
		})
	}
	if HitBucket(w, base)+1 != HitBucket(w, base.Add(w)) || HitBucket(w, base) != HitBucket(w, base.Add(w-time.Microsecond)) {
		t.Fatal("buckets are not the windows")
	}
}
