package admin_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store/memstore"
)

// loopback trusts whoever connects from this machine, as a site that
// binds its admin port to 127.0.0.1 might.
func loopback(r *http.Request) (string, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "", false
	}
	ip := net.ParseIP(host)
	return "local operator", ip != nil && ip.IsLoopback()
}

// TestHostDNSRebinding: a page on evil.example whose name an attacker
// re-points at 127.0.0.1 makes the operator's browser send same-origin
// requests to the admin API: Host and Origin both say evil.example, so the
// origin check passes, and a loopback-trusting authorizer says yes. The
// API must answer only the names it serves.
func TestHostDNSRebinding(t *testing.T) {
	a, err := admin.New(memstore.New())
	if err != nil {
		t.Fatal(err)
	}
	h, err := admin.NewHandler(a, loopback)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	get := func(host, origin string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/freeze", strings.NewReader(`{"scope":"global","force":true}`))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1.evil.example:" + port, "localhost.:" + port + "x", "[::1]evil"} {
		if code := get(host, "http://"+host); code < 400 {
			t.Errorf("Host %q: status %d, want a refusal", host, code)
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LocalHost", "[::1]:" + port} {
		if code := get(host, ""); code != http.StatusOK {
			t.Errorf("Host %q: status %d, want 200", host, code)
		}
	}
}

// TestAllowHosts: configured names are answered, on any port or on the
// one given; the loopback names are then no longer answered; a bad name is
// refused when the handler is built. The console keeps the same list.
func TestAllowHosts(t *testing.T) {
	a, _ := admin.New(memstore.New())
	allow := func(*http.Request) (string, bool) { return "staff", true }
	for _, bad := range []string{"", "*.example.org", "a b", "host:port", "[::1", "::1", "x/y"} {
		if _, err := admin.NewHandler(a, allow, admin.AllowHosts(bad)); err == nil {
			t.Errorf("AllowHosts(%q) accepted", bad)
		}
		if _, err := admin.NewConsole(a, allow, admin.AllowHosts(bad)); err == nil {
			t.Errorf("console AllowHosts(%q) accepted", bad)
		}
	}
	api, err := admin.NewHandler(a, allow, admin.AllowHosts("Ops.Example.org.", "admin.example.org:8443", "[2001:db8::1]"))
	if err != nil {
		t.Fatal(err)
	}
	con, err := admin.NewConsole(a, allow, admin.AllowHosts("Ops.Example.org.", "admin.example.org:8443", "[2001:db8::1]"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"ops.example.org", true}, {"OPS.example.org:9000", true}, {"ops.example.org.", true},
		{"admin.example.org:8443", true}, {"admin.example.org", false}, {"admin.example.org:443", false},
		{"[2001:db8::1]:8080", true}, {"[2001:db8::2]", false},
		{"localhost", false}, {"127.0.0.1:8080", false}, {"evil.example", false}, {"ops.example.org.evil.example", false},
	} {
		for name, h := range map[string]http.Handler{"api": api, "console": con} {
			req := httptest.NewRequest("GET", "/state", nil)
			if name == "console" {
				req = httptest.NewRequest("GET", "/", nil)
			}
			req.Host = tc.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := rec.Code != http.StatusMisdirectedRequest; got != tc.ok {
				t.Errorf("%s, Host %q: status %d, want answered %v", name, tc.host, rec.Code, tc.ok)
			}
		}
	}
}
