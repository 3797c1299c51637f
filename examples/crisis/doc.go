// Command crisis replays the incident oncelink exists for, on a simulated
// clock: a member site mails 18,000 one-time login links in batches of ten
// through a mail object that is reused across each batch and keeps the
// first message it rendered, so nine of every ten members receive someone
// else's link, and the members click.
//
// It runs the seed's day as it happened (modelled: whoever holds a link
// logs in; the reports come in at minute 47 and the site goes offline 18
// minutes later), then the same send through oncelink's send guard
// (nothing leaves), then the day with oncelink had the send gone out past
// the guard: the identity check refuses every member who types their own
// address on someone else's link, the circuit breaker freezes the batch,
// the operator freezes and revokes it through package admin, which ends
// the sessions its links opened, and admin.Report names the affected
// members. It prints a timeline of each day in simulated minutes and a
// table beside the seed's figures.
//
//	go run ./examples/crisis                      # SQLite in a temporary directory
//	go run ./examples/crisis -store postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//
// Every part of the library reads the simulated clock (token.WithClock,
// admin.WithClock), so the ledger's times are the day's. The members'
// clicks come from a seeded generator (-seed): the same clicks on every
// day of a run.
//
// # Security considerations
//
// The replay mints real links into a throwaway store; nothing is mailed.
// With -store it writes batches, ledger entries and holds of its own into
// that store: point it at a store no site uses.
package main
