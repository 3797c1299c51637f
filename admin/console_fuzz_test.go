package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// FuzzConsoleForm sends arbitrary queries to the console's confirmation
// page and arbitrary forms to its action. A confirmation changes nothing;
// an action that is refused (any answer but a redirect) changes nothing;
// a freeze or thaw of one batch or member is all a form without the typed
// count can do; nothing panics, and every answer is HTML or a redirect.
func FuzzConsoleForm(f *testing.F) {
	for _, s := range []string{
		"action=freeze&scope=batch&batch=b", "action=freeze&scope=global&batch=b", "action=revoke&scope=global",
		"action=revoke&scope=global&confirm=3", "action=thaw&scope=member&member=m-1", "action=revoke&scope=batch&batch=b&member=x",
		"scope=batch&batch=b", "action=freeze&scope=batch&batch=%00", "action=revoke&scope=batch&batch=b&batch=c",
		"action=freeze&scope=batch&batch=" + strings.Repeat("x", 300), "%zz", "action=revoke&scope=global&confirm=-1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, form string) {
		st := memstore.New()
		recs, _ := storetest.Tokens(t, 3, "b")
		if err := st.Insert(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		a, _ := admin.New(st)
		h, _ := admin.NewConsole(a, func(*http.Request) (string, bool) { return "fuzz", true })

		req := httptest.NewRequest("GET", "http://localhost/confirm", nil)
		req.URL.RawQuery = form
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 409 {
			t.Fatalf("confirm %q: status %d", form, rec.Code)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("confirm %q: %s", form, rec.Header().Get("Content-Type"))
		}
		if holds, _ := st.Holds(context.Background()); len(holds) != 0 {
			t.Fatalf("a confirmation page froze: %q", form)
		}

		req = httptest.NewRequest("POST", "http://localhost/act", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		holds, _ := st.Holds(context.Background())
		marks, _ := st.Marks(context.Background())
		n := 0
		for _, r := range recs {
			if got, _ := st.Get(context.Background(), r.ID); got.Status == store.StatusRevoked {
				n++
			}
		}
		if rec.Code != http.StatusSeeOther && (len(holds) != 0 || len(marks) != 0 || n != 0) {
			t.Fatalf("act %q refused with %d but changed the store", form, rec.Code)
		}
		v, _ := url.ParseQuery(form)
		confirmed := v.Get("confirm") == "3" || v.Get("confirm") == "0"
		if (len(marks) != 0 || n == 3) && !confirmed {
			t.Fatalf("act %q revoked every link without its count", form)
		}
		for _, h := range holds {
			if h.Scope == store.ScopeGlobal && !confirmed {
				t.Fatalf("act %q froze every link without its count", form)
			}
		}
	})
}

// FuzzHost sends arbitrary Host headers to the admin API: only the
// loopback names, on any port, are answered.
func FuzzHost(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1:80", "[::1]:8080", "evil.example", "localhost.evil", "[::1]x", "::1", "LOCALHOST.", "127.0.0.1:99999", "127.0.0.1:", ""} {
		f.Add(s)
	}
	a, _ := admin.New(memstore.New())
	h, _ := admin.NewHandler(a, func(*http.Request) (string, bool) { return "fuzz", true })
	f.Fuzz(func(t *testing.T, host string) {
		req := httptest.NewRequest("GET", "http://localhost/state", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		name := strings.ToLower(host)
		if i := strings.LastIndex(name, ":"); i >= 0 && !strings.HasSuffix(name, "]") {
			name = name[:i]
		}
		name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
		loopback := name == "localhost" || name == "127.0.0.1" || name == "::1"
		if rec.Code != http.StatusMisdirectedRequest && !loopback {
			t.Fatalf("Host %q answered with %d", host, rec.Code)
		}
	})
}
