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
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/storeurl"
)

// Exit codes.
const (
	exitOK           = 0
	exitFailed       = 1
	exitUsage        = 2
	exitNotConfirmed = 3
	exitNoMatch      = 4
)

const usage = `usage: oncelink [--store URL] [--json] [--timeout D] COMMAND [flags]

Commands:
  batches   list the batches sent, with their links by state and refusals
  freeze    stop logins, reversibly (--global, --batch B, --member M)
  thaw      lift a freeze (--global, --batch B, --member M)
  revoke    revoke links (--all, --ids, --members, --batches, --purpose,
            --issued-from, --issued-before, --consumed), --dry-run first
  state     list freezes and watermarks in force
  report    who was affected (--batch B, --since T, --until T), --csv or --json
  purge     delete records that expired and ledger entries older than a
            cut-off (--older-than 720h or --before T), --dry-run first
  init      create the store, or bring it up to date: the SQLite file, the
            PostgreSQL or MariaDB migrations (--repair: a Redis store that
            lost its control key); migrate is the same command

The store URL is --store or $ONCELINK_STORE: sqlite:PATH, postgres://...,
mysql://..., redis://... Every command but init opens an existing store and
creates nothing. Times are RFC 3339 (2026-11-25T09:00:00Z).

Every freeze, thaw and revoke says how many links it covers, and refuses a
scope that matches no link (exit 4) unless --force. A revoke that covers
more than half of the outstanding links, or all of a purpose, or --all, asks
you to type its count unless --yes.

revoke --all and revoke --members cover every link the store had recorded
when they ran, whatever the clocks of the machines that minted them;
--issued-from and --issued-before compare with each link's issue time, set
by the clock of the machine that minted it.

Exit codes: 0 done, 1 failed, 2 usage error, 3 not confirmed, 4 matched no
link (nothing was done in cases 2 to 4).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli holds one invocation.
type cli struct {
	stdin          *bufio.Reader
	stdout, stderr io.Writer
	storeURL       string
	json           bool
	timeout        time.Duration
}

// usageError is a mistake in the command line: exit 2, nothing done.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// noMatchError is an action whose scope matches no link: exit 4.
type noMatchError struct{ msg string }

func (e noMatchError) Error() string { return e.msg }

var errNotConfirmed = errors.New("not confirmed: nothing was done")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: bufio.NewReader(stdin), stdout: stdout, stderr: stderr, storeURL: os.Getenv("ONCELINK_STORE"), timeout: 5 * time.Minute}
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
		"revoke": c.revoke, "freeze": c.freeze, "thaw": c.thaw, "state": c.state, "batches": c.batches,
		"report": c.report, "purge": c.purge, "init": c.init, "migrate": c.init,
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
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "give up after this long")
}

func (c *cli) fail(err error) int {
	var ue usageError
	var nm noMatchError
	var ce *admin.ConfirmError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.Is(err, admin.ErrRequest), errors.Is(err, store.ErrInvalid), errors.Is(err, storeurl.ErrURL):
		fmt.Fprintln(c.stderr, "oncelink:", err)
		fmt.Fprintln(c.stderr, "run 'oncelink help' for usage")
		return exitUsage
	case errors.As(err, &nm), errors.Is(err, admin.ErrNoMatch):
		fmt.Fprintln(c.stderr, "oncelink:", err)
		return exitNoMatch
	case errors.Is(err, errNotConfirmed), errors.As(err, &ce):
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
	if c.timeout <= 0 {
		return usagef("%s: --timeout must be positive", name)
	}
	return nil
}

// open opens the store, an existing one only unless o.Create, and bounds
// the command by --timeout.
func (c *cli) open(ctx context.Context, opts ...storeurl.Option) (context.Context, *admin.Admin, func(), error) {
	if c.storeURL == "" {
		return nil, nil, nil, usagef("no store: pass --store URL or set ONCELINK_STORE")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	st, closer, err := storeurl.Open(ctx, c.storeURL, opts...)
	if err != nil {
		cancel()
		where := storeurl.Redact(c.storeURL)
		if errors.Is(err, store.ErrNoStore) {
			return nil, nil, nil, fmt.Errorf("no oncelink store at %s (%w): check --store or $ONCELINK_STORE, or create one with 'oncelink init'", where, err)
		}
		return nil, nil, nil, fmt.Errorf("opening the store at %s: %w", where, err)
	}
	a, err := admin.New(st)
	if err != nil {
		closer()
		cancel()
		return nil, nil, nil, err
	}
	return ctx, a, func() { closer(); cancel() }, nil
}

// confirm asks the operator to type phrase; anything else, or no answer,
// returns errNotConfirmed.
func (c *cli) confirm(warning, phrase string) error {
	fmt.Fprintf(c.stderr, "%s\nType %q to confirm: ", warning, phrase)
	line, _ := c.stdin.ReadString('\n')
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

// init creates the store, or brings it up to date.
func (c *cli) init(ctx context.Context, args []string) error {
	var repair bool
	if err := c.flags("init", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&repair, "repair", false, "reopen a Redis store whose control key was lost: revokes every link recorded before")
	}); err != nil {
		return err
	}
	opts := []storeurl.Option{storeurl.WithCreate()}
	if repair {
		opts = append(opts, storeurl.WithRepair())
	}
	ctx, a, closer, err := c.open(ctx, opts...)
	if err != nil {
		return err
	}
	defer closer()
	s, err := a.State(ctx)
	if err != nil {
		return err
	}
	where := storeurl.Redact(c.storeURL)
	c.out(map[string]any{"ready": true, "store": where, "holds": len(s.Holds), "watermarks": len(s.Marks)}, func(w io.Writer) {
		fmt.Fprintf(w, "ready: %s (%d freezes, %d watermarks in force)\n", term(where), len(s.Holds), len(s.Marks))
	})
	return nil
}
