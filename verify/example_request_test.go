package verify_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/oncelink/oncelink/store/memstore"
	"github.com/oncelink/oncelink/token"
	"github.com/oncelink/oncelink/verify"
)

// outbox is a Mailer that keeps what it sends.
type outbox struct {
	mu   sync.Mutex
	sent []string
}

func (o *outbox) Render(_ context.Context, a verify.Addressee, l *token.Link) ([]byte, error) {
	return []byte("To: " + a.Recipient + "\r\nSubject: Your login link\r\n\r\n" + l.URL + "\r\n"), nil
}

func (o *outbox) Send(_ context.Context, a verify.Addressee, raw []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, a.Recipient)
	return nil
}

// A member asks for a link by address; a stranger asks too. Both get the
// same page; only the member gets a message, sent after the answer.
func ExampleNewRequestFlow() {
	ctx := context.Background()
	key, _ := token.GenerateHMACKey("2026-11")
	keys, _ := token.NewKeyring(key)
	st := memstore.New()
	iss, _ := token.NewIssuer(keys, st, token.WithBaseURL("https://members.example.org/login"))
	parser, _ := iss.Parser()
	v, _ := verify.New(parser, st)

	members := map[string]verify.Addressee{
		"ann@example.org": {Member: "m-17", Recipient: "ann@example.org", Number: "10442"},
	}
	mail := &outbox{}
	rf, err := verify.NewRequestFlow(verify.RequestFlowConfig{
		Verifier: v, Issuer: iss, Purpose: token.PurposeLogin, Path: "/login/request", Mailer: mail,
		Lookup: func(_ context.Context, q verify.Query) (verify.Addressee, bool, error) {
			a, ok := members[q.Email]
			return a, ok, nil
		},
	})
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
