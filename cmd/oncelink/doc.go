// Command oncelink is the operators' tool: revoke, freeze, thaw, report and
// purge oncelink links in a store, from a shell, on the worst day of the
// year.
//
//	oncelink --store sqlite:site.db freeze --batch invite-7 --reason "wrong links"
//	oncelink --store postgres://... revoke --batches invite-7 --dry-run
//	oncelink --store redis://... report --batch invite-7 --csv > affected.csv
//
// The store URL comes from --store or ONCELINK_STORE: sqlite:PATH,
// postgres://..., mysql://..., redis://... Exit codes: 0 done, 1 failed (the store did
// not answer, or refused), 2 usage error (nothing was done), 3 not confirmed
// (nothing was done).
//
// # Security considerations
//
// The store URL may hold a password: prefer ONCELINK_STORE to --store on
// shared machines (the process list shows flags), and the CLI never prints
// it. Revoking everything and purging ask for a typed confirmation unless
// --yes. The CLI cannot reach the site's sessions: it lists those the
// revoked links opened, for the site to end.
package main
