package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxDuration bounds a duration flag: a hundred years.
const maxDuration = 100 * 365 * 24 * time.Hour

// parseDuration parses a duration as Go does (720h, 90m, 1h30m) and with
// days in front: 30d, 1d12h, 1.5d. A day is 24 hours.
func parseDuration(s string) (time.Duration, error) {
	if len(s) > 64 {
		return 0, fmt.Errorf("too long")
	}
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		days, rest = "", s
	}
	var d time.Duration
	if ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || days == "" || strings.ContainsAny(days, "+-eEInN_xXpP") || n > float64(maxDuration/(24*time.Hour)) {
			return 0, fmt.Errorf("bad number of days")
		}
		d = time.Duration(n * float64(24*time.Hour))
	}
	if rest != "" {
		if strings.ContainsAny(rest, "+-") {
			return 0, fmt.Errorf("a sign inside a duration")
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		d += r
	}
	if !ok && rest == "" {
		return 0, fmt.Errorf("empty")
	}
	if d > maxDuration || d < 0 {
		return 0, fmt.Errorf("out of range")
	}
	return d, nil
}

// durationFlag is a duration flag value that takes days ([parseDuration]).
// A negative value is written with a leading minus and refused by the
// command that reads it, which says why.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	neg := strings.HasPrefix(s, "-")
	d, err := parseDuration(strings.TrimPrefix(s, "-"))
	if err != nil {
		return fmt.Errorf("%q is not a duration: write it as 30d, 12h, 1d12h or 90m", s)
	}
	if neg {
		d = -d
	}
	*f.d = d
	return nil
}
