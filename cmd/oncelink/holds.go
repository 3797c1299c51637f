package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
)

// scopeFlags are the flags of freeze and thaw.
type scopeFlags struct {
	global        bool
	batch, member string
	reason        string
	force         bool
	actor         string
}

func (c *cli) scope(name string, args []string, withReason bool) (store.Scope, string, *scopeFlags, error) {
	f := &scopeFlags{}
	err := c.flags(name, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&f.global, "global", false, "every link")
		fs.StringVar(&f.batch, "batch", "", "the links of one `batch` ('oncelink batches' lists them)")
		fs.StringVar(&f.member, "member", "", "the links of one `member` id")
		fs.BoolVar(&f.force, "force", false, "act even when the scope matches no link")
		if withReason {
			fs.StringVar(&f.reason, "reason", "", "why, recorded in the ledger (at most 1024 bytes)")
		}
		actorFlag(fs, &f.actor)
	})
	if err != nil {
		return 0, "", nil, err
	}
	n := 0
	scope, key := store.Scope(0), ""
	if f.global {
		n, scope = n+1, store.ScopeGlobal
	}
	if f.batch != "" {
		n, scope, key = n+1, store.ScopeBatch, f.batch
	}
	if f.member != "" {
		n, scope, key = n+1, store.ScopeMember, f.member
	}
	if n != 1 {
		return 0, "", nil, usagef("%s: give exactly one of --global, --batch, --member", name)
	}
	if scope != store.ScopeGlobal && !store.ValidText(key, maxKey(scope)) {
		return 0, "", nil, usagef("%s: --%s is at most %d bytes of text", name, scope, maxKey(scope))
	}
	if !store.ValidText(f.reason, store.MaxReasonLen) {
		return 0, "", nil, usagef("%s: --reason is at most %d bytes of text", name, store.MaxReasonLen)
	}
	if err := store.ValidateScopeKey(scope, key); err != nil {
		return 0, "", nil, usagef("%s: --%s: %v", name, scope, err)
	}
	return scope, key, f, nil
}

func maxKey(scope store.Scope) int {
	if scope == store.ScopeBatch {
		return store.MaxBatchLen
	}
	return store.MaxMemberLen
}

// scopeWords names a scope as the flags do.
func scopeWords(scope store.Scope, key string) string {
	if scope == store.ScopeGlobal {
		return "--global"
	}
	return "--" + scope.String() + " " + term(key)
}

func forceOpts(force bool) []admin.HoldOption {
	if force {
		return []admin.HoldOption{admin.Force()}
	}
	return nil
}

func (c *cli) freeze(ctx context.Context, args []string) error {
	scope, key, f, err := c.scope("freeze", args, true)
	if err != nil {
		return err
	}
	ctx, a, closer, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closer()
	res, err := a.Freeze(ctx, store.Hold{Scope: scope, Key: key, Reason: f.reason}, f.actor, forceOpts(f.force)...)
	if err != nil {
		return noMatch("freeze", scope, key, worded("freeze", err))
	}
	c.out(res, func(w io.Writer) {
		was := ""
		if !res.Changed {
			was = ", already frozen"
		}
		fmt.Fprintf(w, "frozen: %s%s: covers %d outstanding links (%d links in all), refused from the next request; 'oncelink thaw' lifts it\n",
			scopeWords(scope, key), was, res.Outstanding, res.Links)
	})
	return nil
}

func (c *cli) thaw(ctx context.Context, args []string) error {
	scope, key, f, err := c.scope("thaw", args, false)
	if err != nil {
		return err
	}
	ctx, a, closer, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closer()
	res, err := a.Thaw(ctx, store.Hold{Scope: scope, Key: key}, f.actor, forceOpts(f.force)...)
	if err != nil {
		return noMatch("thaw", scope, key, worded("thaw", err))
	}
	c.out(res, func(w io.Writer) {
		if !res.Changed {
			fmt.Fprintf(w, "not frozen: %s (%d outstanding links, %d usable)\n", scopeWords(scope, key), res.Outstanding, res.Usable)
			return
		}
		fmt.Fprintf(w, "thawed: %s: %d of its %d outstanding links are usable again\n", scopeWords(scope, key), res.Usable, res.Outstanding)
	})
	return nil
}

// noMatch words admin.ErrNoMatch in the flags of the command.
func noMatch(cmd string, scope store.Scope, key string, err error) error {
	if !isNoMatch(err) {
		return err
	}
	return noMatchError{fmt.Sprintf("%s: %s matches no link: nothing was done (check the name with 'oncelink batches', or --force)", cmd, scopeWords(scope, key))}
}

func (c *cli) state(ctx context.Context, args []string) error {
	if err := c.flags("state", args, func(*flag.FlagSet) {}); err != nil {
		return err
	}
	ctx, a, closer, err := c.open(ctx)
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
		fmt.Fprintln(tw, "KIND\tSCOPE\tKEY\tSINCE/COVERS\tREASON")
		for _, h := range s.Holds {
			fmt.Fprintf(tw, "freeze\t%s\t%s\t%s\t%s\n", h.Scope, term(h.Key), h.Since.Format(time.RFC3339), term(h.Reason))
		}
		for _, m := range s.Marks {
			scope := "member"
			if m.Member == "" {
				scope = "global"
			}
			covers := ""
			if m.Seq != 0 {
				covers = fmt.Sprintf("every link recorded before sequence %d", m.Seq)
			}
			if !m.Before.IsZero() {
				if covers != "" {
					covers += "; "
				}
				covers += "every link issued before " + m.Before.Format(time.RFC3339Nano)
			}
			fmt.Fprintf(tw, "watermark\t%s\t%s\t%s\t\n", scope, term(m.Member), covers)
		}
		tw.Flush()
	})
	return nil
}
