package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
)

// The Campaigns page: per source, medium and campaign over a period, the
// calls, the leads and what they were worth, the ad spend, the cost per
// lead and the return on ad spend (ROAS, value ÷ spend, written 2.00×),
// from the report /v1/reports/campaigns answers with, and a bar chart of
// calls per campaign. Below the report: the days of spend in the period,
// typed in or uploaded as an ad platform's CSV (spend.go), and the files
// the ad platforms import conversions from, with the currency and the
// conversion names they carry (conversions.go).
//
// Every form on the page posts its period along (from, to), so that its
// answer shows the same period again.

// defaultPeriod is the report's period unless the form says: the last 30
// days, today included.
const defaultPeriod = 30

type campaignsPage struct {
	Period    callQuery // From and To only
	Problem   string    // about the period
	Flash     string    // what the last form did
	Currency  string
	Rows      []httpapi.CampaignRow
	Total     httpapi.CampaignRow
	Chart     barChart
	CSV       string             // the report as a spreadsheet
	Spend     []httpapi.SpendRow // the days of spend in the period
	Campaigns []string           // the campaigns seen, offered by the spend form
	// The forms, as typed when one comes back with a mistake.
	NewSpend       spendForm
	SpendError     *fieldError
	Upload         uploadForm
	UploadError    *fieldError
	Marketing      httpapi.Marketing
	MarketingError *fieldError
	Feed           string // where the ad platforms fetch the conversion files
	UploadLimitKB  int    // the largest CSV the upload takes
}

// period reads the page's period; neither day given is the last
// defaultPeriod days.
func period(from, to string) callQuery {
	if from == "" && to == "" {
		today := time.Now().UTC()
		from, to = today.AddDate(0, 0, 1-defaultPeriod).Format(dateLayout), today.Format(dateLayout)
	}
	return callQuery{From: from, To: to}
}

// campaignsURL is the page for a period, with a flash to show and the
// section to scroll to.
func campaignsURL(q callQuery, flash url.Values, section string) string {
	v := q.values()
	for name, values := range flash {
		v[name] = values
	}
	u := "/admin/campaigns"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	if section != "" {
		u += "#" + section
	}
	return u
}

// Defaults of the spend forms: an ad platform's report names campaigns
// only, and most spend is Google's paid clicks.
const (
	defaultSpendSource = "google"
	defaultSpendMedium = "cpc"
)

// newCampaignsPage is the page for a period with its forms empty.
func newCampaignsPage(r *request, q callQuery) campaignsPage {
	return campaignsPage{
		Period:        q,
		NewSpend:      spendForm{Day: time.Now().UTC().Format(dateLayout), Source: defaultSpendSource, Medium: defaultSpendMedium},
		Upload:        uploadForm{Source: defaultSpendSource, Medium: defaultSpendMedium},
		Marketing:     r.api.Marketing(),
		UploadLimitKB: httpapi.MaxPageUpload >> 10,
	}
}

func (p *pages) campaigns(r *request) {
	page := newCampaignsPage(r, period(r.query("from"), r.query("to")))
	page.Flash = campaignsFlash(r)
	p.renderCampaigns(r, http.StatusOK, page)
}

// campaignsFlash says what the form just sent did. The address names it
// with numbers only: a link anyone can make must not put their words on
// the page.
func campaignsFlash(r *request) string {
	if n, err := strconv.Atoi(r.query("spent")); err == nil && n > 0 {
		return plural(n, "day of spend", "days of spend") + " recorded. A day already recorded for a campaign was replaced."
	}
	if n, err := strconv.Atoi(r.query("unspent")); err == nil {
		if n == 0 {
			return "That day of spend was already deleted."
		}
		return "Day of spend deleted."
	}
	if r.query("marketing") != "" {
		return "Currency and conversion names saved."
	}
	return ""
}

// renderCampaigns works out the report for the page's period and shows it
// with the page's forms.
func (p *pages) renderCampaigns(r *request, status int, page campaignsPage) {
	f, problem := page.Period.filter()
	page.Problem = problem
	report := r.api.CampaignReport(f)
	page.Currency, page.Rows, page.Total = report.Currency, report.Rows, report.Total
	page.CSV = "/admin/campaigns.csv"
	if v := page.Period.values(); len(v) > 0 {
		page.CSV += "?" + v.Encode()
	}
	page.Chart = newBarChart(r.api.CallReport(f, []string{"campaign"}))
	from, to := spendDays(f)
	page.Spend = r.api.Spend(from, to)
	page.Campaigns = campaignNames(page.Rows, page.Spend)
	page.Feed = r.api.PublicURL() + "/v1/conversions/"
	p.render(r, status, "campaigns.html", "Campaigns", "campaigns", page)
}

// spendDays are the days of spend a filter's period covers, as the report
// counts them: the days that start within it.
func spendDays(f httpapi.CallFilter) (from, to allocator.Day) {
	from, to = 0, allocator.AllDays
	if !f.From.IsZero() {
		from = allocator.DayOf(f.From.Add(24*time.Hour - time.Millisecond))
	}
	if !f.To.IsZero() {
		to = allocator.DayOf(f.To.Add(-time.Millisecond))
	}
	return from, to
}

// campaignNames are the campaigns the report and the spend name, each
// once, in order.
func campaignNames(rows []httpapi.CampaignRow, spend []httpapi.SpendRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Campaign)
	}
	for _, s := range spend {
		out = append(out, s.Campaign)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	return out
}

// campaignsCSV is the report for the period, as a spreadsheet.
func (p *pages) campaignsCSV(r *request) {
	f, _ := period(r.query("from"), r.query("to")).filter()
	r.ctx.Response.Header.Set("Content-Disposition", `attachment; filename="campaigns.csv"`)
	r.ctx.SetContentType("text/csv; charset=utf-8")
	r.ctx.SetBody(r.api.CampaignReport(f).CSV())
}

// campaignsMistake shows the page again after a form's mistake, the form
// as it was sent (keep puts it back with its mistake); an error about no
// field shows the error page.
func (p *pages) campaignsMistake(r *request, q callQuery, err error, keep func(*campaignsPage, *fieldError)) {
	fe, ok := asFieldError(err)
	if !ok {
		p.failErr(r, err)
		return
	}
	page := newCampaignsPage(r, q)
	keep(&page, fe)
	p.renderCampaigns(r, http.StatusBadRequest, page)
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
