package storeurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/oncelink/oncelink/store/mysqlstore"
)

// ErrURL: the store URL is malformed or names an unknown kind of store.
var ErrURL = errors.New("oncelink: invalid store URL")

// MySQLConfig turns a store URL of the form
// mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS] into the driver's
// configuration and the store's options: oncelink_prefix=P picks the table
// prefix, oncelink_max_conns=N bounds the store's connections, and every other parameter is one of the driver's
// (github.com/go-sql-driver/mysql), such as tls=true or timeout=5s. The port
// defaults to 3306.
func MySQLConfig(raw string) (*mysql.Config, []mysqlstore.Option, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "mysql" || u.Opaque != "" {
		return nil, nil, fmt.Errorf("%w: malformed mysql URL (mysql://USER@HOST:PORT/DATABASE)", ErrURL)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, nil, fmt.Errorf("%w: a mysql URL names one database: mysql://USER@HOST:PORT/DATABASE", ErrURL)
	}
	if u.Hostname() == "" {
		return nil, nil, fmt.Errorf("%w: a mysql URL names a host: mysql://USER@HOST:PORT/DATABASE", ErrURL)
	}
	q := u.Query()
	var opts []mysqlstore.Option
	if q.Has("oncelink_prefix") {
		opts = append(opts, mysqlstore.WithTablePrefix(q.Get("oncelink_prefix")))
	}
	q.Del("oncelink_prefix")
	if q.Has("oncelink_max_conns") {
		n, err := strconv.Atoi(q.Get("oncelink_max_conns"))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: mysql: oncelink_max_conns is not a number", ErrURL)
		}
		opts = append(opts, mysqlstore.WithMaxConns(n))
	}
	q.Del("oncelink_max_conns")
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	// The driver's own DSN form takes any password: it splits at the last
	// "@" before the address.
	var dsn strings.Builder
	if u.User != nil {
		dsn.WriteString(u.User.Username())
		if p, ok := u.User.Password(); ok {
			dsn.WriteString(":" + p)
		}
		dsn.WriteString("@")
	}
	dsn.WriteString("tcp(" + net.JoinHostPort(u.Hostname(), port) + ")/" + url.PathEscape(db))
	if len(q) > 0 {
		dsn.WriteString("?" + q.Encode())
	}
	cfg, err := mysql.ParseDSN(dsn.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: mysql: %v", ErrURL, Redact(err, raw))
	}
	return cfg, opts, nil
}

// Redact removes the URL and its password from a driver's error message.
func Redact(err error, raw string) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, raw, "<url>")
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "<password>")
		}
	}
	return msg
}
