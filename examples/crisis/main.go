package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/oncelink/oncelink/storeurl"
	"github.com/oncelink/oncelink/token"
)

func main() {
	var c config
	flag.IntVar(&c.members, "members", 18000, "members to invite")
	flag.IntVar(&c.size, "batch", 10, "messages per mail batch")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the members' clicks")
	flag.StringVar(&c.store, "store", os.Getenv("ONCELINK_STORE"), "store URL (default: SQLite in a temporary directory)")
	flag.StringVar(&c.svg, "svg", filepath.Join(os.TempDir(), "oncelink-crisis.svg"),
		"where to write the plot of the day with oncelink (the day without goes beside it, -incident.svg)")
	flag.Parse()
	if c.store == "" {
		dir, err := os.MkdirTemp("", "oncelink-crisis")
		if err != nil {
			fmt.Fprintln(os.Stderr, "crisis:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		c.store = "sqlite:" + filepath.Join(dir, "crisis.db")
	}
	if _, err := run(context.Background(), os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "crisis:", err)
		os.Exit(1)
	}
}

type config struct {
	members, size int
	seed          uint64
	store         string
	svg           string // the plot of the day with oncelink; "" writes none
}

// Summary is the replay: the day as it happened, the send guard on the
// same send and on a correct one, and the day with oncelink had the send
// gone out past the guard.
type Summary struct {
	Incident         *Day
	Guarded, Correct Outcome
	Oncelink         *Day
	// Plots is the SVG files written: the day without, the day with.
	Plots []string
}

func run(ctx context.Context, w io.Writer, c config) (*Summary, error) {
	st, closeStore, err := storeurl.Open(ctx, c.store, storeurl.WithCreate())
	if err != nil {
		return nil, err
	}
	defer closeStore()
	key, err := token.GenerateHMACKey("crisis")
	if err != nil {
		return nil, err
	}
	keys, err := token.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	e := &env{st: st, clk: &clock{t: dayStart}, members: newMembers(c.members, runTag()), size: c.size}
	e.iss, err = token.NewIssuer(keys, st, token.WithBaseURL("https://members.union.example/login"), token.WithClock(e.clk.Now))
	if err != nil {
		return nil, err
	}
	if e.parser, err = e.iss.Parser(); err != nil {
		return nil, err
	}
	e.clicks = plan(c.seed, c.members, c.size)
	fmt.Fprintf(w, "oncelink crisis replay: %d members, links mailed in batches of %d through a reused mail object (store: %s)\n",
		c.members, c.size, storeurl.Redact(c.store))
	fmt.Fprintf(w, "simulated clock from %s; one batch every %v; %.0f%% of members click, median %v after delivery (seed %d)\n\n",
		dayStart.Format("Mon 2 Jan 2006 15:04 MST"), batchEvery, clickShare*100, clickMedian, c.seed)

	var sum Summary
	if sum.Incident, err = e.day(ctx, "incident", false); err != nil {
		return nil, err
	}
	printIncident(w, sum.Incident)

	e.clk.set(dayStart)
	if sum.Guarded, err = send(ctx, e.iss, e.parser, st, e.members, c.size, "guarded", true, true); err != nil {
		return nil, err
	}
	if sum.Correct, err = send(ctx, e.iss, e.parser, st, e.members, c.size, "correct", false, true); err != nil {
		return nil, err
	}
	printGuard(w, &sum)

	if sum.Oncelink, err = e.day(ctx, "oncelink", true); err != nil {
		return nil, err
	}
	printOncelink(w, sum.Oncelink)
	printComparison(w, &sum)
	if c.svg != "" {
		sum.Plots = []string{strings.TrimSuffix(c.svg, ".svg") + "-incident.svg", c.svg}
		for i, d := range []*Day{sum.Incident, sum.Oncelink} {
			if err := writeSVG(sum.Plots[i], d); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(w, "\nthe console's plot of each day (admin.Timeline): %s, %s\n", sum.Plots[0], sum.Plots[1])
	}
	return &sum, nil
}

// writeSVG writes the plot of a day's timeline to path.
func writeSVG(path string, d *Day) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := d.Timeline.WriteSVG(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runTag names one run of the replay: the tail of a new batch id (the
// random part of a UUIDv7).
func runTag() string {
	id := token.NewBatchID()
	return "r" + id[len(id)-8:]
}
