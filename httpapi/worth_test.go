package httpapi_test

import (
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision/standin"
)

// A Microsoft Advertising click id: 32 hexadecimal digits.
const msClick = "6b2f0e1c9a8d4e7fb3c5a1d2e4f60718"

type worthReply struct {
	SID       string   `json:"sid"`
	Status    string   `json:"status"`
	Outcome   string   `json:"outcome"`
	Value     *float64 `json:"value"`
	Currency  string   `json:"currency"`
	Note      string   `json:"note"`
	OutcomeBy string   `json:"outcome_by"`
}

type campaignReply struct {
	Source      string   `json:"source"`
	Medium      string   `json:"medium"`
	Campaign    string   `json:"campaign"`
	Calls       int      `json:"calls"`
	Leads       int      `json:"leads"`
	Value       float64  `json:"value"`
	Spend       float64  `json:"spend"`
	CostPerLead *float64 `json:"cost_per_lead"`
	ROAS        *float64 `json:"roas"`
}

type campaignReportReply struct {
	Currency string          `json:"currency"`
	Rows     []campaignReply `json:"rows"`
	Total    campaignReply   `json:"total"`
}

// endedCall waits until the call is recorded completed, and returns it.
func (a *testAPI) endedCall(sid string) worthReply {
	a.t.Helper()
	var c worthReply
	testkit.Eventually(a.t, "call "+sid+" to be recorded completed", func() bool {
		c = worthReply{}
		r := a.Admin("GET", "/v1/calls/"+sid, nil)
		if r.Status == http.StatusOK {
			r.Decode(a.t, &c)
		}
		return c.Status == "completed"
	})
	return c
}

func (a *testAPI) mark(sid string, body map[string]any) worthReply {
	a.t.Helper()
	var c worthReply
	a.AdminOK("PATCH", "/v1/calls/"+sid, body, http.StatusOK, &c)
	return c
}

func (a *testAPI) campaigns(query string) campaignReportReply {
	a.t.Helper()
	var r campaignReportReply
	a.AdminOK("GET", "/v1/reports/campaigns"+query, nil, http.StatusOK, &r)
	return r
}

// conversions fetches one of the offline conversion files as an ad
// platform's scheduled fetch does, with HTTP Basic and the export token,
// and returns its Parameters line and its rows, header first.
func (a *testAPI) conversions(file, token string) (string, [][]string) {
	a.t.Helper()
	r := a.Send("GET", "/v1/conversions/"+file, nil, "Authorization", basic("google-ads", token))
	wantStatus(a.t, r, http.StatusOK)
	params, rest, _ := strings.Cut(string(r.Body), "\n")
	rows, err := csv.NewReader(strings.NewReader(rest)).ReadAll()
	if err != nil {
		a.t.Fatalf("%s is not CSV after its Parameters line: %v\n%s", file, err, r.Body)
	}
	return params, rows
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestAGoogleAdsCallIsALeadByTheRuleAndComesBackAsROASAndAConversion(t *testing.T) {
	pl := startPhoneLine(t, 3, testkit.Options{})
	a := api(t, pl.Leader())
	p := pl.activePool(a, map[string]any{"forward_to": []string{"+14155550100"}, "lead_value": 120})
	if p := a.pool(p.ID); !p.LeadRule || p.LeadMinDurationS != 60 || p.LeadValue != 120 {
		t.Fatalf("pool's rule: on %v, %d s, worth %v; want on, 60 s, 120", p.LeadRule, p.LeadMinDurationS, p.LeadValue)
	}
	// Visitors come through every node; calls through the balancer.
	nodes := pl.Running()
	visit := func(i int, query string) visitReply {
		return api(t, nodes[i%len(nodes)]).visit(p.Key, map[string]any{"url": "https://shop.example/?" + query})
	}
	talk := func(seconds int) {
		pl.Sandbox.SetFaults(standin.Faults{Callees: map[string]standin.Callee{"+14155550100": {TalkSeconds: seconds}}})
	}

	google := visit(0, "utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid="+adClick)
	talk(90)
	gCall := pl.call(google.Number, "+12125550101")
	if gCall.DurationS < 90 {
		t.Fatalf("the sandbox call lasted %d s, want 90 and its rings", gCall.DurationS)
	}
	if c := a.endedCall(gCall.SID); c.Outcome != "lead" || c.OutcomeBy != "rule" || c.Value == nil || *c.Value != 120 || c.Currency != "USD" {
		t.Fatalf("a 90 s call from a new caller: %+v, want a lead worth 120 USD by the rule", c)
	}

	bing := visit(1, "utm_source=bing&utm_medium=cpc&utm_campaign=brand&msclkid="+msClick)
	mCall := pl.call(bing.Number, "+12125550102")
	if c := a.endedCall(mCall.SID); c.Outcome != "lead" {
		t.Fatalf("the Microsoft Ads call: %+v, want a lead", c)
	}

	short := visit(2, "utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid="+adClick[:60]+"short")
	talk(45)
	sCall := pl.call(short.Number, "+12125550103")
	if c := a.endedCall(sCall.SID); c.Outcome != "" || c.Value != nil {
		t.Fatalf("a 45 s call: %+v, want no outcome until marked", c)
	}

	today := time.Now().UTC().Format(time.DateOnly)
	a.AdminOK("POST", "/v1/spend", map[string]any{"spend": []map[string]any{
		{"day": today, "source": "google", "medium": "cpc", "campaign": "Spring", "cost": 60},
		{"day": today, "source": "bing", "medium": "cpc", "campaign": "brand", "cost": "40.00"},
	}}, http.StatusOK, nil)

	rep := a.campaigns("")
	spring := findCampaign(t, rep, "google", "cpc", "spring")
	if spring.Calls != 2 || spring.Leads != 1 || spring.Value != 120 || spring.Spend != 60 ||
		spring.ROAS == nil || *spring.ROAS != 2 || spring.CostPerLead == nil || *spring.CostPerLead != 60 {
		t.Fatalf("google / cpc / spring: %+v; want 2 calls, 1 lead worth 120, spend 60, ROAS 2, 60 a lead", spring)
	}
	if rep.Currency != "USD" || rep.Total.Leads != 2 || rep.Total.Spend != 100 || rep.Total.Value != 240 {
		t.Fatalf("total %+v in %s", rep.Total, rep.Currency)
	}

	export := a.makeToken("google ads schedule", "export").Token
	params, rows := a.conversions("google.csv", export)
	if params != "Parameters:TimeZone=+0000" || len(rows) != 2 ||
		strings.Join(rows[0], ",") != "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency" {
		t.Fatalf("google.csv: %q, %q", params, rows)
	}
	wantConversion(t, rows[1], adClick, gCall.StartedAt, "120.00")
	params, rows = a.conversions("microsoft.csv", export)
	if params != "Parameters:TimeZone=+0000;" || len(rows) != 2 || rows[0][0] != "Microsoft Click ID" {
		t.Fatalf("microsoft.csv: %q, %q", params, rows)
	}
	wantConversion(t, rows[1], msClick, mCall.StartedAt, "120.00")

	// Marked by hand, the short call converts too, and the first call's
	// new value is an adjustment, not a second conversion.
	if c := a.mark(sCall.SID, map[string]any{"outcome": "sale", "value": 75.5, "note": "booked a visit"}); c.Outcome != "sale" || c.OutcomeBy != "hand" || *c.Value != 75.5 {
		t.Fatalf("marked: %+v", c)
	}
	a.mark(gCall.SID, map[string]any{"value": 150})
	if _, rows = a.conversions("google.csv", export); len(rows) != 3 || rows[1][3] != "120.00" || rows[2][3] != "75.50" {
		t.Fatalf("google.csv after the marks: %q", rows)
	}
	_, adj := a.conversions("google-adjustments.csv", export)
	if len(adj) != 2 || adj[1][0] != adClick || adj[1][4] != "RESTATE" || adj[1][5] != "150.00" {
		t.Fatalf("google-adjustments.csv: %q", adj)
	}
	a.mark(gCall.SID, map[string]any{"outcome": "none"})
	_, adj = a.conversions("google-adjustments.csv", export)
	if len(adj) != 2 || adj[1][4] != "RETRACT" || adj[1][5] != "" {
		t.Fatalf("google-adjustments.csv after a retraction: %q", adj)
	}
	if _, rows = a.conversions("google.csv", export); len(rows) != 2 {
		t.Fatalf("a retracted call is still a conversion: %q", rows)
	}

	// The export token opens the files and nothing else; the files need it.
	exp := a.as(export)
	if r := exp.Admin("GET", "/v1/calls", nil); r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "export token") {
		t.Errorf("the export token on the admin API: %s, want 403 saying it is an export token", r)
	}
	if r := a.Send("GET", "/v1/conversions/google.csv", nil); r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("no credential: %s, %q", r, r.Header.Get("WWW-Authenticate"))
	}
	if r := a.Send("GET", "/v1/conversions/google.csv", nil, "Authorization", basic("x", "not-the-export-token-at-all")); r.Status != http.StatusUnauthorized {
		t.Errorf("a wrong password: %s", r)
	}
	pl.EnsureSame()
}

func findCampaign(t *testing.T, r campaignReportReply, source, medium, campaign string) campaignReply {
	t.Helper()
	for _, row := range r.Rows {
		if strings.EqualFold(row.Source, source) && strings.EqualFold(row.Medium, medium) && strings.EqualFold(row.Campaign, campaign) {
			return row
		}
	}
	t.Fatalf("no row %s / %s / %s in %+v", source, medium, campaign, r.Rows)
	return campaignReply{}
}

// wantConversion checks a row of a conversion file: the click id, the
// default conversion name, the call's start in UTC in the layout both
// platforms take, the value and the currency.
func wantConversion(t *testing.T, row []string, click string, started time.Time, value string) {
	t.Helper()
	at, err := time.Parse("2006-01-02 15:04:05", row[2])
	if err != nil || len(row) != 5 || row[0] != click || row[1] != "Phone call" || row[3] != value || row[4] != "USD" ||
		at.Sub(started.UTC().Truncate(time.Second)).Abs() > 2*time.Second {
		t.Fatalf("conversion row %q; want %s, Phone call, the call's start (%s), %s, USD", row, click, started.UTC(), value)
	}
}

func TestBadMarksSpendAndSettingsAreRefusedNamingTheFieldAndWriteNothing(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(321, 4)...)
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring"})
	now := time.Now()
	a.Command(&fsm.RecordCall{SID: "CA100", To: v.Number, From: "+12125550100", At: now})
	a.Command(&fsm.UpdateCall{SID: "CA100", Status: allocator.CallCompleted, Duration: 20 * time.Second, AnsweredBy: "+14155550100", At: now.Add(21 * time.Second)})
	a.mark("CA100", map[string]any{"outcome": "lead", "value": 10, "note": "kept"})

	for _, tc := range []struct {
		what, method, path string
		body               any
		header             []string
		field              string
	}{
		{"a negative value", "PATCH", "/v1/calls/CA100", map[string]any{"value": -5}, nil, "value"},
		{"NaN", "PATCH", "/v1/calls/CA100", map[string]any{"value": "NaN"}, nil, "value"},
		{"a value in words", "PATCH", "/v1/calls/CA100", map[string]any{"value": "lots"}, nil, "value"},
		{"another currency", "PATCH", "/v1/calls/CA100", map[string]any{"value": 5, "currency": "EUR"}, nil, "currency"},
		{"an unknown outcome", "PATCH", "/v1/calls/CA100", map[string]any{"outcome": "maybe"}, nil, "outcome"},
		{"nothing to set", "PATCH", "/v1/calls/CA100", map[string]any{}, nil, "outcome"},
		{"a spend CSV without a cost column", "POST", "/v1/spend?source=google&medium=cpc", "Day,Campaign,Clicks\n2026-12-01,spring,4\n", []string{"Content-Type", "text/csv"}, "cost"},
		{"a spend CSV with a bad date", "POST", "/v1/spend?source=google&medium=cpc", "Day,Campaign,Cost\n2026-12-01,spring,4\n2026-13-45,spring,5\n", []string{"Content-Type", "text/csv"}, "day"},
		{"a spend CSV without a source", "POST", "/v1/spend", "Day,Campaign,Cost\n2026-12-01,spring,4\n", []string{"Content-Type", "text/csv"}, "source"},
		{"a spend CSV in another currency", "POST", "/v1/spend?source=google&medium=cpc", "Day,Campaign,Cost,Currency code\n2026-12-01,spring,4,EUR\n", []string{"Content-Type", "text/csv"}, "currency"},
		{"spend without a day", "POST", "/v1/spend", map[string]any{"spend": []map[string]any{{"source": "google", "medium": "cpc", "campaign": "spring", "cost": 4}}}, nil, "day"},
		{"a negative spend", "POST", "/v1/spend", map[string]any{"spend": []map[string]any{{"day": "2026-12-01", "source": "google", "medium": "cpc", "campaign": "spring", "cost": -4}}}, nil, "cost"},
		{"an unknown currency", "PATCH", "/v1/settings/marketing", map[string]any{"currency": "XYZ"}, nil, "currency"},
		{"an empty conversion name", "PATCH", "/v1/settings/marketing", map[string]any{"google_conversion": " "}, nil, "google_conversion"},
		{"a rule shorter than a second", "PATCH", "/v1/pools/" + p.ID, map[string]any{"lead_min_duration_s": 0}, nil, "lead_min_duration_s"},
		{"a negative rule value", "PATCH", "/v1/pools/" + p.ID, map[string]any{"lead_value": -1}, nil, "lead_value"},
		{"a webhook URL that is not http(s)", "POST", "/v1/webhooks", map[string]any{"url": "ftp://crm.example/hooks"}, nil, "url"},
		{"a webhook URL with no scheme", "POST", "/v1/webhooks", map[string]any{"url": "crm.example/hooks"}, nil, "url"},
		{"a short webhook secret", "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example/hooks", "secret": "short"}, nil, "secret"},
	} {
		var body any = tc.body
		r := a.Admin(tc.method, tc.path, body, tc.header...)
		var pr problem
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", tc.what, r)
			continue
		}
		r.Decode(t, &pr)
		if pr.Field != tc.field {
			t.Errorf("%s: %s, want the field %s named", tc.what, r, tc.field)
		}
	}
	if r := a.Admin("PATCH", "/v1/calls/CA404", map[string]any{"outcome": "lead"}); r.Status != http.StatusNotFound {
		t.Errorf("an unknown call: %s", r)
	}
	var c worthReply
	a.AdminOK("GET", "/v1/calls/CA100", nil, http.StatusOK, &c)
	if c.Outcome != "lead" || *c.Value != 10 || c.Note != "kept" {
		t.Errorf("refused marks changed the call: %+v", c)
	}
	var spend struct{ Spend []httpapi.SpendRow }
	a.AdminOK("GET", "/v1/spend", nil, http.StatusOK, &spend)
	if len(spend.Spend) != 0 {
		t.Errorf("refused spend was written: %+v", spend.Spend)
	}
	var hooks struct{ Webhooks []httpapi.Webhook }
	a.AdminOK("GET", "/v1/webhooks", nil, http.StatusOK, &hooks)
	if len(hooks.Webhooks) != 0 {
		t.Errorf("a refused webhook was recorded: %+v", hooks.Webhooks)
	}
	// The currency cannot change under a valued call.
	if r := a.Admin("PATCH", "/v1/settings/marketing", map[string]any{"currency": "EUR"}); r.Status != http.StatusBadRequest {
		t.Errorf("the currency changed under a valued call: %s", r)
	}
}

func TestSpendIsEnteredByCSVEditedAndDeleted(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	googleExport := "\ufeffCampaign performance report\n\"December 1, 2026 - December 2, 2026\"\n" +
		"Day,Campaign,Campaign state,Clicks,Impr.,Currency code,Cost\n" +
		"2026-12-01,Spring Sale,Enabled,12,340,USD,\"1,250.50\"\n" +
		"2026-12-02,Spring Sale,Enabled,3,98,USD,--\n" +
		"Total: Account,,,15,438,USD,\"1,250.50\"\n"
	var out struct{ Written int }
	r := a.Admin("POST", "/v1/spend?source=google&medium=cpc", googleExport, "Content-Type", "text/csv; charset=utf-8")
	wantStatus(t, r, http.StatusOK)
	r.Decode(t, &out)
	if out.Written != 2 {
		t.Fatalf("wrote %d days, want 2", out.Written)
	}
	// Microsoft Advertising's export, tab-separated UTF-16 as Excel saves it.
	ms := "Date\tCampaign name\tSpend\r\n12/1/2026\tBrand\t40.00\r\n12/1/2026\tBrand\t2.00\r\n"
	r = a.Admin("POST", "/v1/spend?source=bing&medium=cpc", utf16LE(ms), "Content-Type", "text/csv")
	wantStatus(t, r, http.StatusOK)
	var spend struct {
		Currency string
		Spend    []httpapi.SpendRow
	}
	a.AdminOK("GET", "/v1/spend?from=2026-12-01&to=2026-12-01", nil, http.StatusOK, &spend)
	want := "2026-12-01 bing cpc Brand 42.00; 2026-12-01 google cpc Spring Sale 1250.50; "
	if got := spendText(spend.Spend); got != want || spend.Currency != "USD" {
		t.Fatalf("spend %q in %s, want %q", got, spend.Currency, want)
	}
	// Entered again, a day replaces what was there; deleted, it is gone.
	a.AdminOK("POST", "/v1/spend", map[string]any{"spend": []map[string]any{{"day": "2026-12-01", "source": "bing", "medium": "cpc", "campaign": "Brand", "cost": 41}}}, http.StatusOK, nil)
	a.AdminOK("DELETE", "/v1/spend?day=2026-12-02&source=google&medium=cpc&campaign=Spring+Sale", nil, http.StatusOK, nil)
	a.AdminOK("GET", "/v1/spend", nil, http.StatusOK, &spend)
	if got := spendText(spend.Spend); got != "2026-12-01 bing cpc Brand 41.00; 2026-12-01 google cpc Spring Sale 1250.50; " {
		t.Fatalf("after an edit and a delete: %q", got)
	}
	// The report counts spend by campaign whatever its case.
	rep := a.campaigns("?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z")
	if row := findCampaign(t, rep, "google", "cpc", "spring sale"); row.Spend != 1250.5 || row.ROAS == nil || *row.ROAS != 0 {
		t.Fatalf("%+v", row)
	}
	csvRep := a.Admin("GET", "/v1/reports/campaigns?format=csv", nil)
	if !strings.HasPrefix(string(csvRep.Body), "source,medium,campaign,calls,answered,first_time_callers,leads,sales,value,spend,cost_per_lead,roas,currency\n") {
		t.Fatalf("report CSV: %s", csvRep.Body)
	}
}

func spendText(rows []httpapi.SpendRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %s %s %s %.2f; ", r.Day, r.Source, r.Medium, r.Campaign, r.Cost)
	}
	return b.String()
}

func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

func TestTheConversionFilesHoldTheLast90DaysOnly(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(map[string]any{"lead_value": 10}, numbersFrom(700, 4)...)
	export := a.makeToken("google ads", "export").Token
	for i, ago := range []time.Duration{100 * 24 * time.Hour, 89 * 24 * time.Hour} {
		at := time.Now().Add(-ago)
		visit := testkit.NewVisitID()
		r := a.Command(&fsm.Assign{Visit: visit, PoolKey: p.Key, At: at,
			Attribution: allocator.Attribution{Source: "google", Medium: "cpc", GCLID: fmt.Sprintf("%s%d", adClick[:60], i)}})
		sid := fmt.Sprintf("CA9%d", i)
		a.Command(&fsm.RecordCall{SID: sid, To: r.Number, From: fmt.Sprintf("+1212555010%d", i), At: at.Add(time.Minute)})
		a.Command(&fsm.UpdateCall{SID: sid, Status: allocator.CallCompleted, Duration: 2 * time.Minute, AnsweredBy: "+14155550100", At: at.Add(3 * time.Minute)})
	}
	_, rows := a.conversions("google.csv", export)
	if len(rows) != 2 || rows[1][0] != adClick[:60]+"1" {
		t.Fatalf("google.csv: %q, want the call of 89 days ago and not the one of 100", rows)
	}
}
