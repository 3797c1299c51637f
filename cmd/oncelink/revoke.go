package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oncelink/oncelink/admin"
	"github.com/oncelink/oncelink/store"
)

// revokeFlags are the flags of revoke.
type revokeFlags struct {
	f                   store.Filter
	ids, members, batch list
	dry, yes, force     bool
	actor               string
}

func (r *revokeFlags) define(fs *flag.FlagSet) {
	fs.BoolVar(&r.f.All, "all", false, "every link the store has recorded (a watermark); asks for confirmation; alone")
	fs.Var(&r.ids, "ids", "token `ids`, comma-separated, as 'oncelink report' shows them")
	fs.Var(&r.members, "members", "member `ids`, comma-separated (a watermark per member)")
	fs.Var(&r.batch, "batches", "`batches`, comma-separated, as 'oncelink batches' lists them")
	fs.StringVar(&r.f.Purpose, "purpose", "", "links of this `purpose` (login, reset...)")
	fs.Var(timeFlag{&r.f.IssuedFrom}, "issued-from", "links issued at or after this `time` (RFC 3339; the minting machine's clock)")
	fs.Var(timeFlag{&r.f.IssuedBefore}, "issued-before", "links issued before this `time` (RFC 3339; the minting machine's clock)")
	fs.BoolVar(&r.f.Consumed, "consumed", false, "only links that were consumed")
	fs.BoolVar(&r.dry, "dry-run", false, "count the outstanding links it would stop; change nothing")
	fs.BoolVar(&r.yes, "yes", false, "do not ask for confirmation")
	fs.BoolVar(&r.force, "force", false, "revoke even when no link matches")
	actorFlag(fs, &r.actor)
}

// check refuses, in the words of the flags, what the admin layer would.
func (r *revokeFlags) check(now time.Time) error {
	r.f.IDs, r.f.Members, r.f.Batches = r.ids, r.members, r.batch
	if r.f.IsEmpty() {
		return usagef("revoke: say what to revoke: --all, --ids, --members, --batches, --purpose, --issued-from, --issued-before or --consumed")
	}
	if rest := r.f; r.f.All {
		if rest.All = false; !rest.IsEmpty() {
			return usagef("revoke: --all cannot be combined with another filter")
		}
	}
	if !r.f.IssuedFrom.IsZero() && !r.f.IssuedBefore.IsZero() && !r.f.IssuedBefore.After(r.f.IssuedFrom) {
		return usagef("revoke: --issued-before must be after --issued-from")
	}
	if n := len(r.f.IDs) + len(r.f.Members) + len(r.f.Batches); n > store.MaxFilterValues {
		return usagef("revoke: --ids, --members and --batches name %d values together, at most %d: revoke in parts, or by --batches", n, store.MaxFilterValues)
	}
	for _, id := range r.f.IDs {
		if !store.ValidID(id) {
			return usagef("revoke: --ids: %s is not a token id (a lower-case UUID, as 'oncelink report' shows them)", term(id))
		}
	}
	for _, m := range r.f.Members {
		if !store.ValidText(m, store.MaxMemberLen) {
			return usagef("revoke: --members: a member id is at most %d bytes of text", store.MaxMemberLen)
		}
	}
	for _, b := range r.f.Batches {
		if !store.ValidText(b, store.MaxBatchLen) {
			return usagef("revoke: --batches: a batch is at most %d bytes of text", store.MaxBatchLen)
		}
	}
	if !store.ValidText(r.f.Purpose, store.MaxPurposeLen) {
		return usagef("revoke: --purpose is at most %d bytes of text", store.MaxPurposeLen)
	}
	if latest := now.Add(admin.WatermarkTolerance); r.f.IssuedBefore.After(latest) {
		return usagef("revoke: --issued-before %s is in the future (it is %s here): it would refuse every link minted until then, and nothing can lower it; to revoke everything, use --all",
			r.f.IssuedBefore.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if err := r.f.Validate(); err != nil {
		return &wordedError{err: err, msg: "revoke: " + r.selection() + " is not a filter oncelink can apply"}
	}
	return nil
}

// selection describes the filter in the words of the flags, for messages.
func (r *revokeFlags) selection() string {
	var parts []string
	add := func(flag string, v []string) {
		if len(v) > 0 {
			parts = append(parts, "--"+flag+" "+term(strings.Join(v, ",")))
		}
	}
	if r.f.All {
		parts = append(parts, "--all")
	}
	add("ids", r.f.IDs)
	add("members", r.f.Members)
	add("batches", r.f.Batches)
	if r.f.Purpose != "" {
		parts = append(parts, "--purpose "+term(r.f.Purpose))
	}
	if !r.f.IssuedFrom.IsZero() {
		parts = append(parts, "--issued-from "+r.f.IssuedFrom.Format(time.RFC3339Nano))
	}
	if !r.f.IssuedBefore.IsZero() {
		parts = append(parts, "--issued-before "+r.f.IssuedBefore.Format(time.RFC3339Nano))
	}
	if r.f.Consumed {
		parts = append(parts, "--consumed")
	}
	return strings.Join(parts, " ")
}

func (c *cli) revoke(ctx context.Context, args []string) error {
	r := &revokeFlags{}
	if err := c.flags("revoke", args, r.define); err != nil {
		return err
	}
	if err := r.check(time.Now()); err != nil {
		return err
	}
	ctx, a, closer, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closer()
	p, err := a.Preview(ctx, r.f)
	if err != nil {
		return worded("revoke", err)
	}
	if p.Matching == 0 && !r.force {
		return noMatchError{fmt.Sprintf("revoke: %s matches no link: nothing was done (check the names with 'oncelink batches', or --force)", r.selection())}
	}
	if r.dry {
		c.out(p, func(w io.Writer) { printPreview(w, p) })
		return nil
	}
	opts := []admin.RevokeOption{}
	if r.force {
		opts = append(opts, admin.Force())
	}
	if p.Wide {
		if !r.yes {
			if err := c.confirm(widePrompt(r, p), fmt.Sprintf("revoke %d", p.Confirm)); err != nil {
				return err
			}
		}
		opts = append(opts, admin.Confirm(p.Confirm))
	}
	res, err := a.Revoke(ctx, r.f, r.actor, opts...)
	if err != nil && !errors.Is(err, admin.ErrSessions) {
		return worded("revoke", err)
	}
	c.out(res, func(w io.Writer) { printRevoked(w, res, p) })
	return err
}

func widePrompt(r *revokeFlags, p admin.Preview) string {
	what := fmt.Sprintf("%s revokes %d of the %d outstanding links", r.selection(), p.Outstanding, p.OutstandingInStore)
	if r.f.All {
		what = fmt.Sprintf("--all revokes EVERY link the store has recorded: %d outstanding links", p.Outstanding)
	}
	return fmt.Sprintf("This is as wide as revoking everything: %s (%d records match, %d consumed: their sessions end).", what, p.Matching, p.Consumed)
}

// printPreview and printRevoked lead with the same count: the outstanding
// links the revocation stops (or stopped).
func printPreview(w io.Writer, p admin.Preview) {
	fmt.Fprintf(w, "would revoke: %d outstanding links (%d links match, of %d outstanding in the store)", p.Outstanding, p.Matching, p.OutstandingInStore)
	if p.Outstanding == 0 {
		fmt.Fprint(w, "; the links that match are already consumed, revoked or expired")
	}
	if p.Consumed > 0 {
		fmt.Fprintf(w, "; %d consumed: their sessions must end", p.Consumed)
	}
	if p.Watermark {
		fmt.Fprint(w, "; applied as a watermark")
	}
	if p.Wide {
		fmt.Fprintf(w, "; asks you to confirm %d", p.Confirm)
	}
	fmt.Fprintln(w)
}

func printRevoked(w io.Writer, res admin.RevokeResult, p admin.Preview) {
	who := "every member"
	if len(res.Members) > 0 {
		who = term(strings.Join(res.Members, ", "))
	}
	switch {
	case res.Sequence != 0:
		fmt.Fprintf(w, "revoked: %d outstanding links: every link of %s the store had recorded (a watermark on its sequence, whatever the minting clocks; %d records matched)\n",
			res.Covered, who, p.Matching)
	case !res.Watermark.IsZero():
		fmt.Fprintf(w, "revoked: %d outstanding links: every link of %s issued before %s by the minting machine's clock (a watermark; %d records matched)\n",
			res.Covered, who, res.Watermark.Format(time.RFC3339Nano), p.Matching)
	default:
		fmt.Fprintf(w, "revoked: %d outstanding links (%d links matched; %d records marked revoked now)\n", res.Covered, p.Matching, res.Revoked)
	}
	if len(res.Sessions) > 0 {
		fmt.Fprintf(w, "sessions opened by these links, which the site must end (%d):\n", len(res.Sessions))
		for _, s := range res.Sessions {
			fmt.Fprintf(w, "  %s\n", term(s))
		}
	}
}
