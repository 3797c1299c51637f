// Command membersite is a runnable member site on oncelink: seeded members,
// a page where a member asks for a login link (the request flow), the login
// flow, a members' page, an operator's page to invite them all, and the
// operator's freeze, revoke and report tools. Mail goes through an SMTP
// server when -smtp names one, and to an outbox read in the browser
// otherwise.
//
//	go run ./examples/membersite                  # SQLite, no server needed
//	go run ./examples/membersite -store redis://127.0.0.1:6379/0
//	go run ./examples/membersite -smtp 127.0.0.1:1025   # Mailpit
//
// The site creates its store if there is none, waits up to a minute for a
// server that is still loading its data, and names its batches
// invite-YYYYMMDD-HHMMSS.mmm (UTC): the README's incident playbook runs
// against its store as written (TestPlaybook).
//
// # Security considerations
//
// A demonstration on loopback over http: the operator's key is printed on
// start and set as a cookie; sessions live in memory. A real site serves
// https, authenticates its operators and keeps its signing key in a vault.
package main
