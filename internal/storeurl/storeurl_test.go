package storeurl

import (
	"errors"
	"strings"
	"testing"
	"time"
)

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
		{name: "max connections", url: "mysql://app@db/site?oncelink_max_conns=64", wantUser: "app", wantDB: "site", wantAddr: "db:3306", wantOpts: 1},
		{name: "max connections not a number", url: "mysql://app@db/site?oncelink_max_conns=many", wantErr: true},
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
