package webdriver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Driver is a running chromedriver.
type Driver struct {
	cmd  *exec.Cmd
	base string
}

// Session is a browser session.
type Session struct {
	d  *Driver
	id string
}

// Start runs chromedriver on a free loopback port and waits, boundedly,
// until it answers.
func Start(ctx context.Context, chromedriver string) (*Driver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(chromedriver, "--port="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &Driver{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var status struct {
			Ready bool `json:"ready"`
		}
		if err := d.call(ctx, "GET", "/status", nil, &status); err == nil && status.Ready {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("chromedriver did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends chromedriver.
func (d *Driver) Stop() {
	if d.cmd.Process != nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
	}
}

func (d *Driver) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("webdriver %s %s: %s", method, path, raw)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webdriver %s %s: %d %s", method, path, resp.StatusCode, env.Value)
	}
	if out != nil {
		return json.Unmarshal(env.Value, out)
	}
	return nil
}

// Chromium opens a headless Chromium session with a fresh profile in
// profileDir. The flags keep Chromium off the network but for the pages the
// test opens.
func (d *Driver) Chromium(ctx context.Context, binary, profileDir string) (*Session, error) {
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": binary,
			"args": []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--disable-dev-shm-usage", "--window-size=900,700", "--user-data-dir=" + profileDir},
		},
	}}}
	var res struct {
		SessionID string `json:"sessionId"`
	}
	if err := d.call(ctx, "POST", "/session", caps, &res); err != nil {
		return nil, err
	}
	return &Session{d: d, id: res.SessionID}, nil
}

// Close ends the session and its browser.
func (s *Session) Close(ctx context.Context) error {
	return s.d.call(ctx, "DELETE", "/session/"+s.id, nil, nil)
}

// Navigate opens url and waits for the page to load.
func (s *Session) Navigate(ctx context.Context, url string) error {
	return s.d.call(ctx, "POST", "/session/"+s.id+"/url", map[string]string{"url": url}, nil)
}

// URL returns the address of the current page.
func (s *Session) URL(ctx context.Context) (string, error) {
	var u string
	err := s.d.call(ctx, "GET", "/session/"+s.id+"/url", nil, &u)
	return u, err
}

// Source returns the current page's HTML.
func (s *Session) Source(ctx context.Context) (string, error) {
	var src string
	err := s.d.call(ctx, "GET", "/session/"+s.id+"/source", nil, &src)
	return src, err
}

// Element is an element of the current page.
type Element struct {
	s  *Session
	id string
}

// Find returns the first element matching a CSS selector.
func (s *Session) Find(ctx context.Context, css string) (*Element, error) {
	var res map[string]string
	if err := s.d.call(ctx, "POST", "/session/"+s.id+"/element", map[string]string{"using": "css selector", "value": css}, &res); err != nil {
		return nil, err
	}
	for _, id := range res {
		return &Element{s: s, id: id}, nil
	}
	return nil, fmt.Errorf("webdriver: no element id for %q", css)
}

// Type types text into the element.
func (e *Element) Type(ctx context.Context, text string) error {
	return e.s.d.call(ctx, "POST", "/session/"+e.s.id+"/element/"+e.id+"/value", map[string]string{"text": text}, nil)
}

// Click clicks the element and, for a submit button, waits for the next
// page.
func (e *Element) Click(ctx context.Context) error {
	return e.s.d.call(ctx, "POST", "/session/"+e.s.id+"/element/"+e.id+"/click", map[string]string{}, nil)
}

// Screenshot writes a PNG of the current page to path.
func (s *Session) Screenshot(ctx context.Context, path string) error {
	var b64 string
	if err := s.d.call(ctx, "GET", "/session/"+s.id+"/screenshot", nil, &b64); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}
