package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// FuzzHTTP posts arbitrary bodies to the admin API's revoke and freeze
// endpoints. Every answer is 200, 400 or 409 (a wide revocation not
// confirmed, a scope that matches nothing); a 400 or 409 changes nothing;
// nothing panics.
func FuzzHTTP(f *testing.F) {
	for _, s := range []string{
		`{"filter":{"all":true}}`, `{"filter":{"batches":["b"]},"dry_run":true}`, `{"filter":{}}`,
		`{"filter":{"ids":["x"]}}`, `{"filter":{"issued_from":"2026-11-25T00:00:00Z","issued_before":"2026-11-24T00:00:00Z"}}`,
		`{"scope":"batch","key":"b","reason":"x"}`, `{"scope":"global","key":"x"}`, `[]`, `{"filter":null}`, `nul`,
		`{"filter":{"all":true},"confirm":3}`, `{"filter":{"purpose":"login"},"confirm":2}`, `{"filter":{"batches":["x"]},"force":true}`,
		`{"scope":"batch","key":"nope","force":true}`, `{"filter":{"issued_before":"2062-01-01T00:00:00Z"}}`,
	} {
		f.Add("/revoke", s)
		f.Add("/freeze", s)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/revoke" && path != "/freeze" {
			return
		}
		st := memstore.New()
		recs, _ := storetest.Tokens(t, 3, "b")
		if err := st.Insert(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		a, _ := admin.New(st)
		h, _ := admin.NewHandler(a, func(*http.Request) (string, bool) { return "fuzz", true })
		req := httptest.NewRequest("POST", "http://localhost"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 409 {
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code != 200 {
			n, _ := st.Count(context.Background(), store.Filter{All: true})
			holds, _ := st.Holds(context.Background())
			marks, _ := st.Marks(context.Background())
			for _, r := range recs {
				got, _ := st.Get(context.Background(), r.ID)
				if got.Status != store.StatusIssued {
					t.Fatalf("a refused request revoked a link: %q", body)
				}
			}
			if n != 3 || len(holds) != 0 || len(marks) != 0 {
				t.Fatalf("a refused request changed the store: %q", body)
			}
		}
	})
}
