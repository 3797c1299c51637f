// Package browsertest drives headless Chromium for the browser tests,
// through chromedp: a fresh profile per test, no network but the pages the
// test opens, screenshots to $ONCELINK_SCREENSHOTS.
package browsertest
