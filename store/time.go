package store

import "time"

// Stores keep times to the microsecond, in UTC, and compare a bound given
// to them (a filter's issue window, a time watermark, an event query's
// Since and Until, the cut-off of Purge) exactly: a time kept to the
// microsecond is before a bound t exactly when it is before t rounded up
// to the microsecond. The functions below are those conversions, for every
// store to use alike.

// Micro truncates t to the microsecond in UTC, the precision every store
// keeps. The zero time stays zero.
func Micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// MicroCeil rounds t up to the microsecond, in UTC: the bound a store
// compares records with, since records are kept to the microsecond. A record
// issued at r is before t exactly when r < MicroCeil(t), and at or after t
// exactly when r >= MicroCeil(t). The zero time stays zero.
func MicroCeil(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	m := t.UTC().Truncate(time.Microsecond)
	if m.Before(t) {
		m = m.Add(time.Microsecond)
	}
	return m
}

// UnixMicro returns t in unix microseconds, truncated as [Micro] does: the
// form of a time a store keeps as a number. The zero time is 0.
func UnixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// UnixMicroCeil returns a bound t in unix microseconds, rounded up as
// [MicroCeil] does: a time kept as u is before t exactly when
// u < UnixMicroCeil(t), and at or after t exactly when u >= UnixMicroCeil(t).
// The zero time is 0.
func UnixMicroCeil(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return MicroCeil(t).UnixMicro()
}

// FromUnixMicro returns the time of us unix microseconds, in UTC, as a
// store gives a time back. 0 is the zero time.
func FromUnixMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
