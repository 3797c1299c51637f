package main

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/storeurl"
)

// usageError is a mistake in the command line: exit 2, nothing done. cmd
// names the command whose help the message points at, "" for the general
// usage.
type usageError struct{ cmd, msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{msg: fmt.Sprintf(format, a...)} }

// noMatchError is an action whose scope matches no link: exit 4.
type noMatchError struct{ msg string }

func (e noMatchError) Error() string { return e.msg }

// errHelpShown: the command's help was printed, as asked: exit 0.
var errHelpShown = errors.New("help shown")

var errNotConfirmed = errors.New("not confirmed: nothing was done")

// wordedError says err in the words of the flags and commands; errors.Is
// and errors.As still see err.
type wordedError struct {
	msg string
	err error
}

func (e *wordedError) Error() string { return e.msg }
func (e *wordedError) Unwrap() error { return e.err }

// flagError says an error of the flag package in the words the operator
// typed: --name, not -name, and no "parse error".
func flagError(cmd string, err error) error {
	msg := err.Error()
	var m []string
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: "):
		msg = "unknown flag -" + strings.TrimPrefix(msg, "flag provided but not defined: ")
	case strings.HasPrefix(msg, "flag needs an argument: "):
		msg = "-" + strings.TrimPrefix(msg, "flag needs an argument: ") + " needs a value"
	case func() bool { m = invalidValue.FindStringSubmatch(msg); return m != nil }():
		if strings.HasPrefix(m[0], "invalid boolean") {
			msg = fmt.Sprintf("--%s takes no value (or --%s=true, --%s=false), not %s", m[2], m[2], m[2], m[1])
		} else {
			msg = fmt.Sprintf("--%s: %s", m[2], m[3])
		}
	}
	msg = strings.ReplaceAll(msg, " -", " --")
	msg = strings.ReplaceAll(msg, "---", "--")
	if cmd == "" {
		return usageError{msg: msg}
	}
	return usageError{cmd: cmd, msg: cmd + ": " + msg}
}

// suggest adds the flag an unknown one was probably meant to be: --batch
// for revoke's --batches, say.
func suggest(fs *flag.FlagSet, err error) error {
	ue, ok := err.(usageError)
	_, typed, found := strings.Cut(ue.msg, "unknown flag --")
	if !ok || !found {
		return err
	}
	var near []string
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, typed) || strings.HasPrefix(typed, f.Name) || strings.TrimSuffix(f.Name, "s") == strings.TrimSuffix(typed, "s") {
			near = append(near, "--"+f.Name)
		}
	})
	if len(near) > 0 {
		ue.msg += " (did you mean " + strings.Join(near, " or ") + "?)"
	}
	return ue
}

var invalidValue = regexp.MustCompile(`^invalid (?:boolean )?value ("[^"]*") for (?:flag )?-([a-z-]+): ?(.*)$`)

// noStore words a store that is not there.
func noStore(where string, err error) error {
	detail := err.Error()
	for _, prefix := range []string{store.ErrUnavailable.Error() + ": ", store.ErrNoStore.Error() + ": "} {
		detail = strings.ReplaceAll(detail, prefix, "")
	}
	detail = strings.ReplaceAll(detail, " (call Migrate)", "")
	return &wordedError{err: err, msg: fmt.Sprintf("no oncelink store at %s (%s): check --store or $ONCELINK_STORE; "+
		"'oncelink init' creates it, or brings an older one up to date", where, detail)}
}

// worded says an error of the admin layer in the words of the command.
func worded(cmd string, err error) error {
	var ce *admin.ConfirmError
	switch {
	case errors.As(err, &ce):
		return &wordedError{err: err, msg: fmt.Sprintf("%s: the links it covers changed since you confirmed (now %d outstanding): nothing was done; run it again", cmd, ce.Preview.Confirm)}
	case errors.Is(err, store.ErrUnsupported):
		return &wordedError{err: err, msg: fmt.Sprintf("%s: this store cannot do it (%v)", cmd, err)}
	}
	return err
}

func (c *cli) fail(cmd string, err error) int {
	var ue usageError
	var nm noMatchError
	var ce *admin.ConfirmError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &ue), errors.Is(err, admin.ErrRequest), errors.Is(err, store.ErrInvalid), errors.Is(err, storeurl.ErrURL):
		fmt.Fprintln(c.stderr, "oncelink:", err)
		if ue.cmd != "" {
			cmd = ue.cmd
		}
		if cmd != "" {
			fmt.Fprintf(c.stderr, "run 'oncelink %s --help' for its flags and an example\n", cmd)
		} else {
			fmt.Fprintln(c.stderr, "run 'oncelink help' for usage")
		}
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
