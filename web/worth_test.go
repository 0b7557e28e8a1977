package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
)

// callWorth is what the tests read of a call's worth through the admin API.
type callWorth struct {
	Outcome   string   `json:"outcome"`
	Value     *float64 `json:"value"`
	Note      string   `json:"note"`
	OutcomeBy string   `json:"outcome_by"`
}

func (n *node) callWorth(sid string) callWorth {
	n.t.Helper()
	var c callWorth
	n.AdminOK("GET", "/v1/calls/"+sid, nil, http.StatusOK, &c)
	return c
}

// spendRows are the days of spend recorded, through the admin API.
func (n *node) spendRows() []map[string]any {
	n.t.Helper()
	var out struct{ Spend []map[string]any }
	n.AdminOK("GET", "/v1/spend", nil, http.StatusOK, &out)
	return out.Spend
}

// callFromAd records a call to the number a visit from a campaign holds:
// the visit through the visitor API, then the call and its end as the
// voice webhooks commit them, answered after talk.
func (n *node) callFromAd(pl poolJSON, sid, from string, visit url.Values, talk time.Duration) {
	n.t.Helper()
	r := n.Visitor("POST", "/v1/visits", map[string]any{"pool": pl.Key, "url": "https://shop.example/?" + visit.Encode()})
	if r.Status != http.StatusCreated {
		n.t.Fatalf("a visit: %s", r)
	}
	var v struct {
		Number string `json:"number"`
	}
	r.Decode(n.t, &v)
	now := time.Now()
	n.Command(&fsm.RecordCall{SID: sid, To: v.Number, From: from, At: now})
	n.Command(&fsm.UpdateCall{SID: sid, Status: allocator.CallCompleted, Duration: talk, AnsweredBy: "+14155550100", At: now.Add(time.Second)})
}

// fromGoogle is a visit from a Google ad of the campaign.
func fromGoogle(campaign string) url.Values {
	return url.Values{"utm_source": {"google"}, "utm_medium": {"cpc"}, "utm_campaign": {campaign}, "gclid": {adClick}}
}

func TestAMarketerMarksACallOnItsPageAndFromTheListAndAMistakeWritesNothing(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	// A long call from a new caller: a lead by the pool's rule. A short
	// one: nobody judged it.
	n.callFromAd(pl, "CAlong", "+12125550101", fromGoogle("spring"), 90*time.Second)
	n.callFromAd(pl, "CAshort", "+12125550102", fromGoogle("spring"), 20*time.Second)
	tb := newTab(t, n)
	tb.signIn()

	tb.open("/admin/calls")
	tb.wantText(`tr[data-sid="CAlong"] td.worth`, `^lead by rule$`)
	tb.wantText(`tr[data-sid="CAshort"] td.worth`, `^—$`)
	tb.shot("calls, one lead by the rule")

	// The quick mark on the list: the short call was a sale.
	row := `tr[data-sid="CAshort"]`
	tb.click(row + " details.quick-mark summary")
	tb.fill(row+" select[name=outcome]", "sale")
	tb.fill(row+" input[name=value]", "300")
	tb.shot("calls, marking a call from the list")
	tb.submit(row+" details.quick-mark button[type=submit]", "#marked")
	tb.wantText("#marked", `is a sale worth 300\.00 USD`)
	tb.wantText(row+" td.worth", `^sale$`)
	tb.wantText(row+" td.value", `^300\.00$`)
	if c := n.callWorth("CAshort"); c.Outcome != "sale" || c.Value == nil || *c.Value != 300 || c.OutcomeBy != "hand" {
		t.Fatalf("after the quick mark the call is %+v", c)
	}
	tb.shot("calls, marked from the list")

	// The call's page: a value that is no amount is refused in words that
	// name the field, and nothing is written.
	tb.submit(`tr[data-sid="CAlong"] td a[href="/admin/calls/CAlong"]`, "#mark-form")
	tb.wantText("#outcome", `lead by rule`)
	tb.shot("call page")
	tb.click(`input[name=outcome][value=sale]`)
	tb.fill("#mark-value", "lots")
	tb.fill("#mark-note", "Booked a boiler service")
	tb.submit("#save-mark", "#form-error")
	tb.wantText("#form-error", `^Value: "lots" is not an amount; write it as 1250 or 1250\.50\. Nothing was saved\.$`)
	if got := tb.inputValue("#mark-note"); got != "Booked a boiler service" {
		t.Fatalf("after the mistake the note holds %q", got)
	}
	if c := n.callWorth("CAlong"); c.Outcome != "lead" || c.OutcomeBy != "rule" || c.Note != "" {
		t.Fatalf("a refused mark changed the call: %+v", c)
	}
	tb.shot("call page, a value that is no amount")

	// A value on a call that is not a lead is refused by the cluster's
	// own rule, again in words and writing nothing.
	tb.click(`input[name=outcome][value=none]`)
	tb.fill("#mark-value", "10")
	tb.submit("#save-mark", "#form-error")
	tb.wantText("#form-error", `^Value: only a lead or a sale has a value`)
	if c := n.callWorth("CAlong"); c.Outcome != "lead" || c.OutcomeBy != "rule" || c.Note != "" {
		t.Fatalf("a refused mark changed the call: %+v", c)
	}

	tb.click(`input[name=outcome][value=sale]`)
	tb.fill("#mark-value", "1,250.50")
	tb.submit("#save-mark", "#saved")
	tb.wantText("#outcome", `^sale, `)
	tb.wantText("#value", `^1250\.50 USD$`)
	tb.wantText("#note", `^Booked a boiler service$`)
	if c := n.callWorth("CAlong"); c.Outcome != "sale" || c.Value == nil || *c.Value != 1250.5 || c.OutcomeBy != "hand" || c.Note != "Booked a boiler service" {
		t.Fatalf("after the mark the call is %+v", c)
	}
	tb.shot("call page, marked a sale")

	// The list shows it. A mistake in its quick mark shows the call's page
	// with the mistake, the note the list's form does not have kept.
	tb.open("/admin/calls")
	tb.wantText(`tr[data-sid="CAlong"] td.value`, `^1250\.50$`)
	row = `tr[data-sid="CAlong"]`
	tb.click(row + " details.quick-mark summary")
	tb.fill(row+" input[name=value]", "12.5.0")
	tb.submit(row+" details.quick-mark button[type=submit]", "#form-error")
	tb.wantText("#form-error", `^Value: "12\.5\.0" is not an amount`)
	if got := tb.inputValue("#mark-note"); got != "Booked a boiler service" {
		t.Fatalf("the call's page after a quick mark's mistake holds the note %q", got)
	}
	if c := n.callWorth("CAlong"); c.Value == nil || *c.Value != 1250.5 {
		t.Fatalf("a refused quick mark changed the call: %+v", c)
	}

	// The export shows it.
	tb.open("/admin/calls")
	export := tb.download("#export-csv", "calls.csv")
	rows, err := csv.NewReader(strings.NewReader(export)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(export, "CAlong") || !strings.Contains(export, "1250.50") || !strings.Contains(export, "Booked a boiler service") {
		t.Fatalf("the export of %d rows is:\n%s", len(rows), export)
	}
}

func TestTheCampaignsPageKeepsSpendTypedAndUploadedAndShowsROAS(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	n.callFromAd(pl, "CAspring", "+12125550101", fromGoogle("spring"), 20*time.Second)
	n.AdminOK("PATCH", "/v1/calls/CAspring", map[string]any{"outcome": "sale", "value": 500}, http.StatusOK, nil)
	n.callFromAd(pl, "CAautumn", "+12125550102", url.Values{"utm_source": {"bing"}, "utm_medium": {"cpc"}, "utm_campaign": {"autumn"}}, 20*time.Second)
	today := time.Now().UTC()
	day := func(daysAgo int) string { return today.AddDate(0, 0, -daysAgo).Format("2006-01-02") }

	tb := newTab(t, n)
	tb.signIn()
	tb.open("/admin/campaigns")
	rowOf := func(campaign string) string {
		return `//table[contains(@class,"report")]/tbody/tr[td[@class="campaign"][text()="` + campaign + `"]]`
	}
	cell := func(campaign, class string) string {
		tb.T.Helper()
		return testkit.Eval[string](tb.Tab, `(document.evaluate(`+strconv.Quote(rowOf(campaign)+`/td[contains(@class,"`+class+`")]`)+`, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue || {innerText: ""}).innerText`)
	}
	if got := cell("spring", "value"); got != "500.00" {
		t.Fatalf("spring's value shows %q", got)
	}
	if got := cell("spring", "roas"); got != "—" {
		t.Fatalf("spring's ROAS before any spend shows %q", got)
	}
	tb.shot("campaigns, no spend yet")

	// A day of spend typed in; a cost that is no amount first.
	tb.fill("#spend-day", day(0))
	tb.fill("#spend-campaign", "spring")
	tb.fill("#spend-cost", "12,3x")
	tb.submit("#add-spend", "#spend-error")
	tb.wantText("#spend-error", `^Cost: "12,3x" is not an amount`)
	if got := tb.inputValue("#spend-campaign"); got != "spring" {
		t.Fatalf("after the mistake the campaign field holds %q", got)
	}
	if rows := n.spendRows(); len(rows) != 0 {
		t.Fatalf("a refused spend was written: %v", rows)
	}
	tb.shot("campaigns, a cost that is no amount")
	tb.fill("#spend-cost", "250")
	tb.submit("#add-spend", "#flash")
	tb.wantText("#flash", `^1 day of spend recorded`)
	if got, want := []string{cell("spring", "spend"), cell("spring", "cost"), cell("spring", "roas")}, []string{"250.00", "250.00", "2.00×"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("spring's spend, cost per lead and ROAS show %q, want %q", got, want)
	}
	tb.shot("campaigns, a day of spend typed")

	// Google Ads' campaign report, with its title lines, and Microsoft
	// Advertising's, each uploaded with the source of its rows.
	dir := t.TempDir()
	google := filepath.Join(dir, "Campaign report.csv")
	writeFile(t, google, "Campaign report\n\"All time\"\nDay,Campaign,Clicks,Cost\n"+day(1)+",spring,12,\"250.00\"\n")
	microsoft := filepath.Join(dir, "Microsoft.csv")
	writeFile(t, microsoft, "Date,Campaign name,Spend\n"+day(1)+",autumn,40.00\n")
	tb.Do("choose the Google Ads report", chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{google}))
	tb.shot("campaigns, uploading a Google Ads report")
	tb.submit("#upload-spend", "#flash")
	tb.wantText("#flash", `^1 day of spend recorded`)
	if got := cell("spring", "roas"); got != "1.00×" {
		t.Fatalf("spring's ROAS after the upload shows %q", got)
	}
	tb.Do("choose the Microsoft report", chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{microsoft}))
	tb.fill("#upload-source", "bing")
	tb.submit("#upload-spend", "#flash")
	if got := cell("autumn", "spend"); got != "40.00" {
		t.Fatalf("autumn's spend shows %q", got)
	}
	tb.wantText("table.report tfoot td.spend", `^540\.00$`)
	tb.wantText("table.report tfoot td.roas", `^0\.93×$`)

	// A report the page cannot read is refused, saying why, and writes
	// nothing.
	bad := filepath.Join(dir, "clicks.csv")
	writeFile(t, bad, "Day,Campaign,Clicks\n"+day(2)+",spring,4\n")
	tb.Do("choose a report without costs", chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{bad}))
	tb.submit("#upload-spend", "#upload-error")
	tb.wantText("#upload-error", `^Nothing was recorded\. Cost: the CSV has no cost column\.$`)
	if rows := n.spendRows(); len(rows) != 3 {
		t.Fatalf("after a refused upload %d days of spend are recorded: %v", len(rows), rows)
	}
	tb.shot("campaigns, a report without costs")

	// The days of spend, each with its Delete button.
	tb.open("/admin/campaigns")
	if got := testkit.Eval[int](tb.Tab, `document.querySelectorAll("table.spend tbody tr").length`); got != 3 {
		t.Fatalf("the spend list has %d days", got)
	}
	tb.shot("campaigns, three days of spend")
	tb.submit(`table.spend tr[data-day="`+day(0)+`"][data-campaign="spring"] button`, "#flash")
	tb.wantText("#flash", `^Day of spend deleted\.$`)
	if got := cell("spring", "roas"); got != "2.00×" {
		t.Fatalf("spring's ROAS after the delete shows %q", got)
	}

	// The report as a spreadsheet.
	report := tb.download("#report-csv", "campaigns.csv")
	if !strings.Contains(report, "google,cpc,spring,1,1,1,1,1,500.00,250.00,250.00,2.00,USD") {
		t.Fatalf("the report CSV is:\n%s", report)
	}

	// The conversion names, then the Google Ads file they go into, as the
	// page downloads it and as Google Ads fetches it with an export token.
	tb.fill("#currency", "US")
	tb.submit("#save-marketing", "#marketing-error")
	tb.wantText("#marketing-error", `^Currency: must be an ISO 4217 code`)
	tb.fill("#currency", "usd")
	tb.fill("#google_conversion", "Calls from dni")
	tb.submit("#save-marketing", "#flash")
	tb.wantText("#flash", "Currency and conversion names saved")
	tb.wantText("#feeds", regexpQuote(n.URL+"/v1/conversions/google.csv"))
	tb.shot("campaigns, conversions and settings")
	file := testkit.Eval[string](tb.Tab, `fetch(document.querySelector("#google-csv").href).then(r => r.text())`)
	row := adClick + ",Calls from dni,"
	if !strings.HasPrefix(file, "Parameters:TimeZone=+0000\n") || !strings.Contains(file, row) || !strings.Contains(file, ",500.00,USD") {
		t.Fatalf("the Google Ads file the page downloads is:\n%s", file)
	}
	var tok struct{ Token string }
	n.AdminOK("POST", "/v1/tokens", map[string]string{"name": "google ads", "role": "export"}, http.StatusCreated, &tok)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("google:"+tok.Token))
	fetched := n.Send("GET", "/v1/conversions/google.csv", nil, "Authorization", basic)
	if fetched.Status != http.StatusOK || string(fetched.Body) != file {
		t.Fatalf("Google Ads' own fetch: %s", fetched)
	}
}

func TestTheSpendUploadCarriesItsCSRFTokenInsideTheMultipartForm(t *testing.T) {
	n := startNode(t)
	cookie := signInHTTP(t, n, n.Token)
	uploadCSV := func(token, csv string, header ...string) testkit.Reply {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		for name, value := range map[string]string{"csrf": token, "source": "google", "medium": "cpc"} {
			w.WriteField(name, value)
		}
		f, _ := w.CreateFormFile("file", "report.csv")
		f.Write([]byte(csv))
		w.Close()
		return n.Send("POST", "/admin/campaigns/spend/upload", body.Bytes(),
			append([]string{"Content-Type", w.FormDataContentType(), "Origin", n.URL}, header...)...)
	}
	upload := func(token string) testkit.Reply {
		return uploadCSV(token, "Day,Campaign,Cost\n2026-12-01,spring,10\n", "Cookie", cookie.String())
	}
	if r := upload("x"); r.Status != http.StatusForbidden {
		t.Fatalf("an upload without the session's CSRF token: %d", r.Status)
	}
	if rows := n.spendRows(); len(rows) != 0 {
		t.Fatalf("a refused upload wrote %v", rows)
	}
	if r := upload(csrf(t, n, cookie)); r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "spent=1") {
		t.Fatalf("an upload with it: %d %s", r.Status, r.Header.Get("Location"))
	}
	if rows := n.spendRows(); len(rows) != 1 || rows[0]["campaign"] != "spring" {
		t.Fatalf("after the upload the spend is %v", rows)
	}
	// A year of a large account's report, ~400 KB: more than a form may
	// send, and what the upload takes from a signed-in browser.
	var big strings.Builder
	big.WriteString("Day,Campaign,Cost\n")
	for day := range 365 {
		for c := range 20 {
			fmt.Fprintf(&big, "%s,campaign number %02d of the account,%d.%02d\n",
				time.Date(2025, 1, 1+day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), c, 100+c, day%100)
		}
	}
	if big.Len() < 300<<10 {
		t.Fatalf("the report is only %d bytes", big.Len())
	}
	// Without a cookie the node answers 413 as soon as the headers are in
	// and closes the connection: the client may see the answer, or the
	// connection reset while it still sends.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	f, _ := w.CreateFormFile("file", "report.csv")
	f.Write([]byte(big.String()))
	w.Close()
	resp, err := http.Post(n.URL+"/admin/campaigns/spend/upload", w.FormDataContentType(), &body)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("a large upload without a cookie: %d, want 413 before it is read", resp.StatusCode)
		}
	}
	if r := uploadCSV(csrf(t, n, cookie), big.String(), "Cookie", cookie.String()); r.Status != http.StatusSeeOther {
		t.Fatalf("a large upload from the signed-in browser: %d %s", r.Status, r.Body)
	}
	if rows := n.spendRows(); len(rows) != 1+365*20 {
		t.Fatalf("after the large upload %d days of spend, want %d", len(rows), 1+365*20)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
