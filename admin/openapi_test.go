package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
)

// The OpenAPI document is checked with pb33f/libopenapi-validator: it
// validates against OpenAPI 3.1 (JSON Schema 2020-12: const, type arrays,
// $ref beside description), and checks a response's status, content type,
// required headers and body. kin-openapi reads 3.1 only in part.

// newValidator returns a validator of the embedded document, which must
// itself be a valid OpenAPI 3.1 document.
func newValidator(t *testing.T) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(admin.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("OpenAPI version %s, want 3.1", v)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		t.Fatalf("the document is not valid OpenAPI: %v", describe(verrs))
	}
	return v
}

func describe(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n  " + e.Message + ": " + e.Reason)
		for _, f := range e.SchemaValidationErrors {
			b.WriteString("\n    " + f.FieldPath + ": " + f.Reason)
		}
	}
	return b.String()
}

// call is one request of the walk through the API, and the status it must
// get.
type call struct {
	name, method, path, ctype, body string
	auth                            bool
	want                            int
}

// TestOpenAPI drives every endpoint of the admin API against real stores,
// through every answer it documents that a store can be brought to give,
// and validates each request and each real response (status, headers,
// body) against the OpenAPI document the handler serves.
func TestOpenAPI(t *testing.T) {
	v := newValidator(t)
	for _, b := range teststores.All()[:2] { // memory and sqlite
		t.Run(b.Name, func(t *testing.T) {
			st, _ := b.New(t)
			s := newSite(t, st)
			links := s.mintBatches(t, 9, 3, "o")
			s.consume(links[0], email(0), "sess-0")
			s.consume(links[1], email(2), "sess-x") // a mismatch
			s.consume(links[0], email(0), "sess-again")
			failing, _ := admin.New(st, admin.WithSessionRevoker(admin.SessionRevokerFunc(func(context.Context, []string) error {
				return errors.New("session store down")
			})))
			srv := httptest.NewServer(handlerOf(t, s.a))
			defer srv.Close()
			failSrv := httptest.NewServer(handlerOf(t, failing))
			defer failSrv.Close()
			since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			calls := []call{
				{"openapi", "GET", "/openapi.json", "", "", true, 200},
				{"forbidden", "GET", "/state", "", "", false, 403},
				{"other host", "GET", "/state", "", "", true, 421},
				{"state empty", "GET", "/state", "", "", true, 200},
				{"batches", "GET", "/batches", "", "", true, 200},
				{"freeze", "POST", "/freeze", "application/json", `{"scope":"batch","key":"o-001","reason":"check"}`, true, 200},
				{"freeze again", "POST", "/freeze", "application/json", `{"scope":"batch","key":"o-001"}`, true, 200},
				{"freeze no match", "POST", "/freeze", "application/json", `{"scope":"batch","key":"o-999"}`, true, 409},
				{"freeze bad scope", "POST", "/freeze", "application/json", `{"scope":"everything"}`, true, 400},
				{"freeze not json", "POST", "/freeze", "text/plain", `scope=batch`, true, 415},
				{"dry run", "POST", "/revoke", "application/json", `{"filter":{"members":["m-0003"]},"dry_run":true}`, true, 200},
				{"revoke empty filter", "POST", "/revoke", "application/json", `{"filter":{}}`, true, 400},
				{"revoke no match", "POST", "/revoke", "application/json", `{"filter":{"batches":["o-999"]}}`, true, 409},
				{"revoke wide", "POST", "/revoke", "application/json", `{"filter":{"all":true}}`, true, 409},
				{"revoke members", "POST", "/revoke", "application/json", `{"filter":{"members":["m-0003"]}}`, true, 200},
				{"revoke ids", "POST", "/revoke", "application/json", fmt.Sprintf(`{"filter":{"ids":[%q]}}`, links[4].Claims.ID), true, 200},
				{"revoke issued before", "POST", "/revoke", "application/json", fmt.Sprintf(`{"filter":{"members":["m-0005"],"issued_before":%q}}`, time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)), true, 200},
				{"state", "GET", "/state", "", "", true, 200},
				{"thaw", "POST", "/thaw", "application/json", `{"scope":"batch","key":"o-001","reason":"checked"}`, true, 200},
				{"thaw no match", "POST", "/thaw", "application/json", `{"scope":"member","key":"nobody"}`, true, 409},
				{"report batch", "GET", "/report?batch=o-000", "", "", true, 200},
				{"report window", "GET", "/report?since=" + since, "", "", true, 200},
				{"report csv", "GET", "/report?batch=o-000&format=csv", "", "", true, 200},
				{"report empty", "GET", "/report?batch=o-404", "", "", true, 200},
				{"report no scope", "GET", "/report", "", "", true, 400},
				{"report bad time", "GET", "/report?since=yesterday", "", "", true, 400},
				{"sessions fail", "POST", "/revoke", "application/json", `{"filter":{"batches":["o-000"],"consumed":true}}`, true, 502},
			}
			seen := map[string][]int{}
			for _, c := range calls {
				url := srv.URL
				if c.name == "sessions fail" {
					url = failSrv.URL
				}
				status := exchange(t, v, url, c)
				op := c.method + " " + strings.SplitN(c.path, "?", 2)[0]
				seen[op] = append(seen[op], status)
			}
			if b.Name == "sqlite" {
				// A store that stopped answering: 503, as documented.
				st.(io.Closer).Close()
				for _, c := range []call{{"state down", "GET", "/state", "", "", true, 503},
					{"freeze down", "POST", "/freeze", "application/json", `{"scope":"global"}`, true, 503}} {
					exchange(t, v, srv.URL, c)
				}
			}
			for op := range operations(t) {
				if !slices.Contains(seen[op], 200) {
					t.Errorf("%s was not driven to a 200", op)
				}
			}
		})
	}
}

func handlerOf(t *testing.T, a *admin.Admin) http.Handler {
	t.Helper()
	h, err := admin.NewHandler(a, func(r *http.Request) (string, bool) {
		return "ann@ops", r.Header.Get("Authorization") == "Bearer staff"
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// exchange sends c, checks its status, and validates the request and the
// response against the document.
func exchange(t *testing.T, v validator.Validator, base string, c call) int {
	t.Helper()
	req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if c.auth {
		req.Header.Set("Authorization", "Bearer staff")
	}
	if c.name == "other host" {
		req.Host = "rebind.example"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != c.want {
		t.Fatalf("%s: %s %s: %d, want %d\n%s", c.name, c.method, c.path, resp.StatusCode, c.want, body)
	}
	if c.want < 400 {
		vreq, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		vreq.Header = req.Header.Clone()
		if ok, errs := v.ValidateHttpRequest(vreq); !ok {
			t.Errorf("%s: the request does not follow the document:%s", c.name, describe(errs))
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	vreq, _ := http.NewRequest(c.method, base+c.path, nil)
	if ok, errs := v.ValidateHttpResponse(vreq, resp); !ok {
		t.Errorf("%s: %s %s → %d drifted from the document:%s\n%s", c.name, c.method, c.path, resp.StatusCode, describe(errs), body)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && bytes.Contains(body, []byte("null")) {
		t.Errorf("%s: null in %s", c.name, body)
	}
	return resp.StatusCode
}

// operations lists the document's operations, "GET /state".
func operations(t *testing.T) map[string]bool {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(admin.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for p, item := range doc.Paths {
		for m := range item {
			ops[strings.ToUpper(m)+" "+p] = true
		}
	}
	return ops
}

// TestOpenAPICatchesDrift: the validation above fails a response that
// drifts from the document: a Go field name, a scope as a number, a null
// list, a missing header.
func TestOpenAPICatchesDrift(t *testing.T) {
	v := newValidator(t)
	st, _ := teststores.All()[0].New(t)
	s := newSite(t, st)
	s.mintBatches(t, 3, 3, "d")
	if _, err := s.a.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "d-000", Reason: "x"}, "ops"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handlerOf(t, s.a))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/state", nil)
	req.Header.Set("Authorization", "Bearer staff")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, tc := range []struct {
		name     string
		old, new string
		header   string
	}{
		{"as it is", "", "", ""},
		{"go field name", `"holds"`, `"Holds"`, ""},
		{"scope as a number", `"scope": "batch"`, `"scope": 2`, ""},
		{"null list", `"watermarks": []`, `"watermarks": null`, ""},
		{"time not RFC 3339", `"since": "`, `"since": "at `, ""},
		{"no-store header dropped", "", "", "Cache-Control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(strings.Replace(string(good), tc.old, tc.new, 1))
			if tc.old != "" && bytes.Equal(body, good) {
				t.Fatalf("%q is not in %s", tc.old, good)
			}
			r := &http.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone(), Body: io.NopCloser(bytes.NewReader(body))}
			if tc.header != "" {
				r.Header.Del(tc.header)
			}
			vreq, _ := http.NewRequest("GET", srv.URL+"/state", nil)
			ok, errs := v.ValidateHttpResponse(vreq, r)
			if want := tc.name == "as it is"; ok != want {
				t.Fatalf("valid = %v, want %v:%s\n%s", ok, want, describe(errs), body)
			}
		})
	}
}
