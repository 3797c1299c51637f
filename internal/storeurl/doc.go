// Package storeurl reads a MariaDB store URL into the driver's
// configuration and the store's options, for the public storeurl package
// and for the tests and benchmarks that open a MariaDB store of their own.
//
// # Security considerations
//
// Store URLs may hold passwords: errors never repeat the URL, and
// [Redact] takes the URL and its password out of a driver's message.
package storeurl
