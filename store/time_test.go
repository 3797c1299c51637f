package store_test

import (
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
)

func TestUnixMicro(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC) // on a microsecond
	us := at.UnixMicro()
	tests := []struct {
		name       string
		t          time.Time
		want, ceil int64
	}{
		{"zero", time.Time{}, 0, 0},
		{"on a microsecond", at, us, us},
		{"a nanosecond after", at.Add(time.Nanosecond), us, us + 1},
		{"half a microsecond after", at.Add(500 * time.Nanosecond), us, us + 1},
		{"a nanosecond before", at.Add(-time.Nanosecond), us - 1, us},
		{"in another zone", at.Add(500 * time.Nanosecond).In(time.FixedZone("x", 3600)), us, us + 1},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999999500, time.UTC), -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := store.UnixMicro(tc.t); got != tc.want {
				t.Errorf("UnixMicro = %d, want %d", got, tc.want)
			}
			if got := store.UnixMicroCeil(tc.t); got != tc.ceil {
				t.Errorf("UnixMicroCeil = %d, want %d", got, tc.ceil)
			}
			if !tc.t.IsZero() {
				if got := store.Micro(tc.t).UnixMicro(); got != tc.want {
					t.Errorf("Micro = %d µs, want %d", got, tc.want)
				}
				if got := store.MicroCeil(tc.t).UnixMicro(); got != tc.ceil {
					t.Errorf("MicroCeil = %d µs, want %d", got, tc.ceil)
				}
			}
		})
	}
}

func TestFromUnixMicro(t *testing.T) {
	if got := store.FromUnixMicro(0); !got.IsZero() {
		t.Fatalf("FromUnixMicro(0) = %v, want the zero time", got)
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
	got := store.FromUnixMicro(at.UnixMicro())
	if !got.Equal(at) || got.Location() != time.UTC {
		t.Fatalf("FromUnixMicro = %v, want %v in UTC", got, at)
	}
	// A time a store gives back is the time it kept, whatever the zone it
	// was given in.
	for _, in := range []time.Time{at.Add(999 * time.Nanosecond), at.In(time.FixedZone("x", -7200))} {
		if back := store.FromUnixMicro(store.UnixMicro(in)); !back.Equal(store.Micro(in)) {
			t.Fatalf("FromUnixMicro(UnixMicro(%v)) = %v, want %v", in, back, store.Micro(in))
		}
	}
}
