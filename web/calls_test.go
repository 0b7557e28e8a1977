package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/dni-dev/dni/internal/testkit"
)

// hostile is what a visitor put in utm_campaign: it must show as text on
// every page, never run.
const hostile = `<script>alert(1)</script>`

// activePool creates a pool through the admin API and waits until the
// reconciler has bought its numbers.
func (n *node) activePool(name string) poolJSON {
	n.t.Helper()
	var p poolJSON
	n.AdminOK("POST", "/v1/pools", map[string]any{
		"name": name, "size": 4, "swap_target": "(415) 555-0100", "forward_to": []string{"+14155550100"},
	}, http.StatusCreated, &p)
	testkit.Eventually(n.t, "pool "+p.ID+" to be active", func() bool {
		for _, q := range n.pools() {
			if q.ID == p.ID && q.Status == "active" {
				p = q
				return true
			}
		}
		return false
	})
	return p
}

// download clicks a link that downloads a file and returns the file once
// the browser has it.
func (tb *tab) download(selector, name string) string {
	tb.T.Helper()
	dir := tb.T.TempDir()
	ctx, cancel := context.WithTimeout(tb.Ctx, testkit.Patience)
	defer cancel()
	_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
		BrowserContextID: chromedp.FromContext(tb.Ctx).BrowserContextID,
	})
	if err != nil {
		tb.T.Fatalf("allow downloads: %v", err)
	}
	tb.click(selector)
	var file []byte
	testkit.Eventually(tb.T, name+" to be downloaded", func() error {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			entries, _ := os.ReadDir(dir)
			return fmt.Errorf("the directory holds %v", entries)
		}
		file = b
		return nil
	})
	return string(file)
}

// adClick is a gclid as Google puts it on an ad click's URL.
const adClick = "Cj0KCQiA4L67BhDUARIsADWrl7Fm3sNNbk4jO4VQq1kE9z5qfWv-Ax0iOZs1rFWXwTN3TwTmL_aQ0qIaAkbhEALw_wcB"

func TestASimulatedCallFromTheDemoPageShowsOnTheCallsAndCampaignsPagesAndInTheExport(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	tb := newTab(t, n)
	tb.signIn()

	// The demo page: the snippet swaps the business number for a tracking
	// number of the pool, for a visitor from a campaign with a hostile name.
	q := url.Values{
		"utm_source": {"google"}, "utm_medium": {"cpc"}, "utm_campaign": {hostile},
		"utm_term": {"emergency plumber"}, "gclid": {adClick},
	}
	tb.open("/admin/demo/" + pl.ID + "?" + q.Encode())
	tb.Until(`document.querySelector("#phone-text").textContent !== "(415) 555-0100"`, "the snippet to swap the number")
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
	// The table shows the start of the gclid.
	for _, want := range []string{"google", "cpc", "emergency plumber", adClick[:15], "live", "Call from Google Ads", "completed", "Spring sale", regexpQuote(shown)} {
		tb.wantText(row, want)
	}
	if got := testkit.Eval[int](tb.Tab, `document.querySelectorAll("main script, main svg script").length`); got != 0 {
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

	// The Campaigns page counts it and draws it; the spend typed for its
	// campaign is kept by the cluster, not in the page's address.
	tb.open("/admin/campaigns")
	tb.waitFor("table.report")
	tb.wantText("table.report tbody td.campaign", "^"+regexpQuote(hostile)+"$")
	tb.wantText("table.report tbody tr", `google\s+cpc\s+.*\s+1\s+1\s+1`)
	if got := testkit.Eval[string](tb.Tab, `document.querySelector("#campaign-names option").value`); got != hostile {
		t.Fatalf("the spend form offers the campaign %q", got)
	}
	tb.fill("#spend-campaign", hostile)
	tb.fill("#spend-cost", "120")
	tb.submit("#add-spend", "#flash")
	tb.wantText("table.report tbody td.spend", `^120\.00$`)
	tb.wantText("table.report tfoot td.spend", `^120\.00$`)
	tb.wantText("table.spend tbody td.campaign", "^"+regexpQuote(hostile)+"$")
	if got := testkit.Eval[string](tb.Tab, `document.querySelector("svg.chart text.label").textContent`); got != hostile {
		t.Fatalf("the chart labels the campaign %q", got)
	}
	if got := testkit.Eval[int](tb.Tab, `document.querySelectorAll("svg.chart rect.bar").length`); got != 1 {
		t.Fatalf("the chart has %d bars", got)
	}
	if got := testkit.Eval[int](tb.Tab, `document.querySelectorAll("main script").length`); got != 0 {
		t.Fatalf("the Campaigns page has %d script elements in its content", got)
	}
	if strings.Contains(testkit.Eval[string](tb.Tab, "location.search"), "120") {
		t.Fatalf("the spend is in the page's address: %s", testkit.Eval[string](tb.Tab, "location.href"))
	}
	tb.open("/admin/campaigns")
	tb.wantText("table.report tbody td.spend", `^120\.00$`)
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
