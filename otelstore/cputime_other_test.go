//go:build !linux

package otelstore_test

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
