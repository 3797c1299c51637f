package testenv

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records what url asks of its test: a skip or a failure ends the
// goroutine, as on a real test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func run(s *server) (url string, tb *fakeTB) {
	tb = &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		url = s.url(tb)
	}()
	<-done
	return url, tb
}

func TestURL(t *testing.T) {
	var told []string
	notify = func(line string) { told = append(told, line) }
	skipped = func() {}
	t.Cleanup(func() { notify, skipped = tell, uncacheable })
	const env = "ONCELINK_TEST_TESTENV_URL"
	refused := func(context.Context) error { return errors.New("connection refused") }
	answers := func(context.Context) error { return nil }
	tests := []struct {
		name, envValue, require string
		ping                    func(context.Context) error
		wantURL                 string
		wantSkip, wantFatal     bool
	}{
		{name: "variable set", envValue: "x://set", ping: refused, wantURL: "x://set"},
		{name: "default answers", ping: answers, wantURL: "x://default"},
		{name: "nothing answers", ping: refused, wantSkip: true},
		{name: "nothing answers, required", require: "1", ping: refused, wantFatal: true},
		{name: "variable set, required", envValue: "x://set", require: "1", ping: refused, wantURL: "x://set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(env, tc.envValue)
			t.Setenv(RequireEnv, tc.require)
			told = nil
			s := &server{name: "Thing", env: env, fallback: "x://default", addr: "127.0.0.1:1", ping: tc.ping}
			url, tb := run(s)
			if url != tc.wantURL || (tb.skip != "") != tc.wantSkip || (tb.fatal != "") != tc.wantFatal {
				t.Fatalf("url %q, skip %q, fatal %q", url, tb.skip, tb.fatal)
			}
			if tc.wantSkip {
				if len(told) != 1 || !strings.Contains(told[0], "skipping the Thing tests") || !strings.Contains(told[0], "internal/testenv") {
					t.Fatalf("told %q, want one line naming the package and the server", told)
				}
				run(s) // a second test of the package: no second line
				if len(told) != 1 {
					t.Fatalf("told %d lines for one package, want 1", len(told))
				}
			} else if len(told) != 0 {
				t.Fatalf("told %q, want nothing", told)
			}
		})
	}
}
