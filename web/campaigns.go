package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dni-dev/dni/httpapi"
)

// The Campaigns page: calls per source, medium and campaign over a period,
// from the report /v1/reports/calls answers with, and a bar chart of calls
// per campaign.
//
// The ad spend a marketer types beside each campaign is not stored by dni:
// it travels in the page's address (the form is a GET), so the report
// with its cost per call can be bookmarked or sent to a colleague, and it
// needs no new state in the cluster. Each spend field is paired with a
// hidden field naming its row, in the same order.

// defaultPeriod is the report's period unless the form says: the last 30
// days, today included.
const defaultPeriod = 30

type campaignRow struct {
	Source, Medium, Campaign string
	Calls, Answered          int
	FirstTime                int
	Key                      string // names the row in the form
	Spend                    string // as typed
	CostPerCall              string // spend ÷ calls, when a spend is given
}

type campaignsPage struct {
	From, To string
	Problem  string
	Rows     []campaignRow
	Total    campaignRow
	Chart    barChart
}

// rowKey names a row: its source, medium and campaign, unambiguously.
func rowKey(source, medium, campaign string) string {
	return url.Values{"s": {source}, "m": {medium}, "c": {campaign}}.Encode()
}

// spends reads the spend fields: spend i belongs to row i.
func spends(r *request) map[string]string {
	rows, amounts := r.ctx.QueryArgs().PeekMulti("row"), r.ctx.QueryArgs().PeekMulti("spend")
	out := map[string]string{}
	for i := range min(len(rows), len(amounts)) {
		if a := strings.TrimSpace(string(amounts[i])); a != "" {
			out[string(rows[i])] = a
		}
	}
	return out
}

// amount reads a spend as marketers type it: a number of at least 0, with
// an optional currency sign, thousands separated by commas ("1,250.50"),
// or cents after a comma ("1250,50").
func amount(s string) (float64, bool) {
	s = strings.ReplaceAll(strings.TrimLeft(strings.TrimSpace(s), "$€£¥"), " ", "")
	if i := strings.LastIndexByte(s, ','); i >= 0 && !strings.Contains(s, ".") && len(s)-i-1 == 2 {
		s = s[:i] + "." + s[i+1:]
	}
	s = strings.ReplaceAll(s, ",", "")
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && f >= 0 && f < 1e12
}

func (p *pages) campaigns(r *request) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	q := callQuery{From: r.query("from"), To: r.query("to")}
	if q.From == "" && q.To == "" {
		q.From, q.To = today.AddDate(0, 0, 1-defaultPeriod).Format(dateLayout), today.Format(dateLayout)
	}
	f, problem := q.filter()
	page := campaignsPage{From: q.From, To: q.To, Problem: problem}
	typed := spends(r)
	var totalSpend float64
	spent := false
	for _, row := range r.api.CallReport(f, []string{"source", "medium", "campaign"}) {
		cr := campaignRow{
			Source: deref(row.Source), Medium: deref(row.Medium), Campaign: deref(row.Campaign),
			Calls: row.Calls, Answered: row.Answered, FirstTime: row.FirstTime,
		}
		cr.Key = rowKey(cr.Source, cr.Medium, cr.Campaign)
		cr.Spend = typed[cr.Key]
		if cr.Spend != "" {
			if v, ok := amount(cr.Spend); ok {
				cr.CostPerCall = costPerCall(v, cr.Calls)
				totalSpend += v
				spent = true
			} else {
				page.Problem = "“" + cr.Spend + "” is not an amount; write it as 1250 or 1250.50."
			}
		}
		page.Total.Calls += cr.Calls
		page.Total.Answered += cr.Answered
		page.Total.FirstTime += cr.FirstTime
		page.Rows = append(page.Rows, cr)
	}
	if spent {
		page.Total.Spend = strconv.FormatFloat(totalSpend, 'f', 2, 64)
		page.Total.CostPerCall = costPerCall(totalSpend, page.Total.Calls)
	}
	page.Chart = newBarChart(r.api.CallReport(f, []string{"campaign"}))
	p.render(r, http.StatusOK, "campaigns.html", "Campaigns", "campaigns", page)
}

func costPerCall(spend float64, calls int) string {
	if calls == 0 {
		return "—"
	}
	return strconv.FormatFloat(spend/float64(calls), 'f', 2, 64)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// barChart is the calls-per-campaign chart, laid out for inline SVG: no
// script and no library draw it.
type barChart struct {
	Width, Height int
	LabelWidth    int
	Bars          []bar
}

type bar struct {
	Label        string
	Calls        int
	Y, Width     int // the bar's top and length
	TextY, TextX int // where its label and count sit
}

const (
	chartWidth      = 640
	chartLabelWidth = 200
	chartBarHeight  = 22
	chartGap        = 8
	chartMaxBars    = 20
	chartLabelRunes = 28
)

func newBarChart(rows []httpapi.ReportRow) barChart {
	c := barChart{Width: chartWidth, LabelWidth: chartLabelWidth}
	most := 0
	for _, r := range rows {
		most = max(most, r.Calls)
	}
	room := chartWidth - chartLabelWidth - 48 // the count sits after the bar
	for i, r := range rows {
		if i == chartMaxBars {
			break
		}
		label := deref(r.Campaign)
		if label == "" {
			label = "(no campaign)"
		}
		if utf8.RuneCountInString(label) > chartLabelRunes {
			label = string([]rune(label)[:chartLabelRunes-1]) + "…"
		}
		y := i * (chartBarHeight + chartGap)
		w := max(1, r.Calls*room/max(most, 1))
		c.Bars = append(c.Bars, bar{
			Label: label, Calls: r.Calls, Y: y, Width: w,
			TextY: y + chartBarHeight*2/3, TextX: chartLabelWidth + w + 6,
		})
	}
	c.Height = max(len(c.Bars)*(chartBarHeight+chartGap), chartBarHeight)
	return c
}
