package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperatorPageAfterRestart: the operator's page lists the batches the
// store holds, whichever process sent them.
func TestOperatorPageAfterRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Site, *httptest.Server) {
		srv := httptest.NewUnstartedServer(nil)
		site, err := NewSite(context.Background(), Config{BaseURL: "http://" + srv.Listener.Addr().String(),
			StoreURL: "sqlite:" + filepath.Join(dir, "oncelink.db"), DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		srv.Config.Handler = site.Handler()
		srv.Start()
		return site, srv
	}
	site, srv := open()
	var batches []string
	for range 2 {
		res, err := site.Invite(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, res.Batch)
	}
	srv.Close()
	site.Close()

	site, srv = open()
	defer func() { srv.Close(); site.Close() }()
	req, _ := http.NewRequest("GET", srv.URL+"/admin/", nil)
	req.AddCookie(&http.Cookie{Name: "ms_admin", Value: site.adminKey})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, batch := range batches {
		if !strings.Contains(string(b), batch) {
			t.Errorf("the operator's page after a restart lacks batch %s: %d\n%s", batch, resp.StatusCode, b)
		}
	}
}
