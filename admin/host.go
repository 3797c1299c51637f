package admin

import (
	"fmt"
	"net/http"
	"strings"
)

// A HandlerOption configures [NewHandler].
type HandlerOption interface {
	applyHandler(*webConfig) error
}

// An HTTPOption configures both the admin API ([NewHandler]) and the
// console ([NewConsole]).
type HTTPOption interface {
	HandlerOption
	ConsoleOption
}

// webConfig is what the API and the console share.
type webConfig struct {
	hosts []hostName
}

type httpOption func(*webConfig) error

func (o httpOption) applyHandler(c *webConfig) error { return o(c) }
func (o httpOption) applyConsole(c *consoleConfig) error {
	return o(&c.webConfig)
}

// hostName is an allowed Host: a name, and a port when only that port is
// allowed.
type hostName struct {
	name, port string
}

// loopbackHosts are the names allowed when none are configured.
var loopbackHosts = []hostName{{name: "localhost"}, {name: "127.0.0.1"}, {name: "::1"}}

// AllowHosts sets the names the API or the console answers to, as the
// request's Host says them: "admin.example.org" (any port) or
// "admin.example.org:8443" (that port only), "[2001:db8::1]:8443" for an
// IPv6 address. Names are compared without case and without a final dot.
// Every other Host is refused with 421 Misdirected Request, before the
// authorizer runs.
//
// Without AllowHosts, only the loopback names are answered: localhost,
// 127.0.0.1 and [::1], on any port. The list defeats DNS rebinding: a page
// whose name an attacker re-points at the admin's address reaches it with
// its own name in Host, and is refused, where the same-origin check alone
// would let it through (its Origin and Host agree).
func AllowHosts(hosts ...string) HTTPOption {
	return httpOption(func(c *webConfig) error {
		if len(hosts) == 0 {
			return fmt.Errorf("%w: AllowHosts needs at least one name", ErrConfig)
		}
		for _, h := range hosts {
			hn, ok := parseHost(h)
			if !ok || hn.name == "" || strings.ContainsAny(hn.name, "*/\\@ ") {
				return fmt.Errorf("%w: %q is not a host name, host:port or [ipv6]:port", ErrConfig, h)
			}
			c.hosts = append(c.hosts, hn)
		}
		return nil
	})
}

// parseHost splits a Host header into its name (lower case, no final dot,
// IPv6 without brackets) and its port ("" when none).
func parseHost(h string) (hostName, bool) {
	if h == "" || len(h) > 255 {
		return hostName{}, false
	}
	var name, port string
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return hostName{}, false
		}
		name, port = h[1:end], h[end+1:]
		if port != "" {
			var ok bool
			if port, ok = strings.CutPrefix(port, ":"); !ok {
				return hostName{}, false
			}
		}
	} else {
		var found bool
		name, port, found = strings.Cut(h, ":")
		if found && strings.Contains(port, ":") {
			return hostName{}, false // an IPv6 address must be bracketed
		}
	}
	if len(port) > 5 || strings.Trim(port, "0123456789") != "" {
		return hostName{}, false
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	return hostName{name: name, port: port}, name != ""
}

// allowed reports whether the request's Host is one of hosts (the loopback
// names when hosts is empty).
func (c *webConfig) allowed(r *http.Request) bool {
	got, ok := parseHost(r.Host)
	if !ok {
		return false
	}
	hosts := c.hosts
	if len(hosts) == 0 {
		hosts = loopbackHosts
	}
	for _, h := range hosts {
		if h.name == got.name && (h.port == "" || h.port == got.port) {
			return true
		}
	}
	return false
}

func handlerConfig(opts []HandlerOption) (webConfig, error) {
	var c webConfig
	for _, o := range opts {
		if o == nil {
			return c, fmt.Errorf("%w: nil option", ErrConfig)
		}
		if err := o.applyHandler(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}
