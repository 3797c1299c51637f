package main

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
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
	// The operator's page is oncelink's incident console; sending the
	// invitations is the site's own form beside it.
	mux.Handle("/admin/", s.operatorLogin(http.StripPrefix("/admin", s.console)))
	mux.HandleFunc("GET /admin/send", s.adminOnly(s.sendPage))
	mux.HandleFunc("POST /admin/send", s.adminOnly(s.invite))
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

// operatorLogin logs the operator in with the key printed at start (it
// becomes a cookie, and leaves the address bar), then hands the request
// to the console, which asks the site's authorizer again.
func (s *Site) operatorLogin(console http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key := r.URL.Query().Get("key"); key != "" && r.Method == http.MethodGet {
			if !equal(key, s.adminKey) {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "ms_admin", Value: s.adminKey, Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/admin/", http.StatusSeeOther)
			return
		}
		if _, ok := s.authorize(r); !ok {
			http.Error(w, "forbidden: open the operator's address the site printed when it started", http.StatusForbidden)
			return
		}
		console.ServeHTTP(w, r)
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

// sendPage is the site's form to invite every member, beside the console.
func (s *Site) sendPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.render(w, http.StatusOK, "send.html", map[string]any{"Members": len(s.members), "Where": s.mail.Where(),
		"Notice": q.Get("notice"), "Bad": q.Get("bad") == "1", "Batch": q.Get("batch")})
}

func (s *Site) back(w http.ResponseWriter, r *http.Request, batch, notice string, bad bool) {
	q := url.Values{"notice": {notice}, "batch": {batch}}
	if bad {
		q.Set("bad", "1")
	}
	http.Redirect(w, r, "/admin/send?"+q.Encode(), http.StatusSeeOther)
}

func (s *Site) invite(w http.ResponseWriter, r *http.Request) {
	res, err := s.Invite(r.Context())
	switch {
	case err != nil:
		s.back(w, r, "", "Invitation failed: "+err.Error(), true)
	case res.Blocked != nil:
		s.back(w, r, res.Batch, fmt.Sprintf("The send guard stopped batch %s after %d messages: %s. The batch is frozen.", res.Batch, res.Sent, res.Blocked.Reason), true)
	default:
		s.back(w, r, res.Batch, fmt.Sprintf("Sent %d invitations (batch %s) to %s.", res.Sent, res.Batch, s.mail.Where()), false)
	}
}
