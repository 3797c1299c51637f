package storeurl

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestClientTimeouts: every client Open builds bounds its calls, unless
// the URL says otherwise.
func TestClientTimeouts(t *testing.T) {
	ropt, _, err := redisOptions("redis://127.0.0.1:6379/0?oncelink_prefix=p")
	if err != nil {
		t.Fatal(err)
	}
	if !ropt.ContextTimeoutEnabled || ropt.DialTimeout != ConnectTimeout || ropt.ReadTimeout != ReadTimeout || ropt.WriteTimeout != ReadTimeout {
		t.Fatalf("redis options: context %v, dial %v, read %v, write %v", ropt.ContextTimeoutEnabled, ropt.DialTimeout, ropt.ReadTimeout, ropt.WriteTimeout)
	}
	ropt, _, err = redisOptions("redis://127.0.0.1:6379/0?read_timeout=10s")
	if err != nil || ropt.ReadTimeout != 10*time.Second || !ropt.ContextTimeoutEnabled {
		t.Fatalf("a URL's own read timeout: %v, %v", ropt.ReadTimeout, err)
	}
	pcfg, _, err := postgresConfig("postgres://u@127.0.0.1:5432/test?oncelink_schema=s")
	if err != nil || pcfg.ConnConfig.ConnectTimeout != ConnectTimeout {
		t.Fatalf("postgres connect timeout: %v, %v", pcfg.ConnConfig.ConnectTimeout, err)
	}
}

func TestMySQLConfig(t *testing.T) {
	tests := []struct {
		name                       string
		url                        string
		wantUser, wantPass, wantDB string
		wantAddr                   string
		wantOpts                   int
		wantTimeout                time.Duration
		wantErr                    bool
	}{
		{name: "plain", url: "mysql://root@127.0.0.1:3306/test", wantUser: "root", wantDB: "test", wantAddr: "127.0.0.1:3306"},
		{name: "default port", url: "mysql://app@db.example.org/site", wantUser: "app", wantDB: "site", wantAddr: "db.example.org:3306"},
		{name: "password with specials", url: "mysql://app:p%40ss%2Fw:rd@db:3307/site", wantUser: "app", wantPass: "p@ss/w:rd", wantDB: "site", wantAddr: "db:3307"},
		{name: "prefix and driver parameters", url: "mysql://app@db/site?oncelink_prefix=x_&timeout=3s", wantUser: "app", wantDB: "site", wantAddr: "db:3306", wantOpts: 1, wantTimeout: 3 * time.Second},
		{name: "IPv6", url: "mysql://app@[::1]:3306/site", wantUser: "app", wantDB: "site", wantAddr: "[::1]:3306"},
		{name: "no database", url: "mysql://app@db:3306/", wantErr: true},
		{name: "two path segments", url: "mysql://app@db:3306/a/b", wantErr: true},
		{name: "no host", url: "mysql:///site", wantErr: true},
		{name: "unknown driver parameter value", url: "mysql://app:secret@db/site?parseTime=maybe", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, opts, err := MySQLConfig(tc.url)
			if tc.wantErr {
				if !errors.Is(err, ErrURL) {
					t.Fatalf("MySQLConfig(%q) error = %v, want ErrURL", tc.url, err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("the error repeats the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.User != tc.wantUser || cfg.Passwd != tc.wantPass || cfg.DBName != tc.wantDB || cfg.Addr != tc.wantAddr ||
				cfg.Net != "tcp" || len(opts) != tc.wantOpts || cfg.Timeout != tc.wantTimeout {
				t.Fatalf("MySQLConfig(%q) = user %q pass %q db %q addr %q net %q, %d options, timeout %v",
					tc.url, cfg.User, cfg.Passwd, cfg.DBName, cfg.Addr, cfg.Net, len(opts), cfg.Timeout)
			}
		})
	}
}
