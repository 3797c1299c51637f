package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
)

func (c *cli) batches(ctx context.Context, args []string) error {
	if err := c.flags("batches", args, func(*flag.FlagSet) {}); err != nil {
		return err
	}
	ctx, a, closer, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closer()
	bs, err := a.Batches(ctx)
	if err != nil {
		return err
	}
	c.out(map[string]any{"batches": bs}, func(w io.Writer) {
		if len(bs) == 0 {
			fmt.Fprintln(w, "no batch: the store holds no link minted in a batch")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BATCH\tFIRST ISSUED\tLAST ISSUED\tLINKS\tUSABLE\tFROZEN\tCONSUMED\tREVOKED\tEXPIRED\tREFUSED\tHELD")
		for _, b := range bs {
			held := ""
			if b.Held {
				held = "frozen"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", term(b.Batch),
				b.FirstIssued.Format(time.RFC3339), b.LastIssued.Format(time.RFC3339),
				b.Links, b.Issued, b.Frozen, b.Consumed, b.Revoked, b.Expired, b.Refused, held)
		}
		tw.Flush()
		fmt.Fprintln(w, "issue times are the minting machine's clock")
	})
	return nil
}

func (c *cli) report(ctx context.Context, args []string) error {
	var q admin.ReportQuery
	var asCSV bool
	err := c.flags("report", args, func(fs *flag.FlagSet) {
		fs.StringVar(&q.Batch, "batch", "", "one `batch`, as 'oncelink batches' lists them")
		fs.Var(timeFlag{&q.Since}, "since", "from this `time` (RFC 3339)")
		fs.Var(timeFlag{&q.Until}, "until", "up to this `time` (RFC 3339)")
		fs.BoolVar(&asCSV, "csv", false, "write CSV, one row per event of each link")
	})
	if err != nil {
		return err
	}
	if q.Batch == "" && q.Since.IsZero() && q.Until.IsZero() {
		return usagef("report: give --batch, or --since and/or --until")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return usagef("report: --until must be after --since")
	}
	ctx, a, closer, err := c.open(ctx)
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
	c.out(rep, func(w io.Writer) { printReport(w, rep) })
	return nil
}

// printReport writes a report for a person to read: the counts, the
// members to contact with their addresses, then the mismatches, replays and
// logins, one line each; every text from the store is escaped for the
// terminal.
func printReport(w io.Writer, rep *admin.Report) {
	n := rep.Counts
	fmt.Fprintf(w, "links issued: %d; logins: %d confirmed, %d with no identity confirmed; mismatches: %d; replays: %d; refused in all: %d\n",
		n.Issued, n.Logins, n.UnconfirmedLogins, n.Mismatches, n.Replays, n.Refused)
	fmt.Fprintf(w, "\naffected members, to contact (%d): a mismatch, a replay, or a login no identity confirmed\n", len(rep.Affected))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  MEMBER\tADDRESSES\tMISMATCHES\tREPLAYS\tUNCONFIRMED LOGINS\tPRESENTED BY")
	for _, a := range rep.Affected {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%s\n", term(a.Member), term(strings.Join(a.Addresses, ", ")),
			a.Mismatches, a.Replays, a.UnconfirmedLogins, term(strings.Join(a.PresentedBy, ", ")))
	}
	tw.Flush()
	uses := func(title string, us []admin.Use) {
		fmt.Fprintf(w, "\n%s (%d):\n", title, len(us))
		if len(us) == 0 {
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  AT\tMEMBER\tADDRESS\tLINK\tPRESENTED AS\tFROM\tUSER AGENT\tSESSION")
		for _, u := range us {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.At.UTC().Format(time.RFC3339), term(u.Member), term(u.Address), u.TokenID,
				term(u.Presented.Identity), term(u.Presented.IP), term(u.Presented.UserAgent), term(u.Presented.Session))
		}
		tw.Flush()
	}
	uses("mismatches: someone presented another member's link", rep.Mismatches)
	uses("replays: a used link presented again", rep.Replays)
	uses("logins: links consumed (PRESENTED AS empty: no identity confirmed)", rep.Logins)
	if len(rep.Sessions) > 0 {
		fmt.Fprintf(w, "\nsessions opened by these links (%d):\n", len(rep.Sessions))
		for _, s := range rep.Sessions {
			fmt.Fprintf(w, "  %s\n", term(s))
		}
	}
}

func (c *cli) purge(ctx context.Context, args []string) error {
	var before time.Time
	var olderThan time.Duration
	var dry, yes bool
	var actor string
	err := c.flags("purge", args, func(fs *flag.FlagSet) {
		fs.Var(timeFlag{&before}, "before", "delete what expired, and ledger entries recorded, before this `time` (RFC 3339)")
		fs.Var(durationFlag{&olderThan}, "older-than", "the same, this `duration` before now: 30d, 12h, 1d12h")
		fs.BoolVar(&dry, "dry-run", false, "count what would be deleted; change nothing")
		fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
		actorFlag(fs, &actor)
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
	ctx, a, closer, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closer()
	if dry {
		p, err := a.Preview(ctx, store.Filter{IssuedBefore: before})
		if err != nil {
			return err
		}
		n := p.Matching
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
	n, err := a.Purge(ctx, before, actor)
	if err != nil {
		return err
	}
	c.out(map[string]any{"purged": n, "before": before}, func(w io.Writer) {
		fmt.Fprintf(w, "purged: %d records\n", n)
	})
	return nil
}
