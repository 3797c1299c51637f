package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oncelink/oncelink/store"
)

func printIncident(w io.Writer, d *Day) {
	fmt.Fprintln(w, "1. the day as it happened (modelled): no send guard, no identity check, no breaker")
	printSend(w, d)
	fmt.Fprintf(w, "   min %s  first click; first login as someone else at min %s\n", minutes(d.FirstClick), trim(d.FirstForeign))
	at := d.At[seedNoticed]
	fmt.Fprintf(w, "   min %s  reports reach the team (the seed's 47 minutes): %d people logged in, %d as someone else\n",
		minutes(seedNoticed), at.Logins, at.Foreign)
	at = d.At[seedNoticed+seedOffline]
	fmt.Fprintf(w, "   min %s  site offline (the seed's 18 minutes later): %d people logged in, %d as someone else\n",
		minutes(d.OperatorAt), at.Logins, at.Foreign)
	printRevoke(w, d, "links revoked")
	printReport(w, d)
	fmt.Fprintln(w)
}

func printGuard(w io.Writer, s *Summary) {
	fmt.Fprintln(w, "2. the same send with oncelink's send guard")
	if b := s.Guarded.Blocked; b != nil {
		fmt.Fprintf(w, "   min %s  guard blocked batch 1: %s (message %d of the batch, to %s)\n", minutes(0), b.Reason, b.Index+1, b.Recipient)
		fmt.Fprintf(w, "   min %s  sent %d messages; %d carried another member's link; the send's links are frozen\n",
			minutes(0), s.Guarded.Sent, s.Guarded.Foreign)
	} else {
		fmt.Fprintf(w, "   sent %d messages; the guard refused nothing\n", s.Guarded.Sent)
	}
	fmt.Fprintln(w, "   a mailer with a new mail object per message, through the same guard:")
	fmt.Fprintf(w, "   sent %d messages; %d distinct links; %d carried another member's link\n\n",
		s.Correct.Sent, s.Correct.Distinct, s.Correct.Foreign)
}

func printOncelink(w io.Writer, d *Day) {
	fmt.Fprintln(w, "3. with oncelink, had the same send gone out past the guard: identity check, breaker, operator")
	printSend(w, d)
	fmt.Fprintf(w, "   min %s  first click\n", minutes(d.FirstClick))
	fmt.Fprintf(w, "   min %s  first mismatch refused: a member typed their own address on someone else's link\n", minutes(d.FirstMismatch))
	if d.Trip != nil {
		fmt.Fprintf(w, "   min %s  breaker froze the batch: %s; %d logins so far, 0 as someone else\n",
			minutes(d.TripAt), d.Trip.Rule, d.TripLogins)
	} else {
		fmt.Fprintln(w, "   the breaker did not trip")
	}
	fmt.Fprintf(w, "   min %s  operator told by the breaker, acts the seed's 18 minutes later: freeze (%s, %d outstanding links)\n",
		minutes(d.OperatorAt), frozenWords(d.Freeze.Changed), d.Freeze.Outstanding)
	printRevoke(w, d, "operator revoked the batch")
	fmt.Fprintf(w, "   min %s  clicks %d: logins %d, as someone else %d; refused as %s\n",
		minutes(d.End), d.Clicks, d.Logins, d.Foreign, refusals(d.Refused))
	printReport(w, d)
	fmt.Fprintln(w)
}

func printSend(w io.Writer, d *Day) {
	fmt.Fprintf(w, "   min %s  send started: %d messages in batches of 10, %d of them carry another member's link\n",
		minutes(0), d.Send.Sent, d.Send.Foreign)
}

func printRevoke(w io.Writer, d *Day, what string) {
	fmt.Fprintf(w, "   min %s  %s: %d outstanding links stopped; sessions ended %d (of %d open, %d opened)\n",
		minutes(d.OperatorAt), what, d.Revoke.Covered, d.SessionsEnded, d.SessionsOpen, d.SessionsOpened)
}

func printReport(w io.Writer, d *Day) {
	c := d.Report.Counts
	fmt.Fprintf(w, "   report: affected members %d (simulation: %d); mismatches %d (simulation: %d); replays %d (simulation: %d); logins %d, sessions %d\n",
		c.Affected, d.Affected, c.Mismatches, d.Mismatches, c.Replays, d.Replays, c.Logins+c.UnconfirmedLogins, len(d.Report.Sessions))
}

func frozenWords(changed bool) string {
	if changed {
		return "placed"
	}
	return "the breaker's hold already stood"
}

func refusals(m map[store.Reason]int) string {
	var parts []string
	for r, n := range m {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func printComparison(w io.Writer, s *Summary) {
	in, ol := s.Incident, s.Oncelink
	fmt.Fprintln(w, "the seed's day beside the replay (minutes since the send started)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   \tthe seed (incident report)\tmodelled, no controls\toncelink past the guard\toncelink")
	fmt.Fprintf(tw, "   messages with another member's link\t9 in 10 (\"identical emails\")\t%d\t%d\t%d\n",
		in.Send.Foreign, ol.Send.Foreign, s.Guarded.Foreign)
	end := seedNoticed + seedOffline
	fmt.Fprintf(tw, "   people logged in by min 65\t%d\t%d\t%d\t0\n", seedLogins, in.At[end].Logins, ol.At[end].Logins)
	fmt.Fprintf(tw, "   of them as someone else\tnot counted\t%d\t%d\t0\n", in.At[end].Foreign, ol.At[end].Foreign)
	fmt.Fprintf(tw, "   problem known at min\t%s (reports)\t%s (the seed's)\t%s (breaker)\t0 (guard)\n",
		trim(seedNoticed), trim(seedNoticed), trim(ol.TripAt))
	fmt.Fprintf(tw, "   logins stopped at min\t%s (site offline)\t%s (the seed's)\t%s (breaker)\t0 (nothing sent)\n",
		trim(end), trim(in.OperatorAt), trim(ol.TripAt))
	fmt.Fprintf(tw, "   links and sessions revoked at min\tlater, by hand\t%s\t%s\tnothing to revoke\n", trim(in.OperatorAt), trim(ol.OperatorAt))
	fmt.Fprintf(tw, "   sessions ended\tall, by hand, after the links\t%d\t%d\t0\n", in.SessionsEnded, ol.SessionsEnded)
	fmt.Fprintf(tw, "   affected members named\tafter hours of debugging\t%d (report)\t%d (report)\t0\n",
		in.Report.Counts.Affected, ol.Report.Counts.Affected)
	tw.Flush()
}

func trim(d time.Duration) string {
	return strings.TrimSpace(minutes(d))
}
