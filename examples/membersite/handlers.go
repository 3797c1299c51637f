package main

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
)

// Handler returns the site's routes.
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, http.StatusOK, "home.html", map[string]any{"Where": s.mail.Where(), "Outbox": s.mail == Transport(s.outbox)})
	})
	mux.Handle("/login", s.flow)
	mux.Handle("/login/request", s.requests)
	mux.HandleFunc("GET /members", s.membersPage)
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s.sessions.end(r)
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /outbox", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, http.StatusOK, "outbox.html", map[string]any{"Sent": s.outbox.List(), "Where": s.mail.Where()})
	})
	mux.HandleFunc("GET /outbox/{n}", s.messagePage)
	mux.HandleFunc("GET /admin", s.adminPage)
	mux.HandleFunc("POST /admin/invite", s.adminOnly(s.invite))
	mux.HandleFunc("POST /admin/freeze", s.adminOnly(s.freeze))
	mux.HandleFunc("POST /admin/thaw", s.adminOnly(s.thaw))
	mux.HandleFunc("POST /admin/revoke", s.adminOnly(s.revoke))
	mux.HandleFunc("GET /admin/report", s.adminOnly(s.reportPage))
	mux.Handle("/admin/api/", http.StripPrefix("/admin/api", s.adminAPI))
	return http.NewCrossOriginProtection().Handler(securityHeaders(mux))
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		if h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Site) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.cfg.Logger.Error("membersite: template", "page", name, "error", err)
	}
}

func (s *Site) membersPage(w http.ResponseWriter, r *http.Request) {
	id, ref, ok := s.sessions.member(r)
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "members.html", map[string]any{"Member": s.byID[id], "Session": ref})
}

var linkRE = regexp.MustCompile(`https?://\S+/login\?t=[A-Za-z0-9._-]+`)

func (s *Site) messagePage(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	sent, raw, ok := s.outbox.Read(n)
	if err != nil || !ok {
		http.NotFound(w, r)
		return
	}
	body, err := Body(raw)
	if err != nil {
		body = "(unreadable: " + err.Error() + ")"
	}
	s.render(w, http.StatusOK, "message.html", map[string]any{"Sent": sent, "Raw": string(raw), "Body": body,
		"Link": template.URL(linkRE.FindString(body))})
}

// adminPage logs the operator in with the key printed at start (it becomes
// a cookie, and leaves the address bar), then shows the dashboard.
func (s *Site) adminPage(w http.ResponseWriter, r *http.Request) {
	if key := r.URL.Query().Get("key"); key != "" {
		if !equal(key, s.adminKey) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "ms_admin", Value: s.adminKey, Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return
	}
	if _, ok := s.authorize(r); !ok {
		http.Error(w, "forbidden: open the admin address the site printed when it started", http.StatusForbidden)
		return
	}
	s.dashboard(w, r, r.URL.Query().Get("notice"), r.URL.Query().Get("bad") == "1")
}

func (s *Site) dashboard(w http.ResponseWriter, r *http.Request, notice string, bad bool) {
	state, err := s.adm.State(r.Context())
	if err != nil {
		notice, bad = "The store did not answer: "+err.Error(), true
	}
	batches, err := s.adm.Batches(r.Context())
	if err != nil {
		notice, bad = "The store did not answer: "+err.Error(), true
	}
	trips := s.tripped()
	s.render(w, http.StatusOK, "admin.html", map[string]any{
		"Notice": notice, "Bad": bad, "Members": len(s.members), "State": state, "Trips": trips,
		"Batches": batches, "Sessions": s.sessions.count(),
	})
}

func (s *Site) adminOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.authorize(r); !ok {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

func (s *Site) back(w http.ResponseWriter, r *http.Request, notice string, bad bool) {
	q := "?notice=" + template.URLQueryEscaper(notice)
	if bad {
		q += "&bad=1"
	}
	http.Redirect(w, r, "/admin"+q, http.StatusSeeOther)
}

func (s *Site) invite(w http.ResponseWriter, r *http.Request) {
	res, err := s.Invite(r.Context())
	switch {
	case err != nil:
		s.back(w, r, "Invitation failed: "+err.Error(), true)
	case res.Blocked != nil:
		s.back(w, r, fmt.Sprintf("The send guard stopped batch %s after %d messages: %s. The batch is frozen.", res.Batch, res.Sent, res.Blocked.Reason), true)
	default:
		s.back(w, r, fmt.Sprintf("Sent %d invitations (batch %s) to %s.", res.Sent, res.Batch, s.mail.Where()), false)
	}
}

func (s *Site) scopeForm(r *http.Request) (store.Scope, string, error) {
	scope, err := store.ParseScope(r.FormValue("scope"))
	if err != nil {
		return 0, "", err
	}
	key := r.FormValue("key")
	if scope == store.ScopeGlobal {
		key = ""
	}
	return scope, key, store.ValidateScopeKey(scope, key)
}

func (s *Site) freeze(w http.ResponseWriter, r *http.Request) {
	scope, key, err := s.scopeForm(r)
	var res admin.HoldResult
	if err == nil {
		res, err = s.adm.Freeze(r.Context(), store.Hold{Scope: scope, Key: key, Reason: r.FormValue("reason")}, "admin")
	}
	if err != nil {
		s.back(w, r, "Freeze failed: "+err.Error(), true)
		return
	}
	s.back(w, r, fmt.Sprintf("Frozen: %s %s, %d outstanding links. They are refused from the next request.", scope, key, res.Outstanding), false)
}

func (s *Site) thaw(w http.ResponseWriter, r *http.Request) {
	scope, key, err := s.scopeForm(r)
	var res admin.HoldResult
	if err == nil {
		res, err = s.adm.Thaw(r.Context(), store.Hold{Scope: scope, Key: key}, "admin")
	}
	if err != nil {
		s.back(w, r, "Thaw failed: "+err.Error(), true)
		return
	}
	if !res.Changed {
		s.back(w, r, fmt.Sprintf("%s %s was not frozen.", scope, key), false)
		return
	}
	s.back(w, r, fmt.Sprintf("Thawed: %s %s; %d links usable again.", scope, key, res.Usable), false)
}

func (s *Site) revoke(w http.ResponseWriter, r *http.Request) {
	var f store.Filter
	switch key := r.FormValue("key"); r.FormValue("what") {
	case "all":
		f.All = true
	case "batch":
		f.Batches = []string{key}
	case "member":
		f.Members = []string{key}
	}
	var opts []admin.RevokeOption
	if n, err := strconv.ParseInt(r.FormValue("confirm"), 10, 64); err == nil {
		opts = append(opts, admin.Confirm(n))
	}
	res, err := s.adm.Revoke(r.Context(), f, "admin", opts...)
	var ce *admin.ConfirmError
	switch {
	case errors.As(err, &ce):
		s.back(w, r, fmt.Sprintf("This revokes %d of the %d outstanding links. To go ahead, type %d in the confirmation box and revoke again.",
			ce.Preview.Outstanding, ce.Preview.OutstandingInStore, ce.Preview.Confirm), true)
		return
	case err != nil && !errors.Is(err, admin.ErrSessions):
		s.back(w, r, "Revoke failed: "+err.Error(), true)
		return
	}
	what := fmt.Sprintf("%d links", res.Revoked)
	switch {
	case res.Sequence != 0:
		what = "every link recorded so far"
	case !res.Watermark.IsZero():
		what = "every link issued before " + res.Watermark.Format("15:04:05.000000")
	}
	s.back(w, r, fmt.Sprintf("Revoked %s (%d outstanding); ended %d sessions.", what, res.Covered, len(res.Sessions)), false)
}

func (s *Site) reportPage(w http.ResponseWriter, r *http.Request) {
	rep, err := s.adm.Report(r.Context(), admin.ReportQuery{Batch: r.URL.Query().Get("batch")})
	if err != nil {
		s.back(w, r, "Report failed: "+err.Error(), true)
		return
	}
	s.render(w, http.StatusOK, "report.html", rep)
}
