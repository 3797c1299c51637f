package guard

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/mailscan"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// Renderers: the same invitation in the shapes mail takes.

func plainText(name, url string) []byte {
	return []byte("Dear " + name + ",\r\n\r\nYour new member site is open. Log in here:\r\n" + url + "\r\n\r\nThe union\r\n")
}

func htmlBody(name, url string) []byte {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><body><table><tr><td><p>Dear ` + name + `,</p>`)
	b.WriteString(`<p><a href="` + url + `" style="color:#fff;background:#c00">Log in</a></p>`)
	b.WriteString(`<p>Or paste this address: ` + url + `</p></td></tr></table></body></html>`)
	return []byte(b.String())
}

func quotedPrintable(body []byte) []byte {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write(body)
	w.Close()
	return b.Bytes()
}

// hardWrap breaks every line at 72 bytes, as some mailers do to long URLs.
func hardWrap(body []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(body, []byte("\r\n")) {
		for len(line) > 72 {
			out = append(out, line[:72]...)
			out = append(out, "\r\n"...)
			line = line[72:]
		}
		out = append(out, line...)
		out = append(out, "\r\n"...)
	}
	return out
}

func fullMessage(to, messageID string, htmlPart []byte) []byte {
	return []byte("From: The union <noreply@union.example>\r\nTo: " + to + "\r\nSubject: Your new member site\r\n" +
		"Message-ID: <" + messageID + "@union.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + string(quotedPrintable(htmlPart)))
}

func base64Multipart(to, name, url string) []byte {
	enc := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var w strings.Builder
		for len(s) > 76 {
			w.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		w.WriteString(s + "\r\n")
		return w.String()
	}
	return []byte("To: " + to + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + enc(plainText(name, url)) +
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + enc(htmlBody(name, url)) +
		"--b1--\r\n")
}

var shapes = []struct {
	name   string
	render func(to, name, url string) []byte
}{
	{"text", func(_, n, u string) []byte { return plainText(n, u) }},
	{"html href", func(_, n, u string) []byte { return htmlBody(n, u) }},
	{"quoted-printable html", func(_, n, u string) []byte { return quotedPrintable(htmlBody(n, u)) }},
	{"wrapped text", func(_, n, u string) []byte { return hardWrap(plainText(n, u)) }},
	{"full message", func(to, n, u string) []byte { return fullMessage(to, "m-"+n, htmlBody(n, u)) }},
	{"base64 multipart", func(to, n, u string) []byte { return base64Multipart(to, n, u) }},
}

func guardFixture(t testing.TB, key *token.Key) (*fixture, []*token.Link, *Guard) {
	t.Helper()
	f := setup(t, key, nil)
	var reqs []token.Request
	for i := 0; i < 3; i++ {
		reqs = append(reqs, token.Request{Member: fmt.Sprint("m", i), Purpose: token.PurposeLogin, Recipient: fmt.Sprintf("member%d@example.org", i)})
	}
	links, err := f.iss.MintBatch(ctx, "invite", reqs)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := f.iss.Parser()
	g, err := New(p, f.st, WithBatch("invite"))
	if err != nil {
		t.Fatal(err)
	}
	return f, links, g
}

func wantBlocked(t *testing.T, err error, reason string) *BlockedError {
	t.Helper()
	var be *BlockedError
	if !errors.Is(err, ErrBlocked) || !errors.As(err, &be) {
		t.Fatalf("got %v, want a BlockedError", err)
	}
	if be.Reason != reason {
		t.Fatalf("blocked for %q, want %q (%v)", be.Reason, reason, err)
	}
	return be
}

func TestGuardAcceptsCorrectMessages(t *testing.T) {
	hk, _ := token.GenerateHMACKey("h")
	ek, _ := token.GenerateEd25519Key("e")
	for _, key := range []*token.Key{hk, ek} {
		for _, sh := range shapes {
			t.Run(string(key.Alg())+"/"+sh.name, func(t *testing.T) {
				f, links, g := guardFixture(t, key)
				for i, l := range links {
					to := fmt.Sprintf("Member%d@Example.org", i)
					raw := sh.render(to, fmt.Sprint("m", i), l.URL)
					if err := g.Check(ctx, Mail{To: to, Member: l.Claims.Member, Raw: raw}); err != nil {
						t.Fatalf("message %d: %v", i, err)
					}
				}
				// Nothing was frozen.
				if holds, _ := f.st.Holds(ctx); len(holds) != 0 {
					t.Fatalf("holds after correct messages: %+v", holds)
				}
			})
		}
	}
}

func TestGuardRefusesForeignLink(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			f, links, g := guardFixture(t, nil)
			// The reused mail object: member 1 gets the message rendered for member 0.
			raw := sh.render("member0@example.org", "m0", links[0].URL)
			if sh.name == "full message" || sh.name == "base64 multipart" {
				raw = sh.render("member1@example.org", "m0", links[0].URL)
			}
			err := g.Check(ctx, Mail{To: "member1@example.org", Raw: raw})
			be := wantBlocked(t, err, "foreign link")
			if be.TokenID != links[0].Claims.ID || be.Batch != "invite" {
				t.Fatalf("blocked error %+v", be)
			}
			// Sticky: a correct message is refused after it.
			err = g.Check(ctx, Mail{To: "member2@example.org", Raw: plainText("m2", links[2].URL)})
			wantBlocked(t, err, "blocked")
			// The batch is frozen: the links that may have left do not work.
			_, cerr := f.v.Consume(ctx, login(links[0].URL, verify.Identity{Email: "member0@example.org"}))
			if !errors.Is(cerr, verify.ErrFrozen) {
				t.Fatalf("after a blocked message: %v, want verify.ErrFrozen", cerr)
			}
			evs, _, _ := f.st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventBlocked}})
			if len(evs) != 1 || evs[0].Reason != "foreign link" || evs[0].TokenID != links[0].Claims.ID {
				t.Fatalf("ledger: %+v", evs)
			}
		})
	}
}

func TestGuardRefusals(t *testing.T) {
	exp := setup(t, nil, nil)
	shortLived, _ := exp.iss.Mint(ctx, token.Request{Member: "m0", Purpose: token.PurposeLogin, Recipient: "member0@example.org", TTL: time.Minute})
	_ = shortLived
	cases := []struct {
		name   string
		build  func(links []*token.Link, f *fixture) []Mail
		reason string
	}{
		{"missing link", func(ls []*token.Link, _ *fixture) []Mail {
			return []Mail{{To: "member0@example.org", Raw: plainText("m0", "https://members.example.org/login")}}
		}, "no link"},
		{"duplicate across messages", func(ls []*token.Link, _ *fixture) []Mail {
			return []Mail{{To: "member0@example.org", Raw: plainText("m0", ls[0].URL)}, {To: "member0@example.org", Raw: htmlBody("m0", ls[0].URL)}}
		}, "duplicate link"},
		{"other member", func(ls []*token.Link, _ *fixture) []Mail {
			return []Mail{{To: "member0@example.org", Member: "m9", Raw: plainText("m0", ls[0].URL)}}
		}, "other member"},
		{"to header disagrees", func(ls []*token.Link, _ *fixture) []Mail {
			return []Mail{{To: "member0@example.org", Raw: fullMessage("member1@example.org", "x", htmlBody("m0", ls[0].URL))}}
		}, "other recipient"},
		{"cut short", func(ls []*token.Link, _ *fixture) []Mail {
			return []Mail{{To: "member0@example.org", Raw: plainText("m0", ls[0].URL[:len(ls[0].URL)-5])}}
		}, "broken link"},
		{"tampered", func(ls []*token.Link, _ *fixture) []Mail {
			u := ls[0].URL
			return []Mail{{To: "member0@example.org", Raw: plainText("m0", u[:len(u)-2]+"AA")}}
		}, "broken link"},
		{"link without recipient", func(ls []*token.Link, f *fixture) []Mail {
			l, _ := f.iss.Mint(ctx, token.Request{Member: "m0", Purpose: token.PurposeLogin})
			return []Mail{{To: "member0@example.org", Raw: plainText("m0", l.URL)}}
		}, "unbound link"},
		{"link of another batch", func(ls []*token.Link, f *fixture) []Mail {
			l, _ := f.iss.MintBatch(ctx, "other", []token.Request{{Member: "m0", Purpose: token.PurposeLogin, Recipient: "member0@example.org"}})
			return []Mail{{To: "member0@example.org", Raw: plainText("m0", l[0].URL)}}
		}, "other batch"},
		{"bad recipient", func(ls []*token.Link, _ *fixture) []Mail {
			return []Mail{{To: "not an address", Raw: plainText("m0", ls[0].URL)}}
		}, "bad recipient"},
		{"second message of a batch is foreign: nothing passes", func(ls []*token.Link, _ *fixture) []Mail {
			return []Mail{{To: "member0@example.org", Raw: plainText("m0", ls[0].URL)}, {To: "member1@example.org", Raw: plainText("m0", ls[0].URL)}}
		}, "foreign link"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, links, g := guardFixture(t, nil)
			wantBlocked(t, g.CheckAll(ctx, tc.build(links, f)), tc.reason)
		})
	}
}

func TestGuardRetriesAndOtherJWTs(t *testing.T) {
	_, links, g := guardFixture(t, nil)
	m := Mail{To: "member0@example.org", Raw: fullMessage("member0@example.org", "abc", htmlBody("m0", links[0].URL))}
	if err := g.Check(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(ctx, m); err != nil {
		t.Fatalf("a retry of the same message (same Message-ID): %v", err)
	}
	withID := Mail{ID: "q-1", To: "member1@example.org", Raw: plainText("m1", links[1].URL)}
	if err := g.Check(ctx, withID); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(ctx, withID); err != nil {
		t.Fatalf("a retry of the same message (same ID): %v", err)
	}
	// A message carrying another JWT (not oncelink's) and no link, on purpose.
	other := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	if err := g.Check(ctx, Mail{To: "member2@example.org", NoLink: true, Raw: []byte("unsubscribe: https://x.example/u?jwt=" + other)}); err != nil {
		t.Fatalf("a message with another JWT and no link: %v", err)
	}
	wantBlocked(t, g.Check(ctx, Mail{To: "member1@example.org", Raw: plainText("m1", links[1].URL)}), "duplicate link")
}

func TestGuardBounds(t *testing.T) {
	_, _, g := guardFixture(t, nil)
	big := bytes.Repeat([]byte("a"), maxMessage+1)
	wantBlocked(t, g.Check(ctx, Mail{To: "member0@example.org", Raw: big}), "too large")
	_, links2, g2 := guardFixture(t, nil)
	var many []byte
	for i := 0; i < maxLinks+2; i++ {
		many = append(many, plainText("x", links2[0].URL)...)
	}
	// The same link many times is one link.
	if err := g2.Check(ctx, Mail{To: "member0@example.org", Raw: many}); err != nil {
		t.Fatalf("one link repeated: %v", err)
	}
}

// FuzzGuard feeds arbitrary messages around real links: the guard never
// panics, refuses with a BlockedError or accepts, and accepts a message
// with a link only when it read it whole, every link is the recipient's,
// and the header names nobody else.
func FuzzGuard(f *testing.F) {
	fx, links, _ := guardFixture(f, nil)
	p, _ := fx.iss.Parser()
	f.Add([]byte(links[0].URL), "member0@example.org")
	f.Add(htmlBody("m0", links[0].URL), "member0@example.org")
	f.Add(quotedPrintable(htmlBody("m0", links[1].URL)), "member0@example.org")
	f.Add(base64Multipart("member0@example.org", "m0", links[0].URL), "member0@example.org")
	f.Add(hardWrap(plainText("m", links[2].URL)), "member2@example.org")
	f.Add([]byte("To: member0@example.org\r\nCc: member1@example.org\r\n\r\n"+links[0].URL), "member0@example.org")
	f.Fuzz(func(t *testing.T, raw []byte, to string) {
		g, _ := New(p, fx.st)
		err := g.Check(ctx, Mail{To: to, Raw: raw})
		if err != nil {
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("refusal is not a BlockedError: %v", err)
			}
			return
		}
		msg, serr := mailscan.Scan(raw, scanLimits, false)
		if serr != nil {
			t.Fatalf("accepted a message the scanner cannot read: %v", serr)
		}
		canon, _ := token.CanonicalEmail(to)
		for _, tk := range msg.Tokens {
			vt, err := p.Inspect(tk)
			if err != nil {
				t.Fatalf("accepted a message with a broken link: %v", err)
			}
			if _, ok := vt.Confirm(token.KindEmail, canon); !ok {
				t.Fatal("accepted a foreign link")
			}
		}
		for _, r := range msg.Recipients {
			if c, err := token.CanonicalEmail(r); len(msg.Tokens) > 0 && (err != nil || c != canon) {
				t.Fatalf("accepted a message with a link and another recipient %q", r)
			}
		}
	})
}

// TestGuardSoftBreaks cuts a link with quoted-printable soft breaks at
// awkward places, the "eyJ" prefix included: the guard still finds and
// checks it.
func TestGuardSoftBreaks(t *testing.T) {
	_, links, g := guardFixture(t, nil)
	url := strings.Replace(links[0].URL, "?t=", "?t=3D", 1)
	at := strings.Index(url, "eyJ")
	for _, cut := range []int{at, at + 1, at + 2, at + 3, at + 40, len(url) - 1} {
		raw := []byte("Content-Transfer-Encoding: quoted-printable\r\n\r\nLog in: " + url[:cut] + "=\r\n" + url[cut:] + "\r\n")
		msg, err := mailscan.Scan(raw, scanLimits, false)
		if err != nil || len(msg.Tokens) != 1 || msg.Tokens[0] != links[0].Token {
			t.Fatalf("cut at %d: %+v, %v", cut-at, msg, err)
		}
	}
	raw := []byte("Log in: " + url[:at+1] + "=\r\n" + url[at+1:] + "\r\n")
	if err := g.Check(ctx, Mail{To: "member1@example.org", Raw: raw}); err == nil {
		t.Fatal("a foreign link cut by a soft break passed")
	}
}

func TestGuardRecordsUnreadableRecipient(t *testing.T) {
	f, links, g := guardFixture(t, nil)
	to := "member0@example.org\xff"
	err := g.Check(ctx, Mail{To: to, Raw: plainText("m0", links[0].URL)})
	wantBlocked(t, err, "bad recipient")
	evs, _, lerr := f.st.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventBlocked}})
	if lerr != nil || len(evs) != 1 || evs[0].Reason != "bad recipient" {
		t.Fatalf("ledger: %+v, %v; want the blocked message recorded", evs, lerr)
	}
}

func TestMailRedacted(t *testing.T) {
	_, links, _ := guardFixture(t, nil)
	m := Mail{To: "member0@example.org", Member: "m0", Raw: plainText("m0", links[0].URL), ID: "x1"}
	secret := links[0].Token
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("sending", "mail", m)
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%+v", m), fmt.Sprintf("%#v", m), fmt.Sprint(&m), logged.String()} {
		tail := secret[len(secret)-20:]
		for _, form := range []string{tail, strings.Trim(fmt.Sprint([]byte(tail)), "[]"), fmt.Sprintf("%x", tail)} {
			if strings.Contains(s, form) {
				t.Fatalf("the message's link is printed: %s", s)
			}
		}
		if !strings.Contains(s, "member0@example.org") {
			t.Fatalf("the recipient is not printed: %s", s)
		}
	}
}
