package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// directory is a site's members, found by address or number.
var directory = []Addressee{
	{Member: "m-17", Recipient: "ann@example.org", Number: "10442"},
	{Member: "m-2", Recipient: "bo@example.org", Number: "10449"},
}

func lookupIn(dir []Addressee) Lookup {
	return func(_ context.Context, q Query) (Addressee, bool, error) {
		for _, a := range dir {
			if q.Email != "" && q.Email == a.Recipient || q.Number != "" && q.Number == a.Number {
				return a, true, nil
			}
		}
		return Addressee{}, false, nil
	}
}

type sentMail struct {
	to  Addressee
	raw []byte
}

// testMailer renders a plain message and records what it is asked to send.
type testMailer struct {
	mu     sync.Mutex
	sent   []sentMail
	render func(a Addressee, l *token.Link) []byte
}

func (m *testMailer) Render(_ context.Context, a Addressee, l *token.Link) ([]byte, error) {
	if m.render != nil {
		return m.render(a, l), nil
	}
	return []byte("To: " + a.Recipient + "\r\nSubject: Your login link\r\n\r\nLog in: " + l.URL + "\r\n"), nil
}

func (m *testMailer) Send(_ context.Context, a Addressee, raw []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMail{a, raw})
	return nil
}

func (m *testMailer) all() []sentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sentMail(nil), m.sent...)
}

func (m *testMailer) to(addr string) int {
	n := 0
	for _, s := range m.all() {
		if s.to.Recipient == addr {
			n++
		}
	}
	return n
}

// requestConfig is what a test changes in a request flow before it is
// built: NewRequest's arguments, and its options when they are set.
type requestConfig struct {
	Issuer             *token.Issuer
	Store              store.Store
	Purpose, Path      string
	Lookup             Lookup
	Mailer             Mailer
	TTL                time.Duration
	PerAddress         Limit
	PerClient          Limit
	QueueSize, Workers int
	Logger             *slog.Logger
}

func (f *fixture) requestConfig(m Mailer) requestConfig {
	return requestConfig{Issuer: f.iss, Store: f.st, Purpose: token.PurposeLogin, Path: "/login/request",
		Lookup: lookupIn(directory), Mailer: m, Logger: f.logger}
}

func (c requestConfig) build() (*Requests, error) {
	opts := []RequestOption{WithLogger(c.Logger)}
	if c.Purpose != token.PurposeLogin {
		opts = append(opts, WithPurpose(c.Purpose))
	}
	if c.TTL != 0 {
		opts = append(opts, WithTTL(c.TTL))
	}
	if c.PerAddress != (Limit{}) {
		opts = append(opts, WithAddressLimit(c.PerAddress))
	}
	if c.PerClient != (Limit{}) {
		opts = append(opts, WithClientLimit(c.PerClient))
	}
	if c.QueueSize != 0 || c.Workers != 0 {
		opts = append(opts, WithQueue(Queue{Size: c.QueueSize, Workers: c.Workers}))
	}
	return NewRequest(c.Path, c.Issuer, c.Store, c.Lookup, c.Mailer, opts...)
}

func requestFlow(t testing.TB, f *fixture, m Mailer, edit func(*requestConfig)) *Requests {
	t.Helper()
	c := f.requestConfig(m)
	if edit != nil {
		edit(&c)
	}
	rf, err := c.build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rf.Close(context.Background()) })
	return rf
}

// ask posts the request form from a client address.
func ask(h http.Handler, address, ip string, hdr map[string]string) (*http.Response, string) {
	r := httptest.NewRequest("POST", "https://members.example.org/login/request", strings.NewReader(url.Values{"address": {address}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = net.JoinHostPort(ip, "40000")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return serve(h, r)
}

func closeFlow(t *testing.T, rf *Requests) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rf.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

var linkIn = regexp.MustCompile(`https://members\.example\.org/login\?t=[A-Za-z0-9._-]+`)

// TestRequestFlowSendsThroughGuard: a member types an address or number
// and gets a link that logs in; a link that is not theirs never leaves.
func TestRequestFlowSendsThroughGuard(t *testing.T) {
	f := setup(t, nil, nil)
	m := &testMailer{}
	rf := requestFlow(t, f, m, nil)
	resp, page := serve(rf, httptest.NewRequest("GET", "https://members.example.org/login/request", nil))
	if resp.StatusCode != 200 || !strings.Contains(page, `name="address"`) || !strings.Contains(page, `action="/login/request"`) {
		t.Fatalf("the form: %d %s", resp.StatusCode, page)
	}
	for _, typed := range []string{" Ann@Example.org ", "10449"} {
		if resp, page := ask(rf, typed, "192.0.2.1", nil); resp.StatusCode != 200 || !strings.Contains(page, MessageRequested) {
			t.Fatalf("%q: %d %s", typed, resp.StatusCode, page)
		}
	}
	closeFlow(t, rf)
	sent := m.all()
	if len(sent) != 2 {
		t.Fatalf("sent %d messages, want 2", len(sent))
	}
	for _, s := range sent {
		l := linkIn.FindString(string(s.raw))
		vt, err := f.p.Parse(l, token.PurposeLogin)
		if err != nil || vt.Member != s.to.Member || vt.Batch != "" {
			t.Fatalf("the link to %s: %v %+v", s.to.Recipient, err, vt)
		}
		if got := vt.ExpiresAt.Sub(vt.IssuedAt); got != token.DefaultTTL {
			t.Fatalf("a requested link lives %v, want %v", got, token.DefaultTTL)
		}
		if _, err := f.v.Consume(ctx, loginRequest(l, verify.Identity{Email: s.to.Recipient})); err != nil {
			t.Fatalf("the requested link does not log in: %v", err)
		}
	}

	// A mailer that reuses its message, as in the incident: the second
	// member's message carries the first member's link and never leaves.
	var first []byte
	reused := &testMailer{}
	reused.render = func(a Addressee, l *token.Link) []byte {
		if first == nil {
			first = []byte("To: " + a.Recipient + "\r\n\r\n" + l.URL + "\r\n")
		}
		return append([]byte("To: "+a.Recipient+"\r\n"), first[strings.Index(string(first), "\r\n")+2:]...)
	}
	f2 := setup(t, nil, nil)
	rf2 := requestFlow(t, f2, reused, nil)
	ask(rf2, "ann@example.org", "192.0.2.1", nil)
	closeFlow(t, rf2)
	rf3 := requestFlow(t, f2, reused, nil)
	ask(rf3, "bo@example.org", "192.0.2.1", nil)
	closeFlow(t, rf3)
	if reused.to("ann@example.org") != 1 || reused.to("bo@example.org") != 0 {
		t.Fatalf("sent %d to ann, %d to bo, want 1 and 0", reused.to("ann@example.org"), reused.to("bo@example.org"))
	}
	if !strings.Contains(f2.logs.String(), "foreign link") {
		t.Fatalf("the refusal is not logged: %s", f2.logs.String())
	}
	recs, err := f2.st.Records(ctx, store.RecordQuery{Filter: store.Filter{Members: []string{"m-2"}}})
	if err != nil || len(recs) != 1 || recs[0].Status != store.StatusRevoked {
		t.Fatalf("the refused message's link: %v %+v", err, recs)
	}
}

// TestRequestFlowNoOracle: whether or not an address is a member's, the
// person gets the same status, headers and bytes, and the request does
// the same store work before it answers: the lookup, the minting and the
// send happen after the answer, off the request path.
func TestRequestFlowNoOracle(t *testing.T) {
	cs := &countingStore{}
	f := setup(t, nil, nil)
	cs.Store = f.mem
	f = setup(t, nil, cs)
	release := make(chan struct{})
	var looked sync.WaitGroup
	m := &testMailer{}
	rf := requestFlow(t, f, m, func(c *requestConfig) {
		inner := c.Lookup
		c.Lookup = func(ctx context.Context, q Query) (Addressee, bool, error) {
			defer looked.Done()
			<-release
			return inner(ctx, q)
		}
	})
	type answer struct {
		status int
		header http.Header
		body   string
		calls  []string
	}
	askOne := func(typed string) answer {
		looked.Add(1)
		cs.take()
		r := httptest.NewRequest("POST", "https://members.example.org/login/request", strings.NewReader(url.Values{"address": {typed}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		rf.ServeHTTP(w, r) // returns while the lookup is still held
		return answer{w.Code, w.Result().Header, w.Body.String(), cs.take()}
	}
	member, stranger := askOne("ann@example.org"), askOne("zed@example.org")
	byNumber, noNumber := askOne("10442"), askOne("99999")
	close(release)
	looked.Wait()
	closeFlow(t, rf)
	for _, pair := range [][2]answer{{member, stranger}, {byNumber, noNumber}, {member, byNumber}} {
		a, b := pair[0], pair[1]
		if a.status != b.status || a.body != b.body || fmt.Sprint(a.header) != fmt.Sprint(b.header) {
			t.Fatalf("member and stranger told apart:\n%d %v %s\n%d %v %s", a.status, a.header, a.body, b.status, b.header, b.body)
		}
		if fmt.Sprint(a.calls) != fmt.Sprint(b.calls) {
			t.Fatalf("member and stranger cost different store work: %v, %v", a.calls, b.calls)
		}
	}
	if fmt.Sprint(member.calls) != "[Hit Hit]" {
		t.Fatalf("the request path's store work: %v, want two counter hits and nothing else", member.calls)
	}
	if m.to("ann@example.org") != 2 || len(m.all()) != 2 {
		t.Fatalf("sent %d messages", len(m.all()))
	}
}

// TestRequestFlowRefusals: input that is neither an address nor a number
// gets the form again; a cross-site post is refused; a lookup, mailer or
// queue that fails is logged and looks like every other answer.
func TestRequestFlowRefusals(t *testing.T) {
	f := setup(t, nil, nil)
	m := &testMailer{}
	calls := 0
	var mu sync.Mutex
	rf := requestFlow(t, f, m, func(c *requestConfig) {
		inner := c.Lookup
		c.Lookup = func(ctx context.Context, q Query) (Addressee, bool, error) {
			mu.Lock()
			calls++
			mu.Unlock()
			return inner(ctx, q)
		}
	})
	cases := []struct {
		name    string
		address string
		hdr     map[string]string
		want    int
	}{
		{"empty", "", nil, 400},
		{"not an address", "ann(at)example.org", nil, 400},
		{"two ats", "ann@@example.org", nil, 400},
		{"a link pasted", "https://members.example.org/login?t=abc", nil, 400},
		{"huge", strings.Repeat("a", maxFormBody), nil, 400},
		{"cross-site", "ann@example.org", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-origin", "ann@example.org", map[string]string{"Origin": "https://evil.example"}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := ask(rf, tc.address, "192.0.2.7", tc.hdr)
			if resp.StatusCode != tc.want || strings.Contains(page, MessageRequested) {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, page)
			}
		})
	}
	closeFlow(t, rf)
	if calls != 0 || len(m.all()) != 0 {
		t.Fatalf("refused requests reached the lookup %d times, the mailer %d times", calls, len(m.all()))
	}
	if resp, _ := serve(rf, httptest.NewRequest("DELETE", "https://members.example.org/login/request", nil)); resp.StatusCode != 405 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}

	// Failures after the answer: each is logged, none is shown.
	var want string
	for _, tc := range []struct {
		name string
		edit func(*requestConfig)
		log  string
	}{
		{"lookup fails", func(c *requestConfig) {
			c.Lookup = func(context.Context, Query) (Addressee, bool, error) {
				return Addressee{}, false, errors.New("db down")
			}
		}, "db down"},
		{"lookup panics", func(c *requestConfig) {
			c.Lookup = func(context.Context, Query) (Addressee, bool, error) { panic("boom") }
		}, "panicked"},
		{"mailer fails", func(c *requestConfig) { c.Mailer = failingMailer{} }, "smtp down"},
		{"bad address on file", func(c *requestConfig) {
			c.Lookup = func(context.Context, Query) (Addressee, bool, error) {
				return Addressee{Member: "m-17", Recipient: "not an address"}, true, nil
			}
		}, "not minted"},
	} {
		f := setup(t, nil, nil)
		rf := requestFlow(t, f, &testMailer{}, tc.edit)
		resp, page := ask(rf, "ann@example.org", "192.0.2.8", nil)
		closeFlow(t, rf)
		if resp.StatusCode != 200 || want != "" && page != want {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, page)
		}
		want = page
		if !strings.Contains(f.logs.String(), tc.log) {
			t.Fatalf("%s: not logged: %s", tc.name, f.logs.String())
		}
	}
}

type failingMailer struct{}

func (failingMailer) Render(_ context.Context, a Addressee, l *token.Link) ([]byte, error) {
	return []byte("To: " + a.Recipient + "\r\n\r\n" + l.URL + "\r\n"), nil
}
func (failingMailer) Send(context.Context, Addressee, []byte) error { return errors.New("smtp down") }

// TestRequestFlowQueueFull: past the queue's bound, a request is dropped
// and logged, and answered like every other.
func TestRequestFlowQueueFull(t *testing.T) {
	f := setup(t, nil, nil)
	release := make(chan struct{})
	m := &testMailer{}
	rf := requestFlow(t, f, m, func(c *requestConfig) {
		c.Workers, c.QueueSize = 1, 1
		inner := c.Lookup
		c.Lookup = func(ctx context.Context, q Query) (Addressee, bool, error) {
			<-release
			return inner(ctx, q)
		}
	})
	var pages []string
	for i := 0; i < 4; i++ {
		_, page := ask(rf, "ann@example.org", fmt.Sprint("192.0.2.", 20+i), nil)
		pages = append(pages, page)
	}
	close(release)
	closeFlow(t, rf)
	for _, p := range pages[1:] {
		if p != pages[0] {
			t.Fatalf("a dropped request is answered apart: %s", p)
		}
	}
	if n := len(m.all()); n < 1 || n > 2 {
		t.Fatalf("sent %d with one worker and a queue of one", n)
	}
	if !strings.Contains(f.logs.String(), "queue full") {
		t.Fatalf("the drop is not logged: %s", f.logs.String())
	}
	if _, page := ask(rf, "ann@example.org", "192.0.2.30", nil); page != pages[0] {
		t.Fatalf("after Close: %s", page)
	}
}

func TestRequestFlowConfig(t *testing.T) {
	f := setup(t, nil, nil)
	m := &testMailer{}
	ok := f.requestConfig(m)
	for name, edit := range map[string]func(*requestConfig){
		"no store":         func(c *requestConfig) { c.Store = nil },
		"no issuer":        func(c *requestConfig) { c.Issuer = nil },
		"bad purpose":      func(c *requestConfig) { c.Purpose = "Log In" },
		"no lookup":        func(c *requestConfig) { c.Lookup = nil },
		"no mailer":        func(c *requestConfig) { c.Mailer = nil },
		"no path":          func(c *requestConfig) { c.Path = "" },
		"foreign path":     func(c *requestConfig) { c.Path = "//evil.example/x" },
		"address limit":    func(c *requestConfig) { c.PerAddress = Limit{N: -1, Window: time.Hour} },
		"client window":    func(c *requestConfig) { c.PerClient = Limit{N: 5, Window: time.Millisecond} },
		"huge queue":       func(c *requestConfig) { c.QueueSize = 1 << 30 },
		"too many workers": func(c *requestConfig) { c.Workers = 1000 },
		"negative ttl":     func(c *requestConfig) { c.TTL = -time.Minute },
	} {
		c := ok
		edit(&c)
		if rf, err := c.build(); !errors.Is(err, token.ErrConfig) {
			if rf != nil {
				rf.Close(context.Background())
			}
			t.Errorf("%s: %v", name, err)
		}
	}
}
