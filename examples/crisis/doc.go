// Command crisis replays the incident oncelink exists for: a member site
// mails 18,000 one-time login links in batches of ten through a mail action
// that is reused across each batch and keeps the first message it rendered.
//
// It runs the send three times, each on its own 18,000 links: the buggy
// mailer without a send guard (what happened), the buggy mailer with
// oncelink's send guard (nothing leaves), and a correct mailer with the
// guard (every member gets their own link). It prints a short report.
//
//	go run ./examples/crisis                      # SQLite in a temporary directory
//	go run ./examples/crisis -store postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//
// # Security considerations
//
// The replay mints real links into a throwaway store; nothing is mailed.
package main
