// Package storeurl opens a store from a URL, for the CLI and the examples:
//
//	sqlite:PATH                         a SQLite file (created if missing)
//	postgres://USER@HOST:PORT/DB?...    PostgreSQL; oncelink_schema=NAME picks the schema
//	mysql://USER@HOST:PORT/DB?...       MariaDB; oncelink_prefix=P picks the table prefix
//	redis://HOST:PORT/DB?...            Redis; oncelink_prefix=P picks the key prefix
//	memory:                             an in-process store
//
// Errors never repeat the URL, which may hold a password.
//
// # Security considerations
//
// Store URLs may hold passwords: errors never repeat the URL, and
// [Redact] hides the password for display.
package storeurl
