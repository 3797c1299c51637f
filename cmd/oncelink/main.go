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
	"os/user"
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
		return c.fail("", flagError("", err))
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	name, args := rest[0], rest[1:]
	if name == "help" {
		if len(args) == 0 {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		name, args = args[0], []string{"--help"}
	}
	cmds := map[string]func(context.Context, []string) error{
		"revoke": c.revoke, "freeze": c.freeze, "thaw": c.thaw, "state": c.state, "batches": c.batches,
		"report": c.report, "purge": c.purge, "init": c.initCmd("init"), "migrate": c.initCmd("migrate"),
	}
	cmd, ok := cmds[name]
	if !ok {
		return c.fail("", usagef("unknown command %q", name))
	}
	return c.fail(name, cmd(ctx, args))
}

func (c *cli) common(fs *flag.FlagSet) {
	fs.StringVar(&c.storeURL, "store", c.storeURL, "the store, a `URL`: sqlite:PATH, postgres://..., mysql://..., redis://... (or $ONCELINK_STORE)")
	fs.BoolVar(&c.json, "json", c.json, "write JSON for scripts")
	fs.Var(durationFlag{&c.timeout}, "timeout", "give up after this `duration` (30s, 5m, 1h)")
}

// actorFlag defines --actor: who acts, for the ledger.
func actorFlag(fs *flag.FlagSet, actor *string) {
	*actor = defaultActor()
	fs.StringVar(actor, "actor", *actor, "who is acting, a `name` recorded in the ledger with the action: $ONCELINK_ACTOR, or your login name, unless given")
}

// flags parses a command's flags, accepting the global ones too.
func (c *cli) flags(name string, args []string, define func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.common(fs)
	define(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(c.stdout, name, fs)
			return errHelpShown
		}
		return suggest(fs, flagError(name, err))
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", name, fs.Arg(0))
	}
	if c.timeout <= 0 {
		return usagef("%s: --timeout must be positive", name)
	}
	if f := fs.Lookup("actor"); f != nil {
		if a := f.Value.String(); a == "" || !store.ValidText(a, store.MaxMemberLen) {
			return usagef("%s: --actor must name who is acting, in at most %d bytes of text", name, store.MaxMemberLen)
		}
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
			return nil, nil, nil, noStore(where, err)
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

// defaultActor is who acts when --actor is not given: $ONCELINK_ACTOR, or
// the operating system's user.
func defaultActor() string {
	if s := os.Getenv("ONCELINK_ACTOR"); s != "" {
		return s
	}
	return currentUser()
}

// currentUser is the name of the operating system's user (os/user), or
// $USER when it cannot say; under sudo, the user who ran sudo.
func currentUser() string {
	if s := os.Getenv("SUDO_USER"); s != "" {
		return s
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
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
		return fmt.Errorf("%q is not an RFC 3339 time: write it as 2026-11-25T09:00:00Z", s)
	}
	*f.t = t
	return nil
}

// initCmd creates the store, or brings it up to date: init, and migrate.
func (c *cli) initCmd(name string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error { return c.init(ctx, name, args) }
}

func (c *cli) init(ctx context.Context, name string, args []string) error {
	var repair bool
	if err := c.flags(name, args, func(fs *flag.FlagSet) {
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
