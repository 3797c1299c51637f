package main

import "html/template"

const layout = `{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.}} · Member site</title>
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d232a;background:#fbfaf7}
header{border-bottom:3px solid #b3261e;margin-bottom:1.5rem}header a{color:#b3261e;text-decoration:none;font-weight:700}
nav a{margin-right:1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
button{background:#b3261e;color:#fff;border:0;border-radius:6px;padding:.55rem 1.1rem;font-size:1rem;cursor:pointer}
input{font-size:1rem;padding:.45rem;border:1px solid #999;border-radius:6px;width:20rem;max-width:100%}
.alert{background:#fdecea;border:1px solid #b3261e;padding:.6rem .9rem;border-radius:6px}
.ok{background:#e7f4ea;border:1px solid #2e7d32;padding:.6rem .9rem;border-radius:6px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;font-size:.92rem}
pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #ddd;padding:1rem}
</style></head><body><header><p><a href="/">Member site</a></p></header><main>{{end}}
{{define "foot"}}</main></body></html>{{end}}`

var pages = template.Must(template.New("pages").Parse(layout + `
{{define "confirm.html"}}{{template "head" "Confirm your login"}}
<h1>Confirm your login</h1>
<div class="card">
{{if .Message}}<p class="alert" role="alert" id="message">{{.Message}}</p>{{end}}
<p>To log in with this link, confirm who you are.</p>
<form method="post" action="{{.Action}}">
{{if .AskEmail}}<p><label for="email">Your email address</label><br><input id="email" name="email" type="email" autocomplete="email" required></p>
{{else if .AskNumber}}<p><label for="number">Your member number</label><br><input id="number" name="number" autocomplete="off" required></p>{{end}}
<p><button type="submit" id="login">Log in</button></p>
</form></div>
{{template "foot"}}{{end}}

{{define "refused.html"}}{{if .LoggedIn}}{{template "head" "Logged in"}}
<h1>Logged in</h1><div class="card"><p class="ok" id="message">{{.Message}}</p>
<p><a id="continue" href="{{.Landing}}">Go to the members' page</a></p></div>
{{else}}{{template "head" "Link not usable"}}
<h1>Link not usable</h1><div class="card"><p class="alert" role="alert" id="message">{{.Message}}</p>
{{with .RequestPath}}<p><a id="request" href="{{.}}">Email me a new login link</a></p>{{end}}</div>{{end}}
{{template "foot"}}{{end}}

{{define "request.html"}}{{template "head" "Log in"}}
<h1>Log in</h1>
<div class="card">
{{if .Message}}<p class="alert" role="alert" id="message">{{.Message}}</p>{{end}}
<p>Type your email address or your member number, and we will email you a link to log in.</p>
<form method="post" action="{{.Action}}">
<p><label for="address">Email address or member number</label><br><input id="address" name="address" autocomplete="email" required></p>
<p><button type="submit" id="request">Email me a login link</button></p>
</form></div>
{{template "foot"}}{{end}}

{{define "requested.html"}}{{template "head" "Check your email"}}
<h1>Check your email</h1>
<div class="card"><p class="ok" role="status" id="message">{{.Message}}</p>
<p>The link works once, within {{.Minutes}} minutes. Nothing arrived? <a href="{{.Action}}">Ask again</a>.</p></div>
{{template "foot"}}{{end}}

{{define "home.html"}}{{template "head" "Welcome"}}
<h1>Member site</h1>
<div class="card"><p>Members log in with a one-time link the site emails them.</p>
<p><a id="login" href="/login/request">Email me a login link</a></p></div>
<div class="card"><p>This demo sends its messages to {{.Where}}{{if .Outbox}}: read them in the <a href="/outbox">outbox</a>{{end}}.
The operator's page is at the admin address printed when the site started.</p></div>
{{template "foot"}}{{end}}

{{define "members.html"}}{{template "head" "Members"}}
<h1 id="welcome">Welcome, {{.Member.Name}}</h1>
<div class="card"><table>
<tr><th>Member number</th><td id="number">{{.Member.Number}}</td></tr>
<tr><th>Email address</th><td id="email">{{.Member.Email}}</td></tr>
<tr><th>Session</th><td>{{.Session}}</td></tr></table>
<form method="post" action="/logout"><p><button type="submit">Log out</button></p></form></div>
{{template "foot"}}{{end}}

{{define "outbox.html"}}{{template "head" "Outbox"}}
<h1>Outbox</h1><p>Messages go to {{.Where}}. {{len .Sent}} messages captured here.</p>
<table><tr><th>#</th><th>To</th><th>Subject</th><th>Sent</th></tr>
{{range .Sent}}<tr><td><a href="/outbox/{{.N}}">{{.N}}</a></td><td>{{.To}}</td><td>{{.Subject}}</td><td>{{.At.Format "15:04:05"}}</td></tr>{{end}}
</table>{{template "foot"}}{{end}}

{{define "message.html"}}{{template "head" "Message"}}
<h1>Message {{.Sent.N}} to {{.Sent.To}}</h1>
<p>Link: <a id="link" href="{{.Link}}">open the login link</a></p>
<pre id="body">{{.Body}}</pre>
<details><summary>As sent</summary><pre>{{.Raw}}</pre></details>{{template "foot"}}{{end}}

{{define "admin.html"}}{{template "head" "Operator"}}
<h1>Operator</h1>
{{if .Notice}}<p class="{{if .Bad}}alert{{else}}ok{{end}}" role="status">{{.Notice}}</p>{{end}}
<div class="card"><h2>Invite every member</h2>
<p>{{.Members}} members. Mints one link each in one batch, checks every message with the send guard, mails them in batches of ten.</p>
<form method="post" action="/admin/invite"><button type="submit" id="invite">Send invitations</button></form></div>

<div class="card"><h2>Stop the damage</h2>
<form method="post" action="/admin/freeze"><p>
<select name="scope"><option value="global">everything</option><option value="batch">batch</option><option value="member">member</option></select>
<input name="key" placeholder="batch or member id"> <input name="reason" placeholder="reason">
<button type="submit">Freeze</button></p></form>
<form method="post" action="/admin/thaw"><p>
<select name="scope"><option value="global">everything</option><option value="batch">batch</option><option value="member">member</option></select>
<input name="key" placeholder="batch or member id"> <button type="submit">Thaw</button></p></form>
<form method="post" action="/admin/revoke"><p>
<select name="what"><option value="batch">revoke batch</option><option value="member">revoke member</option><option value="all">revoke everything</option></select>
<input name="key" placeholder="batch or member id"> <input name="confirm" placeholder="links to confirm" inputmode="numeric" size="8">
<button type="submit">Revoke</button></p>
<p>A revocation of most outstanding links asks for their number first.</p></form>
<p>Revoking consumed links ends the sessions they opened ({{.Sessions}} sessions open now).</p></div>

<div class="card"><h2>In force</h2><table><tr><th>Kind</th><th>Scope</th><th>Key</th><th>Since / before</th><th>Reason</th></tr>
{{range .State.Holds}}<tr><td>freeze</td><td>{{.Scope}}</td><td>{{.Key}}</td><td>{{.Since.Format "2006-01-02 15:04:05"}}</td><td>{{.Reason}}</td></tr>{{end}}
{{range .State.Marks}}<tr><td>watermark</td><td>{{if .Member}}member{{else}}global{{end}}</td><td>{{.Member}}</td><td>{{if .Seq}}every link recorded before (sequence {{.Seq}}){{end}}{{if not .Before.IsZero}} issued before {{.Before.Format "2006-01-02 15:04:05"}}{{end}}</td><td></td></tr>{{end}}
</table>
{{range .Trips}}<p class="alert">Breaker froze batch {{.Batch}}: {{.Rule}} within {{.Window}}.</p>{{end}}</div>

<div class="card"><h2>Who was affected</h2>
{{range .Batches}}<p>{{.Batch}} ({{.Links}} links: {{.Issued}} usable, {{.Frozen}} frozen, {{.Consumed}} consumed, {{.Revoked}} revoked; {{.Refused}} refused):
<a href="/admin/report?batch={{.Batch}}">report</a> · <a href="/admin/api/report?batch={{.Batch}}&amp;format=csv">CSV</a> · <a href="/admin/api/report?batch={{.Batch}}">JSON</a></p>{{else}}<p>No batch sent yet.</p>{{end}}</div>
{{template "foot"}}{{end}}

{{define "report.html"}}{{template "head" "Report"}}
<h1>Report {{.Batch}}</h1>
<p>Links issued: {{.Counts.Issued}}; logins: {{.Counts.Logins}}; identity mismatches: {{.Counts.Mismatches}}; replays: {{.Counts.Replays}}; affected members: {{.Counts.Affected}}.</p>
<table><tr><th>Member</th><th>Status</th><th>Consumed by</th><th>From</th><th>Session</th><th>Refusals</th></tr>
{{range .Members}}{{$m := .Member}}{{range .Links}}<tr><td>{{$m}}</td><td>{{.Status}}</td><td>{{with .ConsumedBy}}{{.Identity}}{{end}}</td>
<td>{{with .ConsumedBy}}{{.IP}}{{end}}</td><td>{{with .ConsumedBy}}{{.Session}}{{end}}</td><td>{{len .Refusals}}</td></tr>{{end}}{{end}}
</table>{{template "foot"}}{{end}}
`))
