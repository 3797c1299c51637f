package flow

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/token"
)

// FuzzRequestInput types anything into the request page's field: input
// that is an address or a number in canonical form stays what it is, and
// every well-formed request gets the one answer.
func FuzzRequestInput(f *testing.F) {
	for _, s := range []string{"ann@example.org", " Ann@Example.org ", "10442", "ab-12 34", "", "@", "a@b@c",
		"https://members.example.org/login?t=abc", strings.Repeat("9", 400), "\xff@example.org", "K\u212aim@example.org"} {
		f.Add(s)
	}
	fx := setup(f, nil, nil)
	rf := requestFlow(f, fx, &testMailer{}, func(c *requestConfig) {
		c.PerAddress, c.PerClient = Limit{N: 100000, Window: time.Minute}, Limit{N: 100000, Window: time.Minute}
		c.Lookup = func(context.Context, Query) (Addressee, bool, error) { return Addressee{}, false, nil }
	})
	f.Fuzz(func(t *testing.T, typed string) {
		q, ok := parseQuery(typed)
		if ok {
			if (q.Email == "") == (q.Number == "") {
				t.Fatalf("%q: %+v, want exactly one of address and number", typed, q)
			}
			again, ok2 := parseQuery(q.Email + q.Number)
			if !ok2 || again != q {
				t.Fatalf("%q: the canonical form %+v does not read back as itself: %+v", typed, q, again)
			}
			if q.Email != "" {
				if c, err := token.CanonicalEmail(q.Email); err != nil || c != q.Email {
					t.Fatalf("%q: not a canonical address: %q", typed, q.Email)
				}
			}
		}
		r := httptest.NewRequest("POST", "https://members.example.org/login/request", strings.NewReader(url.Values{"address": {typed}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		rf.ServeHTTP(w, r)
		switch {
		case ok && (w.Code != 200 || !strings.Contains(w.Body.String(), "we are sending a login link")):
			t.Fatalf("%q: %d, want the one answer", typed, w.Code)
		case !ok && w.Code != 400:
			t.Fatalf("%q: %d, want the form again", typed, w.Code)
		}
	})
}

// BenchmarkRequest measures the request path for a member and for a
// stranger: the two should cost the same, since the lookup and the send
// happen after the answer. The worker is held, so that only the request
// path is measured (the sends' own work, on another goroutine, is the
// mint, the render and the guard).
func BenchmarkRequest(b *testing.B) {
	for _, who := range []string{"member", "stranger"} {
		b.Run(who, func(b *testing.B) {
			fx := setup(b, nil, nil)
			typed := map[string]string{"member": "ann@example.org", "stranger": "zed@example.org"}[who]
			held := make(chan struct{})
			lookup := func(ctx context.Context, q Query) (Addressee, bool, error) {
				<-held
				return lookupIn(directory)(ctx, q)
			}
			c := fx.requestConfig(&testMailer{})
			c.Lookup, c.QueueSize, c.Workers = lookup, 1, 1
			c.PerAddress, c.PerClient = Limit{N: 100000, Window: time.Minute}, Limit{N: 100000, Window: time.Minute}
			rf, err := c.build()
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				close(held)
				rf.Close(context.Background())
			}()
			body := url.Values{"address": {typed}}.Encode()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest("POST", "https://members.example.org/login/request", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rf.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
