// Command membersite is a runnable member site on oncelink: seeded members,
// an operator's page to invite them all, an outbox that captures every
// message, the login flow, a members' page, and the operator's freeze,
// revoke and report tools.
//
//	go run ./examples/membersite                  # SQLite, no server needed
//	go run ./examples/membersite -store redis://127.0.0.1:6379/0
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
