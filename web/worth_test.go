package web_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
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
