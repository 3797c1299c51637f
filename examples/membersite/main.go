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
	flag.Parse()
	if err := run(*addr, *data, *storeURL); err != nil {
		fmt.Fprintln(os.Stderr, "membersite:", err)
		os.Exit(1)
	}
}

func run(addr, data, storeURL string) error {
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
	site, err := NewSite(ctx, Config{BaseURL: base, StoreURL: storeURL, DataDir: data, Logger: logger})
	if err != nil {
		l.Close()
		return err
	}
	defer site.Close()
	srv := &http.Server{Handler: site.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("member site on %s (store %s, data in %s)\n", base, storeURLForDisplay(storeURL), data)
	fmt.Printf("  operator:  %s/admin?key=%s\n", base, site.adminKey)
	fmt.Printf("  outbox:    %s/outbox\n", base)
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
