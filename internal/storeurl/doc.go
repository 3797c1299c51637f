// Package storeurl opens a store from a URL, for the CLI and the examples:
//
//	sqlite:PATH                         a SQLite file
//	postgres://USER@HOST:PORT/DB?...    PostgreSQL; oncelink_schema=NAME picks the schema
//	mysql://USER@HOST:PORT/DB?...       MariaDB; oncelink_prefix=P picks the table prefix
//	redis://HOST:PORT/DB?...            Redis; oncelink_prefix=P picks the key prefix
//	memory:                             an in-process store, for tests only ([Options.AllowMemory])
//
// [Open] opens a store that is there, and creates one only when asked
// ([Options.Create]): a mistyped path, schema or prefix is an error wrapping
// [store.ErrNoStore], never a new, empty store. Every client it builds
// bounds its calls: a PostgreSQL connect timeout, Redis dial, read and
// write timeouts with the context's deadline honoured, and the MariaDB
// store's own dial, read and write timeouts, unless the URL sets its own. [Options.WaitLoading] waits, within a bound, for a server that
// is still starting or loading its data.
//
// # Security considerations
//
// Store URLs may hold passwords: errors never repeat the URL, and
// [Redact] hides the password for display.
package storeurl
