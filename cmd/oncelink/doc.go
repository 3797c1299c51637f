// Command oncelink is the operators' tool: revoke, freeze, thaw, report and
// purge oncelink links in a store, from a shell, on the worst day of the
// year.
//
//	oncelink --store sqlite:site.db batches
//	oncelink --store sqlite:site.db freeze --batch invite-7 --reason "wrong links"
//	oncelink --store postgres://... revoke --batches invite-7 --dry-run
//	oncelink --store redis://... report --batch invite-7 --csv > affected.csv
//
// The store URL comes from --store or ONCELINK_STORE: sqlite:PATH,
// postgres://..., mysql://..., redis://... Every command but init opens a
// store that is there, migrated, and creates nothing: a mistyped path is an
// error that names it. init creates a store or brings it up to date (the
// SQLite file, the PostgreSQL and MariaDB migrations, the Redis control
// key); migrate is the same command. memory: is refused: no other process
// can reach it.
//
// Every command explains itself: 'oncelink CMD --help' (or -h, or
// 'oncelink help CMD') prints its flags and a worked example, with exit 0.
// A usage error names the flag that was wrong and points at that help.
// Durations take days: --older-than 30d, 1d12h, 12h.
//
// Every freeze, thaw and revoke prints how many outstanding links it covers
// and refuses a scope that matches no link unless --force; a revoke's
// --dry-run counts the same outstanding links the revoke then stops. A
// revoke as wide as everything (--all, more than half of the outstanding
// links, or all of a purpose) asks for its count to be typed unless --yes.
// Every freeze, thaw, revoke and purge takes --actor, who is acting,
// recorded in the ledger with the action: by default $ONCELINK_ACTOR, else
// the operating system's user (os/user; under sudo, $SUDO_USER; else
// $USER).
//
// --json writes what the admin HTTP API writes: snake_case keys, scopes
// and statuses as words, RFC 3339 times, [] for an empty list.
//
// Exit codes: 0 done (a --help included), 1 failed (the store did not
// answer, refused, or is not there), 2 usage error, 3 not confirmed, 4
// matched no link; nothing was done in cases 2 to 4.
//
// # Security considerations
//
// The store URL may hold a password: prefer ONCELINK_STORE to --store on
// shared machines (the process list shows flags), and the CLI never prints
// it. Wide revocations and purging ask for a typed confirmation unless
// --yes. The CLI cannot reach the site's sessions: it lists those the
// revoked links opened, for the site to end. Text from the store (user
// agents, addresses, reasons) is shown with control characters escaped.
package main
