package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/internal/storeurl"
	"github.com/oncelink/oncelink/store"
)

// Exit codes.
const (
	exitOK           = 0
	exitFailed       = 1
	exitUsage        = 2
	exitNotConfirmed = 3
)

// ConfirmPhrase must be typed to revoke everything without --yes.
const confirmPhrase = "revoke everything"

const usage = `usage: oncelink [--store URL] [--json] COMMAND [flags]

Commands:
  revoke    revoke links (--all, --ids, --members, --batches, --purpose,
            --issued-from, --issued-before, --consumed), --dry-run first
  freeze    stop logins, reversibly (--global, --batch B, --member M)
  thaw      lift a freeze (--global, --batch B, --member M)
  state     list freezes and watermarks in force
  report    who was affected (--batch B, --since T, --until T), --csv or --json
  purge     delete records that expired and ledger entries older than a
            cut-off (--older-than 720h or --before T), --dry-run first
  migrate   apply the PostgreSQL or MariaDB migrations

The store URL is --store or $ONCELINK_STORE: sqlite:PATH, postgres://...,
mysql://..., redis://... Times are RFC 3339 (2026-11-25T09:00:00Z).
Exit codes: 0 done, 1 failed, 2 usage error, 3 not confirmed.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli holds one invocation.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	storeURL       string
	json           bool
}

// usageError is a mistake in the command line: exit 2, nothing done.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

var errNotConfirmed = errors.New("not confirmed: nothing was done")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, storeURL: os.Getenv("ONCELINK_STORE")}
	global := flag.NewFlagSet("oncelink", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	c.common(global)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		return c.fail(usagef("%v", err))
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmds := map[string]func(context.Context, []string) error{
		"revoke": c.revoke, "freeze": c.freeze, "thaw": c.thaw, "state": c.state,
		"report": c.report, "purge": c.purge, "migrate": c.migrate,
	}
	cmd, ok := cmds[rest[0]]
	if !ok {
		if rest[0] == "help" {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		return c.fail(usagef("unknown command %q", rest[0]))
	}
	return c.fail(cmd(ctx, rest[1:]))
}

func (c *cli) common(fs *flag.FlagSet) {
	fs.StringVar(&c.storeURL, "store", c.storeURL, "store URL (or $ONCELINK_STORE)")
	fs.BoolVar(&c.json, "json", c.json, "write JSON for machines")
}

func (c *cli) fail(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.Is(err, admin.ErrRequest), errors.Is(err, store.ErrInvalid), errors.Is(err, storeurl.ErrURL):
		fmt.Fprintln(c.stderr, "oncelink:", err)
		fmt.Fprintln(c.stderr, "run 'oncelink help' for usage")
		return exitUsage
	case errors.Is(err, errNotConfirmed):
		fmt.Fprintln(c.stderr, "oncelink:", err)
		return exitNotConfirmed
	}
	fmt.Fprintln(c.stderr, "oncelink:", err)
	return exitFailed
}

// flags parses a command's flags, accepting the global ones too.
func (c *cli) flags(name string, args []string, define func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.common(fs)
	define(fs)
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", name, err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", name, fs.Arg(0))
	}
	return nil
}

func (c *cli) open(ctx context.Context, migrate bool) (*admin.Admin, func() error, error) {
	if c.storeURL == "" {
		return nil, nil, usagef("no store: pass --store URL or set ONCELINK_STORE")
	}
	st, closer, err := storeurl.Open(ctx, c.storeURL, storeurl.Options{Migrate: migrate})
	if err != nil {
		return nil, nil, fmt.Errorf("opening the store: %w", err)
	}
	a, err := admin.New(st)
	if err != nil {
		closer()
		return nil, nil, err
	}
	return a, closer, nil
}

// confirm asks the operator to type phrase; anything else, or no answer,
// returns errNotConfirmed.
func (c *cli) confirm(warning, phrase string) error {
	fmt.Fprintf(c.stderr, "%s\nType %q to confirm: ", warning, phrase)
	line, _ := bufio.NewReader(c.stdin).ReadString('\n')
	if strings.TrimSpace(line) != phrase {
		fmt.Fprintln(c.stderr)
		return errNotConfirmed
	}
	return nil
}

func (c *cli) out(v any, human func(w io.Writer)) {
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(v)
		return
	}
	human(c.stdout)
}

func actorName() string {
	for _, v := range []string{"ONCELINK_ACTOR", "SUDO_USER", "USER"} {
		if s := os.Getenv(v); s != "" {
			return "cli:" + s
		}
	}
	return "cli"
}

// list is a comma-separated flag value.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// timeFlag is an RFC 3339 time flag value.
type timeFlag struct{ t *time.Time }

func (f timeFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}
func (f timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("not an RFC 3339 time: %q", s)
	}
	*f.t = t
	return nil
}

func (c *cli) revoke(ctx context.Context, args []string) error {
	var f store.Filter
	var ids, members, batches list
	var dry, yes bool
	actor := actorName()
	err := c.flags("revoke", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&f.All, "all", false, "every link (a watermark); asks for confirmation")
		fs.Var(&ids, "ids", "token ids, comma-separated")
		fs.Var(&members, "members", "member ids, comma-separated")
		fs.Var(&batches, "batches", "batch ids, comma-separated")
		fs.StringVar(&f.Purpose, "purpose", "", "links of this purpose")
		fs.Var(timeFlag{&f.IssuedFrom}, "issued-from", "links issued at or after this time")
		fs.Var(timeFlag{&f.IssuedBefore}, "issued-before", "links issued before this time")
		fs.BoolVar(&f.Consumed, "consumed", false, "only links that were consumed")
		fs.BoolVar(&dry, "dry-run", false, "count what would be revoked; change nothing")
		fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
		fs.StringVar(&actor, "actor", actor, "who is acting, for the ledger")
	})
	if err != nil {
		return err
	}
	f.IDs, f.Members, f.Batches = ids, members, batches
	if err := f.Validate(); err != nil {
		return usagef("revoke: %v", err)
	}
	a, closer, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer closer()
	p, err := a.Preview(ctx, f)
	if err != nil {
		return err
	}
	if dry {
		c.out(p, func(w io.Writer) {
			fmt.Fprintf(w, "would revoke: %d links match", p.Matching)
			if p.Consumed > 0 {
				fmt.Fprintf(w, " (%d consumed: their sessions must end)", p.Consumed)
			}
			if p.Watermark {
				fmt.Fprint(w, "; applied as a watermark")
			}
			fmt.Fprintln(w)
		})
		return nil
	}
	if everything(f) && !yes {
		if err := c.confirm(fmt.Sprintf("This revokes EVERY link issued so far (%d records, %d consumed).", p.Matching, p.Consumed), confirmPhrase); err != nil {
			return err
		}
	}
	res, err := a.Revoke(ctx, f, actor)
	if err != nil {
		return err
	}
	c.out(res, func(w io.Writer) {
		if !res.Watermark.IsZero() {
			who := "every member"
			if len(res.Members) > 0 {
				who = strings.Join(res.Members, ", ")
			}
			fmt.Fprintf(w, "revoked: every link of %s issued before %s (watermark; %d records matched)\n", who, res.Watermark.Format(time.RFC3339Nano), p.Matching)
		} else {
			fmt.Fprintf(w, "revoked: %d links\n", res.Revoked)
		}
		if len(res.Sessions) > 0 {
			fmt.Fprintf(w, "sessions opened by these links, which the site must end (%d):\n", len(res.Sessions))
			for _, s := range res.Sessions {
				fmt.Fprintf(w, "  %s\n", s)
			}
		}
	})
	return nil
}

// everything reports whether f revokes every link issued so far.
func everything(f store.Filter) bool {
	rest := f
	rest.IssuedBefore = time.Time{}
	return f.All || (rest.IsEmpty() && !f.IssuedBefore.IsZero())
}

func (c *cli) scope(name string, args []string, reason *string) (store.Scope, string, error) {
	var global bool
	var batch, member string
	err := c.flags(name, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&global, "global", false, "every link")
		fs.StringVar(&batch, "batch", "", "the links of one batch")
		fs.StringVar(&member, "member", "", "the links of one member")
		if reason != nil {
			fs.StringVar(reason, "reason", "", "why, for the ledger")
		}
	})
	if err != nil {
		return 0, "", err
	}
	n := 0
	scope, key := store.Scope(0), ""
	if global {
		n, scope = n+1, store.ScopeGlobal
	}
	if batch != "" {
		n, scope, key = n+1, store.ScopeBatch, batch
	}
	if member != "" {
		n, scope, key = n+1, store.ScopeMember, member
	}
	if n != 1 {
		return 0, "", usagef("%s: give exactly one of --global, --batch, --member", name)
	}
	return scope, key, nil
}

func (c *cli) freeze(ctx context.Context, args []string) error {
	var reason string
	scope, key, err := c.scope("freeze", args, &reason)
	if err != nil {
		return err
	}
	a, closer, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer closer()
	if err := a.Freeze(ctx, scope, key, reason, actorName()); err != nil {
		return err
	}
	c.out(map[string]any{"frozen": true, "scope": scope.String(), "key": key}, func(w io.Writer) {
		fmt.Fprintf(w, "frozen: %s %s (links refused from the next request; 'oncelink thaw' lifts it)\n", scope, key)
	})
	return nil
}

func (c *cli) thaw(ctx context.Context, args []string) error {
	scope, key, err := c.scope("thaw", args, nil)
	if err != nil {
		return err
	}
	a, closer, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer closer()
	ok, err := a.Thaw(ctx, scope, key, actorName())
	if err != nil {
		return err
	}
	c.out(map[string]any{"thawed": ok, "scope": scope.String(), "key": key}, func(w io.Writer) {
		if ok {
			fmt.Fprintf(w, "thawed: %s %s\n", scope, key)
		} else {
			fmt.Fprintf(w, "not frozen: %s %s\n", scope, key)
		}
	})
	return nil
}

func (c *cli) state(ctx context.Context, args []string) error {
	if err := c.flags("state", args, func(*flag.FlagSet) {}); err != nil {
		return err
	}
	a, closer, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer closer()
	s, err := a.State(ctx)
	if err != nil {
		return err
	}
	c.out(s, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tSCOPE\tKEY\tSINCE/BEFORE\tREASON")
		for _, h := range s.Holds {
			fmt.Fprintf(tw, "freeze\t%s\t%s\t%s\t%s\n", h.Scope, h.Key, h.Since.Format(time.RFC3339), h.Reason)
		}
		for _, m := range s.Marks {
			scope := "member"
			if m.Member == "" {
				scope = "global"
			}
			fmt.Fprintf(tw, "watermark\t%s\t%s\t%s\t\n", scope, m.Member, m.Before.Format(time.RFC3339Nano))
		}
		tw.Flush()
	})
	return nil
}

func (c *cli) report(ctx context.Context, args []string) error {
	var q admin.ReportQuery
	var asCSV bool
	err := c.flags("report", args, func(fs *flag.FlagSet) {
		fs.StringVar(&q.Batch, "batch", "", "one batch")
		fs.Var(timeFlag{&q.Since}, "since", "from this time")
		fs.Var(timeFlag{&q.Until}, "until", "up to this time")
		fs.BoolVar(&asCSV, "csv", false, "write CSV, one row per event")
	})
	if err != nil {
		return err
	}
	if q.Batch == "" && q.Since.IsZero() && q.Until.IsZero() {
		return usagef("report: give --batch, or --since and/or --until")
	}
	a, closer, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer closer()
	rep, err := a.Report(ctx, q)
	if err != nil {
		return err
	}
	if asCSV {
		return rep.WriteCSV(c.stdout)
	}
	c.out(rep, func(w io.Writer) {
		fmt.Fprintf(w, "links issued: %d, consumed: %d, identity mismatches: %d\n", rep.Issued, rep.Consumed, rep.Mismatches)
		fmt.Fprintf(w, "affected members (%d):\n", len(rep.Affected))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  MEMBER\tLINK\tSTATUS\tCONSUMED BY\tFROM\tSESSION\tREFUSALS")
		for _, m := range rep.Members {
			if !m.Affected {
				continue
			}
			for _, l := range m.Links {
				by, from, sess := "", "", ""
				if l.ConsumedBy != nil {
					by, from, sess = l.ConsumedBy.Identity, l.ConsumedBy.IP, l.ConsumedBy.Session
				}
				var refusals []string
				for _, r := range l.Refusals {
					refusals = append(refusals, r.Reason+" "+r.Identity)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Member, l.TokenID, l.Status, by, from, sess, strings.Join(refusals, "; "))
			}
		}
		tw.Flush()
		if len(rep.Sessions) > 0 {
			fmt.Fprintf(w, "sessions opened by these links (%d):\n", len(rep.Sessions))
			for _, s := range rep.Sessions {
				fmt.Fprintf(w, "  %s\n", s)
			}
		}
	})
	return nil
}

func (c *cli) purge(ctx context.Context, args []string) error {
	var before time.Time
	var olderThan time.Duration
	var dry, yes bool
	err := c.flags("purge", args, func(fs *flag.FlagSet) {
		fs.Var(timeFlag{&before}, "before", "delete what expired, and ledger entries recorded, before this time")
		fs.DurationVar(&olderThan, "older-than", 0, "the same, relative to now (720h = 30 days)")
		fs.BoolVar(&dry, "dry-run", false, "count what would be deleted; change nothing")
		fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	})
	if err != nil {
		return err
	}
	switch {
	case before.IsZero() == (olderThan == 0):
		return usagef("purge: give exactly one of --before or --older-than")
	case olderThan < 0:
		return usagef("purge: --older-than must be positive")
	case olderThan > 0:
		before = time.Now().Add(-olderThan)
	}
	if before.After(time.Now()) {
		return usagef("purge: the cut-off is in the future")
	}
	a, closer, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer closer()
	if dry {
		n, err := a.Store().Count(ctx, store.Filter{IssuedBefore: before})
		if err != nil {
			return err
		}
		c.out(map[string]any{"before": before, "issued_before": n}, func(w io.Writer) {
			fmt.Fprintf(w, "would purge records that expired before %s (at most %d links were issued before it) and the ledger entries recorded before it\n", before.Format(time.RFC3339), n)
		})
		return nil
	}
	if !yes {
		if err := c.confirm(fmt.Sprintf("This deletes records and ledger entries older than %s: reports cannot cover them afterwards.", before.Format(time.RFC3339)), "purge"); err != nil {
			return err
		}
	}
	n, err := a.Purge(ctx, before, actorName())
	if err != nil {
		return err
	}
	c.out(map[string]any{"purged": n, "before": before}, func(w io.Writer) {
		fmt.Fprintf(w, "purged: %d records\n", n)
	})
	return nil
}

func (c *cli) migrate(ctx context.Context, args []string) error {
	if err := c.flags("migrate", args, func(*flag.FlagSet) {}); err != nil {
		return err
	}
	_, closer, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer closer()
	c.out(map[string]any{"migrated": true}, func(w io.Writer) { fmt.Fprintln(w, "migrated") })
	return nil
}
