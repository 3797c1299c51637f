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

// printReport writes the affected members of a report for a person to
// read; every text from the store is escaped for the terminal.
func printReport(w io.Writer, rep *admin.Report) {
	fmt.Fprintf(w, "links issued: %d, consumed: %d, identity mismatches: %d\n", rep.Issued, rep.Consumed, rep.Mismatches)
	fmt.Fprintf(w, "affected members (%d):\n", len(rep.Affected))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  MEMBER\tLINK\tSTATUS\tCONSUMED BY\tFROM\tUSER AGENT\tSESSION\tREFUSALS")
	for _, m := range rep.Members {
		if !m.Affected {
			continue
		}
		for _, l := range m.Links {
			var by store.Presentation
			if l.ConsumedBy != nil {
				by = *l.ConsumedBy
			}
			var refusals []string
			for _, r := range l.Refusals {
				refusals = append(refusals, term(r.Reason+" "+r.Identity+" from "+r.IP+" ("+r.UserAgent+")"))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", term(m.Member), l.TokenID, l.Status,
				term(by.Identity), term(by.IP), term(by.UserAgent), term(by.Session), strings.Join(refusals, "; "))
		}
	}
	tw.Flush()
	if len(rep.Sessions) > 0 {
		fmt.Fprintf(w, "sessions opened by these links (%d):\n", len(rep.Sessions))
		for _, s := range rep.Sessions {
			fmt.Fprintf(w, "  %s\n", term(s))
		}
	}
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
	n, err := a.Purge(ctx, before, actorName())
	if err != nil {
		return err
	}
	c.out(map[string]any{"purged": n, "before": before}, func(w io.Writer) {
		fmt.Fprintf(w, "purged: %d records\n", n)
	})
	return nil
}
