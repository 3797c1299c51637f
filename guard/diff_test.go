package guard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oncelink/oncelink/internal/mailscan"
	"github.com/oncelink/oncelink/internal/wire"
	"github.com/oncelink/oncelink/token"
)

// pyResult is what testdata/pyemail.py prints for one message.
type pyResult struct {
	Name       string   `json:"name"`
	Recipients []string `json:"recipients"`
	Texts      []string `json:"texts"`
	Tokens     []string `json:"tokens"`
	Error      string   `json:"error"`
}

// TestDifferentialPython reads every corpus message with Python's email
// package (policy.default) as well, a parser written apart from the guard's,
// and checks that wherever the guard reads a message, it finds every
// recipient and every decoded text part Python finds, and every token
// those texts expose. A message the guard refuses to read is refused, which
// is the stronger answer. Skipped without python3.
func TestDifferentialPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the differential check against Python's email package is skipped")
	}
	_, links, _ := guardFixture(t, nil)
	dir := t.TempDir()
	var msgs []corpusMessage
	for _, set := range []string{"honest", "hostile"} {
		for _, cm := range loadCorpus(t, set, newCorpusLinks(links)) {
			if len(cm.mail.Raw) > maxMessage {
				continue // refused before reading
			}
			cm.name = set + "-" + cm.name
			if err := os.WriteFile(filepath.Join(dir, cm.name), cm.mail.Raw, 0o600); err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, cm)
		}
	}
	args := []string{filepath.Join("testdata", "pyemail.py")}
	for _, cm := range msgs {
		args = append(args, filepath.Join(dir, cm.name))
	}
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		t.Fatalf("pyemail.py: %v", err)
	}
	results := map[string]pyResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r pyResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		results[r.Name] = r
	}
	compared, refused, pyFailed, tokens := 0, 0, 0, 0
	for _, cm := range msgs {
		r, ok := results[cm.name]
		if !ok {
			t.Fatalf("%s: no answer from Python", cm.name)
		}
		if r.Error != "" {
			pyFailed++
			t.Logf("%s: Python cannot read it (%s)", cm.name, r.Error)
			continue
		}
		msg, err := mailscan.Scan(cm.mail.Raw, scanLimits, true)
		if err != nil {
			if strings.HasPrefix(cm.name, "honest-") {
				t.Errorf("%s: the guard cannot read an honest message: %v", cm.name, err)
			}
			refused++
			continue
		}
		compared++
		tokens += compareWithPython(t, cm.name, msg, r)
	}
	t.Logf("compared %d messages with Python (%d tokens Python's decoding exposes); the guard refused to read %d; Python could not read %d",
		compared, tokens, refused, pyFailed)
	if compared < 40 {
		t.Errorf("only %d messages compared", compared)
	}
}

func compareWithPython(t *testing.T, name string, msg *mailscan.Message, r pyResult) (tokens int) {
	t.Helper()
	canon := func(list []string) []string {
		var out []string
		for _, a := range list {
			c, err := token.CanonicalEmail(a)
			if err != nil {
				c = "!" + a
			}
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		slices.Sort(out)
		return out
	}
	ours, theirs := canon(msg.Recipients), canon(r.Recipients)
	for _, a := range theirs {
		if !slices.Contains(ours, a) {
			t.Errorf("%s: Python finds recipient %q, the guard does not (guard: %q)", name, a, ours)
		}
	}
	if strings.HasPrefix(name, "honest-") && !slices.Equal(ours, theirs) {
		t.Errorf("%s: recipients differ: guard %q, Python %q", name, ours, theirs)
	}
	norm := func(s string) string {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.TrimPrefix(s, "\ufeff")
		return strings.TrimRight(s, " \n")
	}
	var texts []string
	for _, b := range msg.Texts {
		texts = append(texts, norm(string(b)))
	}
	for i, pt := range r.Texts {
		// Python's text is one of the guard's readings, or within one (a
		// base64 part that Python stops reading at its first padding).
		if !slices.ContainsFunc(texts, func(g string) bool { return strings.Contains(g, norm(pt)) }) {
			t.Errorf("%s: Python's text part %d is not among the guard's decoded texts:\n%.300q", name, i, norm(pt))
		}
	}
	for _, c := range r.Tokens {
		n, kind := wire.Span([]byte(c))
		if kind != wire.Whole {
			continue
		}
		tokens++
		if !slices.Contains(msg.Tokens, c[:n]) {
			t.Errorf("%s: Python's decoding exposes a token the guard does not find", name)
		}
	}
	return tokens
}
