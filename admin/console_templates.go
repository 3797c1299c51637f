package admin

import (
	"html/template"
	"strings"
	"time"
)

var consoleFuncs = template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"hm":        func(t time.Time) string { return t.UTC().Format("15:04") },
	"breaker":   func(reason string) bool { return strings.HasPrefix(reason, "breaker") },
	"join":      strings.Join,
	"stepWords": stepWords,
	"uses":      func(id string, u []Use) usesTable { return usesTable{id, u} },
}

// consoleTemplates are the console's pages: html/template escapes every
// value, and the pages hold no script.
var consoleTemplates = template.Must(template.New("console").Funcs(consoleFuncs).Parse(consoleLayout + consoleOverview + consoleConfirm + consoleReport))

const consoleLayout = `{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.}} · oncelink console</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;padding:0 1rem 2rem;color:#1d232a;background:#f7f7f4;line-height:1.4}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:baseline;border-bottom:3px solid #2166ac;margin-bottom:1rem;padding:.5rem 0}
header strong{color:#2166ac}main{max-width:80rem;margin:0 auto}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.75rem 1rem;margin:1rem 0;min-width:0}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin:.2rem 0 .6rem}
.scroll{overflow:auto;max-height:60vh;max-width:100%;border:1px solid #e3e3e3}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;font-size:.9rem;vertical-align:top}
th{background:#f0f0ec;position:sticky;top:0}
td.wrap{min-width:12rem;max-width:24rem;overflow-wrap:anywhere}
.num{text-align:right;font-variant-numeric:tabular-nums}
.alert{background:#fdecea;border:1px solid #b3261e;padding:.6rem .9rem;border-radius:6px}
.ok{background:#e7f4ea;border:1px solid #2e7d32;padding:.6rem .9rem;border-radius:6px}
fieldset{border:1px solid #ccc;border-radius:6px;margin:.5rem 0}
label{display:inline-block;margin:.2rem .6rem .2rem 0}
input[type=text],input:not([type]),input[inputmode]{font-size:1rem;padding:.35rem;border:1px solid #888;border-radius:4px;width:18rem;max-width:100%}
button{font-size:1rem;padding:.45rem .9rem;border-radius:6px;border:1px solid #2166ac;background:#2166ac;color:#fff;margin:.2rem .4rem .2rem 0}
button.danger{background:#b2182b;border-color:#b2182b}
.plot{max-width:100%;overflow:hidden}.plot svg{max-width:100%;height:auto}
</style></head><body><header><strong>oncelink console</strong><a href="./">Overview</a>{{end}}
{{define "who"}}<span>Signed in as {{.}}</span></header><main>{{end}}
{{define "foot"}}</main></body></html>{{end}}

{{define "error.html"}}{{template "head" "Error"}}{{template "who" .Actor}}
<h1>Not done</h1><p class="alert" role="alert" id="error">{{.Error}}</p><p><a href="./">Back to the overview</a></p>
{{template "foot"}}{{end}}
`

const consoleOverview = `{{define "overview.html"}}{{template "head" "Overview"}}{{template "who" .Actor}}
<h1>Incident console</h1>
{{with .Flash}}<div class="{{if .Bad}}alert{{else}}ok{{end}}" role="{{if .Bad}}alert{{else}}status{{end}}" id="result">{{range .Text}}<p>{{.}}</p>{{end}}</div>{{end}}
{{if .Lost}}<p class="alert" role="status" id="result">The result of that action is not known to this server (another instance answered, or it is too old). The ledger below lists every action.</p>{{end}}
{{range .Errors}}<p class="alert" role="alert">{{.}}</p>{{end}}

<section aria-labelledby="holds-h"><h2 id="holds-h">Holds in force</h2>
{{if or .State.Holds .State.Marks}}<div class="scroll"><table id="holds"><thead><tr><th scope="col">What</th><th scope="col">Scope</th><th scope="col">Id</th><th scope="col">Since (UTC)</th><th scope="col">By</th><th scope="col">Why</th></tr></thead><tbody>
{{range .State.Holds}}<tr><td>frozen</td><td>{{.Scope}}</td><td>{{.Key}}</td><td>{{ts .Since}}</td><td>{{if breaker .Reason}}the breaker{{else}}an operator{{end}}</td><td class="wrap">{{.Reason}}</td></tr>{{end}}
{{range .State.Marks}}<tr><td>revoked</td><td>{{if .Member}}member{{else}}every link{{end}}</td><td>{{.Member}}</td><td>{{if .Seq}}every link recorded before it (sequence {{.Seq}}){{end}}{{if not .Before.IsZero}} issued before {{ts .Before}}{{end}}</td><td>an operator</td><td>watermark</td></tr>{{end}}
</tbody></table></div>{{else}}<p id="holds">No holds: the links of every batch can be used.</p>{{end}}
</section>

<section aria-labelledby="act-h"><h2 id="act-h">Freeze, thaw or revoke</h2>
<form method="get" action="confirm">
<fieldset><legend>Act on</legend>
<p><input type="radio" id="scope-batch" name="scope" value="batch" checked> <label for="scope-batch">One batch</label>
<label for="batch">Batch id</label> <input type="text" id="batch" name="batch" list="batch-ids" autocomplete="off" spellcheck="false"></p>
<p><input type="radio" id="scope-member" name="scope" value="member"> <label for="scope-member">One member</label>
<label for="member">Member id</label> <input type="text" id="member" name="member" autocomplete="off" spellcheck="false"></p>
<p><input type="radio" id="scope-global" name="scope" value="global"> <label for="scope-global">Every link (you will be asked to type the count)</label></p>
</fieldset>
<p><label for="reason">Reason, for the ledger</label> <input type="text" id="reason" name="reason" maxlength="200"></p>
<p>Each button shows what it would cover first; nothing changes until you confirm.</p>
<p><button type="submit" name="action" value="freeze" id="freeze">Freeze…</button><button type="submit" name="action" value="thaw" id="thaw">Thaw…</button><button type="submit" name="action" value="revoke" id="revoke" class="danger">Revoke…</button></p>
<datalist id="batch-ids">{{range .Batches}}<option value="{{.Batch}}">{{end}}</datalist>
</form></section>

<section aria-labelledby="batches-h"><h2 id="batches-h">Batches</h2>
{{if .Batches}}<div class="scroll"><table id="batches"><thead><tr><th scope="col">Batch</th><th scope="col">First sent (UTC)</th><th scope="col" class="num">Links</th><th scope="col" class="num">Usable</th><th scope="col" class="num">Frozen</th><th scope="col" class="num">Consumed</th><th scope="col" class="num">Revoked</th><th scope="col" class="num">Expired</th><th scope="col" class="num">Refused clicks</th><th scope="col">Held</th><th scope="col">See</th></tr></thead><tbody>
{{range .Batches}}<tr><th scope="row">{{.Batch}}</th><td>{{ts .FirstIssued}}</td><td class="num">{{.Links}}</td><td class="num">{{.Issued}}</td><td class="num">{{.Frozen}}</td><td class="num">{{.Consumed}}</td><td class="num">{{.Revoked}}</td><td class="num">{{.Expired}}</td><td class="num">{{.Refused}}</td><td>{{if .Held}}frozen{{else}}no{{end}}</td>
<td><a href="./?batch={{.Batch}}#timeline-h">timeline</a> · <a href="report?batch={{.Batch}}">report</a> · <a href="confirm?action=freeze&amp;scope=batch&amp;batch={{.Batch}}">freeze…</a></td></tr>{{end}}
</tbody></table></div>{{else}}<p id="batches">The store holds no batch.</p>{{end}}
</section>

<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline of {{if .Batch}}batch {{.Batch}}{{else}}every link{{end}}</h2>
{{if .Batch}}<p><a href="./#timeline-h">Show every link</a> · <a href="report?batch={{.Batch}}">Report of batch {{.Batch}}</a></p>{{end}}
{{with .Timeline}}<div class="plot" id="plot">{{$.SVG}}</div>
<details><summary>The timeline as a table ({{len $.Busy}} steps with entries, {{stepWords .Step}})</summary><div class="scroll"><table id="timeline-table"><thead><tr><th scope="col">Step from (UTC)</th><th scope="col" class="num">Issued</th><th scope="col" class="num">Clicks</th><th scope="col" class="num">Logins</th><th scope="col" class="num">Mismatches</th><th scope="col" class="num">Other refusals</th><th scope="col" class="num">Blocked</th><th scope="col" class="num">Freezes</th><th scope="col" class="num">Thaws</th><th scope="col" class="num">Revocations</th></tr></thead><tbody>
{{range $.Busy}}<tr><td>{{ts .At}}</td><td class="num">{{.Issued}}</td><td class="num">{{.Clicks}}</td><td class="num">{{.Logins}}</td><td class="num">{{.Mismatches}}</td><td class="num">{{.Refusals}}</td><td class="num">{{.Blocked}}</td><td class="num">{{.Freezes}}</td><td class="num">{{.Thaws}}</td><td class="num">{{.Revocations}}</td></tr>{{end}}
</tbody></table></div></details>{{end}}
</section>

<section aria-labelledby="actions-h"><h2 id="actions-h">Recent actions</h2>
{{if .Actions}}<div class="scroll"><table id="actions"><thead><tr><th scope="col">At (UTC)</th><th scope="col">What</th><th scope="col">Batch</th><th scope="col">Member</th><th scope="col" class="num">Count</th><th scope="col">By</th><th scope="col">Detail</th></tr></thead><tbody>
{{range .Actions}}<tr><td>{{ts .At}}</td><td>{{.Kind}}</td><td>{{.Batch}}</td><td>{{.Member}}</td><td class="num">{{.Count}}</td><td>{{.Actor}}</td><td class="wrap">{{.Reason}} {{.Detail}}</td></tr>{{end}}
</tbody></table></div>{{else}}<p id="actions">No action recorded yet.</p>{{end}}
</section>
{{template "foot"}}{{end}}
`

const consoleConfirm = `{{define "confirm.html"}}{{template "head" "Confirm"}}{{template "who" .Actor}}
{{if .Error}}<h1>Nothing done</h1><p class="alert" role="alert" id="error">{{.Error}}</p><p><a href="./">Back to the overview</a></p>
{{else}}<h1>{{if eq .Intent.Action "freeze"}}Freeze{{else if eq .Intent.Action "thaw"}}Thaw{{else}}Revoke{{end}} {{.What}}?</h1>
{{with .Notice}}<p class="alert" role="alert" id="notice">{{.}}</p>{{end}}
<section aria-labelledby="cover-h"><h2 id="cover-h">What it covers</h2>
<p id="covers">It covers <strong id="links">{{.Cover.Links}}</strong> links: <strong id="outstanding">{{.Cover.Outstanding}}</strong> outstanding (usable, or frozen), {{.Cover.Consumed}} consumed.</p>
{{if eq .Intent.Action "freeze"}}<p>{{if .Cover.Held}}It is already frozen; freezing again changes nothing.{{else}}Its {{.Cover.Outstanding}} outstanding links will be refused from the next request on, on every instance, until a thaw. Nothing is deleted; sessions already open stay open.{{end}}</p>
{{else if eq .Intent.Action "thaw"}}<p>Its outstanding links that no other hold covers can be used again.</p>
{{else}}<p>Its {{.Cover.Outstanding}} outstanding links will never work again. This cannot be undone.</p>
<p id="sessions">{{$n := len .Cover.Sessions}}{{if eq $n 0}}Sessions: none of its links opened a session.
{{else if .Cover.OpenKnown}}Sessions: its consumed links opened {{$n}} sessions; {{.Cover.Open}} of them are open now{{if .SessionRevoker}} and will be ended{{else}} and will not be ended: no session revoker is configured{{end}}.
{{else}}Sessions: its consumed links opened {{$n}} sessions; how many are still open is not known{{if .SessionRevoker}}. They will be handed to the site's session revoker{{else}}, and no session revoker is configured: end them by hand{{end}}.{{end}}</p>{{end}}
</section>
<form method="post" action="act">
{{range $k, $vs := .Values}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
{{if .Cover.Confirm}}<p><label for="confirm">This covers {{if .Intent.Global}}every link{{else}}most outstanding links{{end}}. Type <strong>{{.Cover.Confirm}}</strong> to confirm</label><br>
<input type="text" id="confirm" name="confirm" inputmode="numeric" autocomplete="off" required></p>{{end}}
<p><button type="submit" id="do"{{if eq .Intent.Action "revoke"}} class="danger"{{end}}>{{if eq .Intent.Action "freeze"}}Freeze{{else if eq .Intent.Action "thaw"}}Thaw{{else}}Revoke{{end}} {{.What}}</button> <a href="./" id="cancel">Cancel</a></p>
</form>{{end}}
{{template "foot"}}{{end}}
`

const consoleReport = `{{define "uses"}}<div class="scroll"><table id="{{.ID}}"><thead><tr><th scope="col">At (UTC)</th><th scope="col">Member</th><th scope="col">Sent to</th><th scope="col">Presented as</th><th scope="col">From</th><th scope="col">Browser</th><th scope="col">Session</th></tr></thead><tbody>
{{range .Uses}}<tr><td>{{ts .At}}</td><td>{{.Member}}</td><td>{{.Address}}</td><td>{{.Presented.Identity}}{{if and (not .Confirmed) (eq .Reason "")}} (not confirmed){{end}}</td><td>{{.Presented.IP}}</td><td class="wrap">{{.Presented.UserAgent}}</td><td>{{.Presented.Session}}</td></tr>{{else}}<tr><td colspan="7">None.</td></tr>{{end}}
</tbody></table></div>{{end}}
{{define "report.html"}}{{template "head" "Report"}}{{template "who" .Actor}}
{{with .Report}}<h1>Who was affected{{if .Batch}}: batch {{.Batch}}{{end}}</h1>
<p>Made {{ts .Generated}} UTC from the store's ledger{{if not .Since.IsZero}}, from {{ts .Since}}{{end}}{{if not .Until.IsZero}} until {{ts .Until}}{{end}}. <a href="report.csv?{{$.Query}}" id="csv">Download as CSV</a> · <a href="./{{if .Batch}}?batch={{.Batch}}#timeline-h{{end}}">Timeline</a></p>
<section aria-labelledby="counts-h"><h2 id="counts-h">In numbers</h2>
<p id="counts">{{.Counts.Issued}} links issued; {{.Counts.Logins}} logins with the link's own identity, {{.Counts.UnconfirmedLogins}} without one compared; {{.Counts.Mismatches}} mismatches; {{.Counts.Replays}} replays; {{.Counts.Refused}} refused clicks in all; <strong>{{.Counts.Affected}} members to contact</strong>.</p></section>
<section aria-labelledby="affected-h"><h2 id="affected-h">Members to contact</h2>
<p>A mismatch, a replay or an unconfirmed login on one of their links. A login with the address the message showed looks like the member's own: if links went to the wrong mailboxes, check the logins below too.</p>
<div class="scroll"><table id="affected"><thead><tr><th scope="col">Member</th><th scope="col">Addresses</th><th scope="col" class="num">Mismatches</th><th scope="col" class="num">Replays</th><th scope="col" class="num">Unconfirmed logins</th><th scope="col">Presented by</th></tr></thead><tbody>
{{range .Affected}}<tr><td>{{.Member}}</td><td class="wrap">{{join .Addresses ", "}}</td><td class="num">{{.Mismatches}}</td><td class="num">{{.Replays}}</td><td class="num">{{.UnconfirmedLogins}}</td><td class="wrap">{{join .PresentedBy ", "}}</td></tr>{{else}}<tr><td colspan="6">None.</td></tr>{{end}}
</tbody></table></div></section>
<section aria-labelledby="mismatches-h"><h2 id="mismatches-h">Mismatches ({{len .Mismatches}}): a link presented with another identity</h2>
{{template "uses" (uses "mismatches" .Mismatches)}}</section>
<section aria-labelledby="replays-h"><h2 id="replays-h">Replays ({{len .Replays}}): a used link presented again</h2>
{{template "uses" (uses "replays" .Replays)}}</section>
<section aria-labelledby="logins-h"><h2 id="logins-h">Logins ({{len .Logins}})</h2>
{{template "uses" (uses "logins" .Logins)}}</section>
{{if .Sessions}}<section aria-labelledby="sessions-h"><h2 id="sessions-h">Sessions opened ({{len .Sessions}})</h2><p class="wrap" id="report-sessions">{{join .Sessions ", "}}</p></section>{{end}}
{{end}}{{template "foot"}}{{end}}
`

type usesTable struct {
	ID   string
	Uses []Use
}
