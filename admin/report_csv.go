package admin

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/oncelink/oncelink/store"
)

// csvHeader is the header row of [Report.WriteCSV].
var csvHeader = [...]string{"event", "at", "member", "affected", "token_id", "batch", "purpose", "recipient", "status",
	"reason", "identity", "ip", "user_agent", "session"}

// WriteCSV writes the report as CSV, one row per event of each link, after
// a header row: event, at, member, affected, token_id, batch, purpose,
// recipient, status, reason, identity, ip, user_agent, session. The events
// are the report's words: "issued"; "login" (consumed, the link's identity
// confirmed) or "unconfirmed_login"; "mismatch", "replay", or "refused"
// (with its reason). Times are RFC 3339 in UTC. A cell that a spreadsheet
// would run as a formula is prefixed with a quote.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader[:]); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, m := range r.Members {
		aff := strconv.FormatBool(m.Affected)
		for _, l := range m.Links {
			base := []string{m.Member, aff, l.TokenID, l.Batch, l.Purpose, l.Recipient, l.Status}
			row := func(event, at, reason string, p store.Presentation) []string {
				out := append([]string{event, at}, base...)
				out = append(out, reason, p.Identity, p.IP, p.UserAgent, p.Session)
				for i := range out {
					out[i] = csvSafe(out[i])
				}
				return out
			}
			if err := cw.Write(row("issued", ts(l.IssuedAt), "", store.Presentation{})); err != nil {
				return err
			}
			if l.ConsumedBy != nil {
				event := "login"
				if l.ConsumedBy.Identity == "" {
					event = "unconfirmed_login"
				}
				if err := cw.Write(row(event, ts(l.ConsumedAt), "", *l.ConsumedBy)); err != nil {
					return err
				}
			}
			for _, a := range l.Refusals {
				if err := cw.Write(row(refusalEvent(a.Reason), ts(a.At), a.Reason, a.Presentation)); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses a value a spreadsheet would run as a formula. Every cell
// goes through it: user agents, addresses and typed identities come from
// strangers, and member ids, batches and sessions from the site's data.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// refusalEvent names a refusal as the report sorts it.
func refusalEvent(reason string) string {
	switch store.Reason(reason) {
	case store.ReasonMismatch:
		return "mismatch"
	case store.ReasonUsed:
		return "replay"
	}
	return "refused"
}
