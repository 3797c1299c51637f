package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/verify"
)

// scrape reads the site's metrics over HTTP, as Prometheus does, and
// parses the text exposition format.
func scrape(t *testing.T, metricsURL string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	return fams, string(body)
}

// sample sums the counters of family name whose labels hold want; for a
// histogram, it sums their observation counts.
func sample(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	var n float64
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			n += m.GetCounter().GetValue()
		case dto.MetricType_HISTOGRAM:
			n += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return n
}

// visitor is a person with a browser's memory of cookies, without the
// browser: the login flow's pages over plain HTTP.
type visitor struct {
	t *testing.T
	c *http.Client
}

func newVisitor(t *testing.T) *visitor {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &visitor{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (v *visitor) do(resp *http.Response, err error) (int, string) {
	v.t.Helper()
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// open follows a link from a message to the confirmation page.
func (v *visitor) open(link string) (int, string) { return v.do(v.c.Get(link)) }

// confirm posts the confirmation form with an address.
func (v *visitor) confirm(base, email string) (int, string) {
	return v.do(v.c.PostForm(base+"/login", url.Values{"email": {email}}))
}

// TestMetrics runs the site on SQLite with its metrics on a listener of
// their own, and reads them over HTTP while an invitation goes out, a
// member logs in, another person types her own address on someone
// else's link, an operator freezes the batch (a link opened then is
// paused) and thaws it.
func TestMetrics(t *testing.T) {
	site, base := startSite(t, SMTPConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := serveMetrics(ctx, "127.0.0.1:0", site.MetricsHandler())
	if err != nil {
		t.Fatal(err)
	}
	metricsURL := "http://" + addr + "/metrics"

	// The site's own pages do not serve the metrics.
	if resp, err := http.Get(base + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the site's port answers /metrics: %v %v", resp.Status, err)
	}
	before, _ := scrape(t, metricsURL)

	res, err := site.Invite(ctx)
	if err != nil || res.Sent != len(site.members) || res.Blocked != nil {
		t.Fatalf("invite: %+v %v", res, err)
	}
	links, _ := outboxLinks(t, site)
	ann, bo, carla := site.members[0], site.members[1], site.members[2]

	// Ann logs in.
	a := newVisitor(t)
	if code, page := a.open(links[ann.Email]); code != http.StatusOK || !strings.Contains(page, "Confirm your login") {
		t.Fatalf("Ann's link: %d\n%s", code, page)
	}
	if code, page := a.confirm(base, ann.Email); code != http.StatusOK || !strings.Contains(page, "Welcome, "+ann.Name) {
		t.Fatalf("Ann's login: %d\n%s", code, page)
	}

	// Carla has Bo's link and types her own address.
	c := newVisitor(t)
	c.open(links[bo.Email])
	if code, page := c.confirm(base, carla.Email); code != http.StatusForbidden || !strings.Contains(page, verify.MessageCheckAddress) {
		t.Fatalf("Carla with Bo's link: %d\n%s", code, page)
	}

	// The operator freezes the batch; Bo's link is paused; then thaws it.
	if _, err := site.adm.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: res.Batch, Reason: "checking"}, "operator"); err != nil {
		t.Fatal(err)
	}
	if code, page := newVisitor(t).open(links[bo.Email]); !strings.Contains(page, verify.MessageLater) {
		t.Fatalf("Bo's link while frozen: %d\n%s", code, page)
	}
	if _, err := site.adm.Thaw(ctx, store.Hold{Scope: store.ScopeBatch, Key: res.Batch}, "operator"); err != nil {
		t.Fatal(err)
	}

	after, text := scrape(t, metricsURL)
	moved := func(name string, want float64, labels ...string) {
		t.Helper()
		if d := sample(after, name, labels...) - sample(before, name, labels...); d != want {
			t.Errorf("%s%v moved by %v, want %v", name, labels, d, want)
		}
	}
	moved("oncelink_links_minted_total", float64(len(site.members)), "oncelink_link_kind", "batch")
	moved("oncelink_links_minted_total", 0, "oncelink_link_kind", "single")
	moved("oncelink_links_consumed_total", 1)
	moved("oncelink_refusals_total", 1, "oncelink_reason", string(store.ReasonMismatch))
	moved("oncelink_refusals_total", 1, "oncelink_reason", string(store.ReasonFrozen))
	moved("oncelink_refusals_total", 2)
	moved("oncelink_holds_placed_total", 1, "oncelink_hold_by", "operator", "oncelink_scope", "batch")
	moved("oncelink_holds_lifted_total", 1, "oncelink_scope", "batch")
	moved("oncelink_breaker_trips_total", 0)
	moved("oncelink_mail_blocked_total", 0)
	moved("oncelink_store_errors_total", 0)
	// Ann's consumption and Carla's mismatch each went through Consume.
	moved("oncelink_store_operation_duration_seconds", 2, "oncelink_store_operation", "consume")
	moved("oncelink_store_operation_duration_seconds", 1, "oncelink_store_operation", "insert", "oncelink_link_kind", "batch")
	if n := sample(after, "oncelink_store_operation_duration_seconds", "oncelink_store_operation", "peek"); n < 3 {
		t.Errorf("peek durations: %v", n)
	}

	checkPrivate(t, site, links, res.Batch, after, text)
}

// checkPrivate fails if the metrics hold a member's id, address or number,
// a link or the batch.
func checkPrivate(t *testing.T, site *Site, links map[string]string, batch string, after map[string]*dto.MetricFamily, text string) {
	// Nothing about a member, a batch or a link is in the metrics.
	for _, m := range site.members[:3] {
		_, tok, _ := strings.Cut(links[m.Email], "t=")
		for _, secret := range []string{m.ID, m.Email, tok, batch} {
			if strings.Contains(text, secret) {
				t.Errorf("the metrics hold %q", secret)
			}
		}
		for _, f := range after {
			for _, s := range f.GetMetric() {
				for _, l := range s.GetLabel() {
					if strings.Contains(l.GetValue(), m.Number) {
						t.Errorf("%s has the label %s=%q", f.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}
