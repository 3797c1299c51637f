// Package webdriver drives a real browser through the W3C WebDriver
// protocol (chromedriver and headless Chromium), with net/http alone: enough
// for end-to-end tests that open a page, fill a form, click, read the page
// and take a screenshot.
//
// # Security considerations
//
// For tests only: the browser runs headless without a sandbox, as root on
// CI machines, with a fresh profile, and opens only the pages the test
// serves on loopback.
package webdriver
