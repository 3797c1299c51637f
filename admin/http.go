package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Authorizer decides whether an admin request may proceed, and names who
// made it (for the ledger). It must return ok false for anyone who may not
// revoke, freeze or read reports; there is no open default.
type Authorizer func(r *http.Request) (actor string, ok bool)

// maxRequestBody bounds the body of an admin request.
const maxRequestBody = 1 << 20

// NewHandler returns the HTTP admin API, to be mounted under a prefix with
// http.StripPrefix:
//
//	POST /revoke   {"filter": {...}, "dry_run": false, "confirm": 18000, "force": false}
//	                                                     → RevokeResult, or Preview when dry_run
//	POST /freeze   {"scope": "batch", "key": "b-1", "reason": "...", "force": false} → HoldResult
//	POST /thaw     {"scope": "batch", "key": "b-1", "force": false}                  → HoldResult
//	GET  /state                                          → holds and watermarks
//	GET  /batches                                        → {"batches": [BatchReport...]}
//	GET  /report?batch=...&since=...&until=...&format=json|csv
//	GET  /openapi.json                                   → the OpenAPI 3.1 document of this API ([OpenAPI])
//
// Every request is refused with 403 unless authorize says yes. POST bodies
// must be JSON (application/json), at most 1 MiB, with no
// unknown fields; cross-origin browser requests are refused. A bad request
// gets 400 with the reason and changes nothing; a store failure gets 503.
//
// A revocation as wide as everything ([Preview]) gets 409 and changes
// nothing unless "confirm" carries the number of outstanding links it
// covers: the 409 body says it ({"error": ..., "confirm": N, "preview":
// {...}}), as does a dry run. A freeze, thaw or revocation whose scope
// matches no link gets 409 and changes nothing unless "force".
//
// Only the Host names of [AllowHosts] are answered, the loopback names
// when none are given; any other gets 421 before the authorizer runs.
func NewHandler(a *Admin, authorize Authorizer, opts ...HandlerOption) (http.Handler, error) {
	if a == nil || authorize == nil {
		return nil, fmt.Errorf("%w: the admin handler needs an admin and an authorizer", ErrConfig)
	}
	cfg, err := handlerConfig(opts)
	if err != nil {
		return nil, err
	}
	h := &handler{a: a, authorize: authorize, cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /revoke", h.revoke)
	mux.HandleFunc("POST /freeze", h.freeze)
	mux.HandleFunc("POST /thaw", h.thaw)
	mux.HandleFunc("GET /state", h.state)
	mux.HandleFunc("GET /batches", h.batches)
	mux.HandleFunc("GET /report", h.report)
	mux.HandleFunc("GET /openapi.json", h.openapi)
	cop := http.NewCrossOriginProtection()
	return cop.Handler(h.guard(mux)), nil
}

type handler struct {
	a         *Admin
	authorize Authorizer
	cfg       webConfig
}

type ctxKey struct{}

func (h *handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !h.cfg.allowed(r) {
			writeError(w, http.StatusMisdirectedRequest, "this host name is not served here")
			return
		}
		actor, ok := h.call(r)
		if !ok {
			writeError(w, http.StatusForbidden, "forbidden")
			return
		}
		if r.Method == http.MethodPost {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "the body must be application/json")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		}
		r = r.WithContext(contextWithActor(r, actor))
		next.ServeHTTP(w, r)
	})
}

// call runs the authorizer; a panic is a refusal.
func (h *handler) call(r *http.Request) (actor string, ok bool) {
	defer func() {
		if recover() != nil {
			actor, ok = "", false
		}
	}()
	return h.authorize(r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// fail maps an error to a status: request errors are 400 with their
// message, a scope that matches nothing or a wide revocation not confirmed
// 409, anything else 503.
func fail(w http.ResponseWriter, err error) {
	var ce *ConfirmError
	switch {
	case errors.As(err, &ce):
		writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error(), "confirm": ce.Preview.Confirm, "preview": ce.Preview})
	case errors.Is(err, ErrNoMatch):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrUnsupported):
		writeError(w, http.StatusNotImplemented, err.Error())
	case errors.Is(err, ErrRequest), errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrSessions):
		writeError(w, http.StatusBadGateway, err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "store unavailable: "+err.Error())
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid JSON body: more than one value")
		return false
	}
	return true
}

// revokeRequest is the body of POST /revoke.
type revokeRequest struct {
	Filter jsonFilter `json:"filter"`
	DryRun bool       `json:"dry_run"`
	// Confirm is the number of outstanding links the caller confirms
	// revoking, required when the revocation is as wide as everything.
	Confirm *int64 `json:"confirm,omitempty"`
	// Force revokes even when the filter matches no link.
	Force bool `json:"force,omitempty"`
}

// revokeOptions returns the options of a revocation's confirmation and force.
func (req *revokeRequest) options() []RevokeOption {
	var opts []RevokeOption
	if req.Confirm != nil {
		opts = append(opts, Confirm(*req.Confirm))
	}
	if req.Force {
		opts = append(opts, Force())
	}
	return opts
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request) {
	var req revokeRequest
	if !decode(w, r, &req) {
		return
	}
	f := req.Filter.filter()
	if err := checkJSONFilter(f); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.DryRun {
		p, err := h.a.Preview(r.Context(), f)
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
		return
	}
	res, err := h.a.Revoke(r.Context(), f, actor(r), req.options()...)
	if err != nil {
		if errors.Is(err, ErrSessions) {
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": err.Error(), "result": res})
			return
		}
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// holdRequest is the body of POST /freeze and POST /thaw.
type holdRequest struct {
	Scope  string `json:"scope"`
	Key    string `json:"key"`
	Reason string `json:"reason,omitempty"`
	// Force freezes or thaws even when the scope matches no link.
	Force bool `json:"force,omitempty"`
}

// hold reads the body of a freeze or a thaw.
func (h *handler) hold(w http.ResponseWriter, r *http.Request) (store.Hold, []HoldOption, bool) {
	var req holdRequest
	if !decode(w, r, &req) {
		return store.Hold{}, nil, false
	}
	scope, err := store.ParseScope(req.Scope)
	if err == nil {
		err = store.ValidateScopeKey(scope, req.Key)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return store.Hold{}, nil, false
	}
	var opts []HoldOption
	if req.Force {
		opts = append(opts, Force())
	}
	return store.Hold{Scope: scope, Key: req.Key, Reason: req.Reason}, opts, true
}

func (h *handler) freeze(w http.ResponseWriter, r *http.Request) {
	hold, opts, ok := h.hold(w, r)
	if !ok {
		return
	}
	res, err := h.a.Freeze(r.Context(), hold, actor(r), opts...)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *handler) thaw(w http.ResponseWriter, r *http.Request) {
	hold, opts, ok := h.hold(w, r)
	if !ok {
		return
	}
	res, err := h.a.Thaw(r.Context(), hold, actor(r), opts...)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *handler) batches(w http.ResponseWriter, r *http.Request) {
	bs, err := h.a.Batches(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"batches": bs})
}

func (h *handler) state(w http.ResponseWriter, r *http.Request) {
	s, err := h.a.State(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *handler) report(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var rq ReportQuery
	rq.Batch = q.Get("batch")
	for name, dst := range map[string]*time.Time{"since": &rq.Since, "until": &rq.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, name+" must be an RFC 3339 time")
				return
			}
			*dst = t
		}
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		writeError(w, http.StatusBadRequest, "format must be json or csv")
		return
	}
	rep, err := h.a.Report(r.Context(), rq)
	if err != nil {
		fail(w, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="oncelink-report.csv"`)
		rep.WriteCSV(w)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
