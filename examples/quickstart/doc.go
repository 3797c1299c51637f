// Command quickstart wires oncelink into a site (site.go, which the
// README quotes), then mints a login link, shows it, consumes it once, and
// shows that a replay and a stranger are refused.
//
// # Security considerations
//
// The quickstart prints a link to show it; a real site sends it to its
// member and nowhere else.
package main
