package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/oncelink/oncelink/internal/testenv"
)

// ScreenshotsEnv names the directory screenshots go to; CI sets it.
const ScreenshotsEnv = "ONCELINK_SCREENSHOTS"

// Chromium returns the path of Debian's Chromium, or skips the test (fails
// it when services are required).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, c := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if testenv.Required() {
		t.Fatal("chromium is required (" + testenv.RequireEnv + "=1); .ci/run installs Debian's chromium")
	}
	t.Skip("skipping: chromium not installed (Debian package chromium)")
	return ""
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	t     testing.TB
	ctx   context.Context
	shots string
}

// Start starts headless Chromium with a fresh profile; it closes when the
// test ends. Every action of the test must end within timeout.
func Start(t testing.TB, timeout time.Duration) *Browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(900, 700),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// The first Run starts the browser and binds its life to bctx, which
	// has no deadline; the test's deadline goes on the context derived
	// from it.
	if err := chromedp.Do(bctx); err != nil {
		bcancel()
		acancel()
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() {
		cancel()
		bcancel()
		acancel()
	})
	shots := os.Getenv(ScreenshotsEnv)
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "oncelink-screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Browser{t: t, ctx: ctx, shots: shots}
}

func (b *Browser) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

// Navigate opens url and waits for it to load.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Navigate(url)))
}

// Click clicks the element a CSS selector names.
func (b *Browser) Click(css string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(css))))
}

// Type types text into the element a CSS selector names.
func (b *Browser) Type(css, text string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS(css), text)))
}

// URL returns the address of the page.
func (b *Browser) URL() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	b.must(err)
	return u
}

// HTML returns the page's HTML, or "" while a navigation replaces it.
func (b *Browser) HTML() string {
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil {
		return ""
	}
	return s
}

// WaitFor waits, boundedly, for a page that contains every one of wants
// (a form submission or a click navigates), and returns its HTML.
func (b *Browser) WaitFor(what string, wants ...string) string {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		src := b.HTML()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(src, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return src
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: the page lacks %q:\n%s", what, missing, src)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Screenshot writes a PNG of the page to the screenshot directory.
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	b.must(err)
	p := filepath.Join(b.shots, name)
	b.must(os.WriteFile(p, png, 0o644))
	b.t.Logf("screenshot: %s", p)
}

// DisableScripts turns off script execution in the tab, as a browser
// with JavaScript disabled: pages must work without it. HTML and the
// other helpers still read the page through the DevTools protocol.
func (b *Browser) DisableScripts() {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})))
}

// Eval evaluates a JavaScript expression of the DevTools protocol that
// answers true or false, such as a check of the layout.
func (b *Browser) Eval(expr string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
	b.must(err)
	return v
}

// FullScreenshot writes a PNG of the whole page, beyond the viewport, to
// the screenshot directory.
func (b *Browser) FullScreenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	b.must(err)
	p := filepath.Join(b.shots, name)
	b.must(os.WriteFile(p, png, 0o644))
	b.t.Logf("screenshot: %s", p)
}
