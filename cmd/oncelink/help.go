package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandHelp is what 'oncelink CMD --help' says besides the flags.
type commandHelp struct {
	args, about string
	examples    []string
}

var helps = map[string]commandHelp{
	"batches": {about: `List the batches the store holds links of, oldest first: each batch's
links by what the site would answer for them now (usable, frozen,
consumed, revoked, expired), the presentations refused, and whether a
freeze stands on it. These are the names freeze, revoke and report take.`,
		examples: []string{"oncelink batches", "oncelink batches --json"}},
	"freeze": {args: "--global | --batch B | --member M", about: `Stop logins, reversibly: every link the scope covers is refused from the
next request on, on every instance, and nothing is consumed. Says how many
outstanding links it covers. A batch or member with no link is refused
(exit 4) unless --force: check the name with 'oncelink batches'.`,
		examples: []string{`oncelink freeze --batch invite-20261125-093000.000 --reason "links sent to the wrong members"`,
			`oncelink freeze --global --reason "investigating"`}},
	"thaw": {args: "--global | --batch B | --member M", about: `Lift a freeze: the links it covered are usable again unless something
else refuses them (a revocation, another freeze). Says how many.`,
		examples: []string{"oncelink thaw --batch invite-20261125-093000.000", "oncelink thaw --global"}},
	"revoke": {args: "FILTER [--dry-run] [--yes] [--force]", about: `Revoke links for good: they are refused on the next request on every
instance, consumed ones included (their sessions are listed, for the site
to end). FILTER is --all alone, or any of --ids, --members, --batches,
--purpose, --issued-from, --issued-before, --consumed: a link must match
every flag given. Says how many outstanding links it stops; --dry-run
counts the same number and changes nothing.

A revoke that covers more than half of the outstanding links, or all of a
purpose, or --all, asks you to type its count, unless --yes. --all and
--members cover every link the store had recorded when they ran, whatever
the minting machines' clocks; --issued-from and --issued-before compare
with each link's issue time, set by the clock of the machine that minted
it, and an --issued-before later than now is refused.`,
		examples: []string{"oncelink revoke --batches invite-20261125-093000.000 --dry-run",
			"oncelink revoke --batches invite-20261125-093000.000",
			"oncelink revoke --members m-17,m-18 --actor ann@example.org",
			"oncelink revoke --all"}},
	"state": {about: `List what is in force: freezes (by an operator or the breaker) and
revocation watermarks.`,
		examples: []string{"oncelink state", "oncelink state --json"}},
	"report": {args: "--batch B | --since T [--until T]", about: `Say who was affected, for a batch or a window: every link issued, every
login, every mismatch (someone presented another member's link), every
replay (a used link presented again), with the addresses the store holds.
The affected members are those with a mismatch, a replay or a login no
identity confirmed: the people to contact. Logins confirmed with the
link's own identity are listed apart, with their sessions.`,
		examples: []string{"oncelink report --batch invite-20261125-093000.000",
			"oncelink report --batch invite-20261125-093000.000 --csv > affected.csv",
			"oncelink report --since 2026-11-25T09:00:00Z --until 2026-11-25T12:00:00Z --json"}},
	"purge": {args: "--older-than D | --before T [--dry-run] [--yes]", about: `Delete the records of links that expired before the cut-off, and the
ledger entries recorded before it. Reports cannot cover what was purged:
keep the ledger as long as an incident review may need it. Asks first,
unless --yes. Durations take days: 30d, 12h, 1d12h.`,
		examples: []string{"oncelink purge --older-than 30d --dry-run", "oncelink purge --older-than 30d"}},
	"init": {about: `Create the store, or bring it up to date: the SQLite file and its schema,
the PostgreSQL schema or MariaDB tables (migrations), the Redis control
key. Every other command opens only a store that is there. 'oncelink
migrate' is the same command.`,
		examples: []string{"oncelink --store sqlite:/var/lib/membersite/oncelink.db init",
			"oncelink --store 'redis://127.0.0.1:6379/0' init --repair"}},
}

func init() { helps["migrate"] = helps["init"] }

// printHelp writes the help of one command: usage, what it does, its flags
// and the global ones, and worked examples.
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h := helps[name]
	fmt.Fprintf(w, "usage: oncelink %s %s\n\n%s\n\nFlags:\n", name, strings.TrimSpace(h.args+" [flags]"), h.about)
	global := map[string]bool{"store": true, "json": true, "timeout": true}
	printFlags(w, fs, func(n string) bool { return !global[n] })
	fmt.Fprintln(w, "\nGlobal flags (before or after the command):")
	printFlags(w, fs, func(n string) bool { return global[n] })
	fmt.Fprintln(w, "\nExamples:")
	for _, e := range h.examples {
		fmt.Fprintf(w, "    %s\n", e)
	}
	fmt.Fprintln(w, "\nExit codes: 0 done, 1 failed, 2 usage error, 3 not confirmed, 4 matched no link.")
}

func printFlags(w io.Writer, fs *flag.FlagSet, keep func(string) bool) {
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		n++
		name, usage := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if name != "" {
			left += " " + strings.ToUpper(name)
		}
		def := ""
		if f.Name != "store" && f.Name != "actor" && f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" { // a store URL may hold a password
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  %-22s %s%s\n", left, usage, def)
	})
	if n == 0 {
		fmt.Fprintln(w, "  (none)")
	}
}
