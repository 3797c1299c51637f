package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	data := flag.String("data", filepath.Join(os.TempDir(), "oncelink-membersite"), "directory for the signing key, the SQLite file and the outbox")
	storeURL := flag.String("store", os.Getenv("ONCELINK_STORE"), "store URL (default: sqlite:<data>/oncelink.db)")
	metricsAddr := flag.String("metrics", "127.0.0.1:9464", "address to serve the metrics at, for Prometheus (\"\": none)")
	smtp := SMTPConfig{User: os.Getenv("ONCELINK_SMTP_USER"), Password: os.Getenv("ONCELINK_SMTP_PASSWORD")}
	flag.StringVar(&smtp.Addr, "smtp", os.Getenv("ONCELINK_SMTP"), "SMTP server host:port to send mail through (default: keep every message in the outbox)")
	flag.StringVar(&smtp.From, "smtp-from", envOr("ONCELINK_SMTP_FROM", defaultFrom), "sender address of the site's mail")
	flag.Parse()
	if err := run(*addr, *metricsAddr, *data, *storeURL, smtp); err != nil {
		fmt.Fprintln(os.Stderr, "membersite:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(addr, metricsAddr, data, storeURL string, smtp SMTPConfig) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if storeURL == "" {
		storeURL = "sqlite:" + filepath.Join(data, "oncelink.db")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + l.Addr().String()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	site, err := NewSite(ctx, Config{BaseURL: base, StoreURL: storeURL, DataDir: data, SMTP: smtp, Logger: logger})
	if err != nil {
		l.Close()
		return err
	}
	defer site.Close()
	srv := &http.Server{Handler: site.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("member site on %s (store %s, data in %s)\n", base, storeURLForDisplay(storeURL), data)
	fmt.Printf("  operator:  %s/admin/?key=%s (invite everyone at %s/admin/send)\n", base, site.adminKey, base)
	fmt.Printf("  log in:    %s/login/request\n", base)
	fmt.Printf("  mail:      %s", site.mail.Where())
	if smtp.Addr == "" {
		fmt.Printf(", %s/outbox", base)
	}
	fmt.Println()
	if metricsAddr != "" {
		where, err := serveMetrics(ctx, metricsAddr, site.MetricsHandler())
		if err != nil {
			return err
		}
		fmt.Printf("  metrics:   http://%s/metrics (Prometheus)\n", where)
	}
	fmt.Printf("press Ctrl-C to stop\n")
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
