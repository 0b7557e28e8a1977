package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// hostile is what a visitor put in utm_campaign: it must show as text on
// every page, never run.
const hostile = `<script>alert(1)</script>`

// activePool creates a pool through the admin API and waits until the
// reconciler has bought its numbers.
func (n *node) activePool(name string) poolJSON {
	n.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"name": name, "size": 4, "swap_target": "(415) 555-0100", "forward_to": []string{"+14155550100"},
	})
	req, _ := http.NewRequest("POST", n.url+"/v1/pools", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+n.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirects.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var p poolJSON
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &p) != nil {
		n.t.Fatalf("create a pool: %d %s", resp.StatusCode, b)
	}
	deadline := time.Now().Add(wait)
	for {
		for _, q := range n.pools() {
			if q.ID == p.ID && q.Status == "active" {
				return q
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("pool %s did not become active in %v", p.ID, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// download clicks a link that downloads a file and returns the file once
// the browser has it.
func (tb *tab) download(selector, name string) string {
	tb.t.Helper()
	dir := tb.t.TempDir()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
		BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID,
	})
	if err != nil {
		tb.t.Fatalf("allow downloads: %v", err)
	}
	tb.click(selector)
	deadline := time.Now().Add(wait)
	for {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			tb.t.Fatalf("no %s downloaded in %v (the directory holds %v)", name, wait, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestASimulatedCallFromTheDemoPageShowsOnTheCallsAndCampaignsPagesAndInTheExport(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	tb := newTab(t, n)
	tb.signIn()

	// The demo page: the snippet swaps the business number for a tracking
	// number of the pool, for a visitor from a campaign with a hostile name.
	q := url.Values{
		"utm_source": {"google"}, "utm_medium": {"cpc"}, "utm_campaign": {hostile},
		"utm_term": {"emergency plumber"}, "gclid": {"G-123"},
	}
	tb.open("/admin/demo/" + pl.ID + "?" + q.Encode())
	tb.until(`document.querySelector("#phone-text").textContent !== "(415) 555-0100"`, "the snippet to swap the number")
	shown := tb.text("#phone-text")
	tb.shot("demo page, number swapped")
	number := "+1" + strings.NewReplacer("(", "", ")", "", " ", "", "-", "").Replace(shown)

	// Simulate a call to that number from the pool's page.
	tb.open("/admin/pools/" + pl.ID)
	tb.wantText(`tr[data-number="`+number+`"]`, "held")
	tb.submit(`button[data-simulate="`+number+`"]`, "#call-result")
	tb.wantText("#call-result", `completed, answered by \(415\) 555-0100`)
	tb.wantText("#call-result", `“Call from Google Ads”`)
	tb.wantText("#call-result", `match live, campaign “`+regexpQuote(hostile)+`”`)
	tb.shot("simulated call")

	// The Calls page shows it with its attribution, the campaign as text.
	tb.click(`a[href="/admin/calls"].button`)
	tb.waitFor("table.calls")
	row := `table.calls tbody tr:first-child`
	tb.wantText(row+" td.campaign", "^"+regexpQuote(hostile)+"$")
	for _, want := range []string{"google", "cpc", "emergency plumber", "G-123", "live", "Call from Google Ads", "completed", "Spring sale", regexpQuote(shown)} {
		tb.wantText(row, want)
	}
	if got := eval[int](tb, `document.querySelectorAll("main script, main svg script").length`); got != 0 {
		t.Fatalf("the Calls page has %d script elements in its content", got)
	}
	tb.shot("calls")

	// Filters: the campaign as typed finds it; another source does not.
	tb.fill(`input[name=campaign]`, hostile)
	tb.submit(`form.filters button[type=submit]`, "table.calls")
	tb.wantText(row+" td.campaign", "^"+regexpQuote(hostile)+"$")
	tb.fill(`input[name=source]`, "facebook")
	tb.submit(`form.filters button[type=submit]`, "p.empty")
	tb.wantText("p.empty", "No calls match these filters")
	tb.open("/admin/calls")

	// The export holds the same call, the campaign as the visitor wrote it.
	csv := tb.download("#export-csv", "calls.csv")
	if !strings.HasPrefix(csv, "started_at,sid,") || !strings.Contains(csv, hostile) || !strings.Contains(csv, number) {
		t.Fatalf("the CSV export is:\n%s", csv)
	}

	// The Campaigns page counts it, works out the cost per call from the
	// spend typed, and draws it.
	tb.open("/admin/campaigns")
	tb.waitFor("table.report")
	tb.wantText("table.report tbody td.campaign", "^"+regexpQuote(hostile)+"$")
	tb.wantText("table.report tbody tr", `google\s+cpc\s+.*\s+1\s+1\s+1`)
	tb.fill(`input[name=spend]`, "120")
	tb.submit(`form.campaigns button.primary`, "table.report")
	tb.wantText("table.report tbody td.cost", `^120\.00$`)
	tb.wantText("table.report tfoot", `120\.00`)
	if got := eval[string](tb, `document.querySelector("svg.chart text.label").textContent`); got != hostile {
		t.Fatalf("the chart labels the campaign %q", got)
	}
	if got := eval[int](tb, `document.querySelectorAll("svg.chart rect.bar").length`); got != 1 {
		t.Fatalf("the chart has %d bars", got)
	}
	if got := eval[int](tb, `document.querySelectorAll("main script").length`); got != 0 {
		t.Fatalf("the Campaigns page has %d script elements in its content", got)
	}
	if !strings.Contains(eval[string](tb, "location.search"), "spend=120") {
		t.Fatalf("the spend is not in the page's address: %s", eval[string](tb, "location.href"))
	}
	tb.shot("campaigns")

	// The Cluster page.
	tb.open("/admin/cluster")
	tb.wantText("#leader", "^n1$")
	tb.wantText(`tr[data-node="n1"]`, `leader[\s\S]*ready`)
	tb.shot("cluster")
}

// regexpQuote quotes s for a pattern.
func regexpQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`, `[`, `\[`, `]`, `\]`, `.`, `\.`, `*`, `\*`, `+`, `\+`, `?`, `\?`, `^`, `\^`, `$`, `\$`, `|`, `\|`, `{`, `\{`, `}`, `\}`).Replace(s)
}
