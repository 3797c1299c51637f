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

{{define "send.html"}}{{template "head" "Send invitations"}}
<h1>Send invitations</h1>
{{if .Notice}}<p class="{{if .Bad}}alert{{else}}ok{{end}}" role="status" id="notice">{{.Notice}}</p>{{end}}
{{if .Batch}}<p><a id="batch-console" href="/admin/?batch={{.Batch}}#timeline-h">See batch {{.Batch}} in the console</a></p>{{end}}
<div class="card"><h2>Invite every member</h2>
<p>{{.Members}} members. Mints one link each in one batch, checks every message with the send guard, and mails them in batches of ten to {{.Where}}.</p>
<form method="post" action="/admin/send"><button type="submit" id="invite">Send invitations</button></form></div>
<p><a id="console" href="/admin/">The incident console</a>: every batch, the timeline, freeze, thaw, revoke and the report.</p>
{{template "foot"}}{{end}}
`))
