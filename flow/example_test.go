package flow_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/oncelink/oncelink/flow"
	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// outbox is a Mailer that keeps what it sends.
type outbox struct {
	mu   sync.Mutex
	sent []string
}

func (o *outbox) Render(_ context.Context, a flow.Addressee, l *token.Link) ([]byte, error) {
	return []byte("To: " + a.Recipient + "\r\nSubject: Your login link\r\n\r\n" + l.URL + "\r\n"), nil
}

func (o *outbox) Send(_ context.Context, a flow.Addressee, raw []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, a.Recipient)
	return nil
}

// A member asks for a link by address; a stranger asks too. Both get the
// same page; only the member gets a message, sent after the answer.
func ExampleNewRequest() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memstore.New()
	iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	members := map[string]flow.Addressee{
		"ann@example.org": {Member: "m-17", Recipient: "ann@example.org", Number: "10442"},
	}
	mail := &outbox{}
	lookup := func(_ context.Context, q flow.Query) (flow.Addressee, bool, error) {
		a, ok := members[q.Email]
		return a, ok, nil
	}
	rf, err := flow.NewRequest("/login/request", iss, st, lookup, mail)
	if err != nil {
		panic(err)
	}
	var pages []string
	for _, typed := range []string{"Ann@Example.org", "zed@example.org"} {
		r := httptest.NewRequest("POST", "https://members.example.org/login/request",
			strings.NewReader(url.Values{"address": {typed}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		rf.ServeHTTP(w, r)
		pages = append(pages, fmt.Sprint(w.Code, " ", w.Body.String()))
	}
	rf.Close(ctx) // waits for the queued sends
	fmt.Println("same answer:", pages[0] == pages[1])
	fmt.Println("sent to:", mail.sent)
	// Output:
	// same answer: true
	// sent to: [ann@example.org]
}

// The login flow moves the token out of the URL before it shows the form.
func ExampleNewLogin() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memstore.New()
	iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	parser, _ := iss.Parser()
	v, _ := verify.New(parser, st)
	login, _ := flow.NewLogin("/login", v, exampleSessions{})
	link, _ := iss.Mint(ctx, token.Request{Member: "m-17", Purpose: token.PurposeLogin, Recipient: "ann@example.org"})

	w := httptest.NewRecorder()
	login.ServeHTTP(w, httptest.NewRequest("GET", link.URL, nil))
	cookie := w.Result().Cookies()[0]
	fmt.Println(w.Code, w.Header().Get("Location"), cookie.Name, cookie.HttpOnly, cookie.Secure, cookie.SameSite == http.SameSiteLaxMode)

	r := httptest.NewRequest("GET", "https://members.example.org/login", nil)
	r.AddCookie(cookie)
	w = httptest.NewRecorder()
	login.ServeHTTP(w, r)
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `action="/login"`), strings.Contains(w.Body.String(), link.Token))
	// Output:
	// 303 /login __Secure-oncelink-t true true true
	// 200 true false
}

type exampleSessions struct{}

func (exampleSessions) NewReference(*http.Request) (string, error) { return "s-1", nil }
func (exampleSessions) Start(http.ResponseWriter, *http.Request, string, *verify.Result) error {
	return nil
}
