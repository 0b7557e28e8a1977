package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// Ad spend per campaign per day (GET, POST and DELETE /v1/spend), and the
// report that sets it against what calls were worth: ROAS
// (/v1/reports/campaigns).

// SpendRow is one day of spend on one campaign, as the API shows it.
type SpendRow struct {
	Day      string  `json:"day"` // 2006-01-02
	Source   string  `json:"source"`
	Medium   string  `json:"medium"`
	Campaign string  `json:"campaign"`
	Cost     float64 `json:"cost"`
}

// spendRequest is a row as a client writes it; the cost may be a number or
// a string ("1,250.50").
type spendRequest struct {
	Day      string          `json:"day"`
	Source   string          `json:"source"`
	Medium   string          `json:"medium"`
	Campaign string          `json:"campaign"`
	Cost     json.RawMessage `json:"cost"`
}

// key checks the row's day, source, medium and campaign.
func (r *spendRequest) key() (allocator.SpendKey, error) {
	day, err := allocator.DayField("day", r.Day)
	if err != nil {
		return allocator.SpendKey{}, err
	}
	k := allocator.SpendKey{Day: day, Source: strings.TrimSpace(r.Source), Medium: strings.TrimSpace(r.Medium), Campaign: strings.TrimSpace(r.Campaign)}
	return k, checkSpendKey(k)
}

// checkSpendKey is allocator.CheckSpendKey, and a source and a medium:
// spend is matched to calls by all three.
func checkSpendKey(k allocator.SpendKey) error {
	if k.Source == "" {
		return &allocator.ValidationError{Field: "source", Reason: "must name the source, as the campaign's utm_source does (google, bing)"}
	}
	if k.Medium == "" {
		return &allocator.ValidationError{Field: "medium", Reason: "must name the medium, as the campaign's utm_medium does (cpc)"}
	}
	return allocator.CheckSpendKey(k)
}

func spendOut(s allocator.Spend) SpendRow {
	return SpendRow{Day: s.Day.String(), Source: s.Source, Medium: s.Medium, Campaign: s.Campaign, Cost: s.Cost.Float()}
}

// days reads the from and to of a spend listing: days, both included.
func days(args *fasthttp.Args) (from, to allocator.Day, err error) {
	from, to = 0, allocator.AllDays
	for _, d := range []struct {
		name string
		dst  *allocator.Day
	}{{"from", &from}, {"to", &to}} {
		if v := string(args.Peek(d.name)); v != "" {
			day, err := allocator.DayField(d.name, v)
			if err != nil {
				return 0, 0, err
			}
			*d.dst = day
		}
	}
	return from, to, nil
}

func (s *Server) listSpend(rc *fasthttp.RequestCtx, _ []string) {
	from, to, err := days(rc.QueryArgs())
	if err != nil {
		writeErr(rc, err)
		return
	}
	a := s.Admin(rc)
	rows := a.Spend(from, to)
	if wantsCSV(rc) {
		rc.SetContentType("text/csv; charset=utf-8")
		rc.Response.Header.Set("Content-Disposition", `attachment; filename="spend.csv"`)
		rc.SetBody(spendCSV(rows, a.Marketing().Currency))
		return
	}
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"currency": a.Marketing().Currency, "spend": rows})
}

// addSpend records days of spend: a JSON list ({"spend": [...]}), or a CSV
// file as the ad platforms export it (Content-Type text/csv; see
// ParseSpendCSV), whose source and medium the query may give.
func (s *Server) addSpend(rc *fasthttp.RequestCtx, _ []string) {
	a := s.Admin(rc)
	var rows []allocator.Spend
	if bytes.HasPrefix(bytes.TrimSpace(rc.Request.Header.ContentType()), []byte("text/csv")) {
		args := rc.QueryArgs()
		var err error
		rows, err = ParseSpendCSV(rc.PostBody(), SpendDefaults{
			Source: string(args.Peek("source")), Medium: string(args.Peek("medium")), Currency: a.Marketing().Currency,
		})
		if err != nil {
			writeErr(rc, err)
			return
		}
	} else {
		var req struct {
			Spend []spendRequest `json:"spend"`
		}
		if err := decodeBody(rc, &req); err != nil {
			writeError(rc, fasthttp.StatusBadRequest, err.Error())
			return
		}
		for i, r := range req.Spend {
			k, err := r.key()
			if err != nil {
				writeErr(rc, allocator.RowError(i, err))
				return
			}
			if len(r.Cost) == 0 {
				writeErr(rc, allocator.RowError(i, &allocator.ValidationError{Field: "cost", Reason: "must be given"}))
				return
			}
			cost, err := jsonAmount("cost", r.Cost)
			if err != nil {
				writeErr(rc, allocator.RowError(i, err))
				return
			}
			rows = append(rows, allocator.Spend{SpendKey: k, Cost: cost})
		}
	}
	ctx, cancel := requestContext()
	defer cancel()
	n, err := a.AddSpend(ctx, rows)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"written": n})
}

// deleteSpend forgets one day of spend on one campaign, named by the
// query: day, source, medium, campaign.
func (s *Server) deleteSpend(rc *fasthttp.RequestCtx, _ []string) {
	args := rc.QueryArgs()
	r := spendRequest{Day: string(args.Peek("day")), Source: string(args.Peek("source")),
		Medium: string(args.Peek("medium")), Campaign: string(args.Peek("campaign"))}
	k, err := r.key()
	if err != nil {
		writeErr(rc, err)
		return
	}
	ctx, cancel := requestContext()
	defer cancel()
	n, err := s.Admin(rc).DeleteSpend(ctx, k)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"deleted": n})
}

// Spend lists the spend recorded from day from to day to, both included.
func (a Admin) Spend(from, to allocator.Day) []SpendRow {
	out := []SpendRow{}
	for _, s := range a.s.node.State().Spends(from, to) {
		out = append(out, spendOut(s))
	}
	return out
}

// AddSpend records days of spend, each replacing what was recorded for
// its day and campaign; rows for the same day and campaign add up.
func (a Admin) AddSpend(ctx context.Context, rows []allocator.Spend) (int, error) {
	if len(rows) == 0 {
		return 0, &allocator.ValidationError{Field: "spend", Reason: "lists no days of spend"}
	}
	rows = sumSpend(rows)
	for i, r := range rows {
		if err := checkSpendKey(r.SpendKey); err != nil {
			return 0, allocator.RowError(i, err)
		}
	}
	if _, err := a.s.commitAndWait(ctx, &fsm.SetSpend{Rows: rows, At: time.Now()}); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// sumSpend adds up rows for the same day and campaign (a report split by
// device or network lists several), keeping the first one's place.
func sumSpend(rows []allocator.Spend) []allocator.Spend {
	at := make(map[allocator.SpendKey]int, len(rows))
	out := rows[:0:0]
	for _, r := range rows {
		if i, ok := at[r.SpendKey]; ok {
			out[i].Cost += r.Cost
			continue
		}
		at[r.SpendKey] = len(out)
		out = append(out, r)
	}
	return out
}

// DeleteSpend forgets one day of spend on one campaign; it says how many
// were recorded (0 or 1).
func (a Admin) DeleteSpend(ctx context.Context, k allocator.SpendKey) (int, error) {
	r, err := a.s.commitAndWait(ctx, &fsm.DeleteSpend{Keys: []allocator.SpendKey{k}, At: time.Now()})
	if err != nil {
		return 0, err
	}
	return r.Count, nil
}

var spendHeader = []string{"day", "source", "medium", "campaign", "cost", "currency"}

func spendCSV(rows []SpendRow, currency string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(spendHeader)
	for _, r := range rows {
		w.Write([]string{r.Day, csvSafe(r.Source), csvSafe(r.Medium), csvSafe(r.Campaign),
			strconv.FormatFloat(r.Cost, 'f', 2, 64), currency})
	}
	w.Flush()
	return buf.Bytes()
}

// CampaignRow is one campaign in the ROAS report: its calls, what they
// were worth, and what was spent on it in the period.
type CampaignRow struct {
	Source    string  `json:"source"`
	Medium    string  `json:"medium"`
	Campaign  string  `json:"campaign"`
	Calls     int     `json:"calls"`
	Answered  int     `json:"answered"`
	FirstTime int     `json:"first_time_callers"`
	Leads     int     `json:"leads"` // leads and sales: the calls that converted
	Sales     int     `json:"sales"`
	Value     float64 `json:"value"`
	Spend     float64 `json:"spend"`
	// CostPerLead is spend ÷ leads, ROAS value ÷ spend; absent where
	// there is nothing to divide by.
	CostPerLead *float64 `json:"cost_per_lead,omitempty"`
	ROAS        *float64 `json:"roas,omitempty"`

	value, spend allocator.Money
}

// CampaignReport is the ROAS report over a period: a row per source,
// medium and campaign that had calls or spend, the busiest first, and
// their total.
type CampaignReport struct {
	Currency string        `json:"currency"`
	Rows     []CampaignRow `json:"rows"`
	Total    CampaignRow   `json:"total"`
}

func (s *Server) campaignReport(rc *fasthttp.RequestCtx, _ []string) {
	f, err := parseCallFilter(rc.QueryArgs())
	if err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	r := s.Admin(rc).CampaignReport(f)
	if wantsCSV(rc) {
		rc.SetContentType("text/csv; charset=utf-8")
		rc.Response.Header.Set("Content-Disposition", `attachment; filename="campaigns.csv"`)
		rc.SetBody(r.CSV())
		return
	}
	writeJSON(rc, fasthttp.StatusOK, r)
}

// CampaignReport sets the calls f keeps against the spend of the days in
// f's period (a day counts when it starts within it), per source, medium
// and campaign, matched in any case. f's pool, if any, narrows the calls
// only: spend is not kept per pool.
func (a Admin) CampaignReport(f CallFilter) CampaignReport {
	state := a.s.node.State()
	rep := CampaignReport{Currency: state.Marketing().Currency}
	rows := map[[3]string]*CampaignRow{}
	row := func(source, medium, campaign string) *CampaignRow {
		key := [3]string{strings.ToLower(source), strings.ToLower(medium), strings.ToLower(campaign)}
		r := rows[key]
		if r == nil {
			r = &CampaignRow{Source: source, Medium: medium, Campaign: campaign}
			rows[key] = r
		}
		return r
	}
	state.Calls(func(c *allocator.Call) bool {
		if !f.keep(c) {
			return true
		}
		var at allocator.Attribution
		if c.Attribution != nil {
			at = *c.Attribution
		}
		r := row(at.Source, at.Medium, at.Campaign)
		r.Calls++
		if c.Answered() {
			r.Answered++
		}
		if c.FirstTime {
			r.FirstTime++
		}
		if c.Outcome.Converted() {
			r.Leads++
			r.value += c.Value
		}
		if c.Outcome == allocator.OutcomeSale {
			r.Sales++
		}
		return true
	})
	from, to := allocator.Day(0), allocator.AllDays
	if !f.From.IsZero() {
		from = allocator.DayOf(f.From.Add(24*time.Hour - time.Millisecond)) // the first day starting at or after From
	}
	if !f.To.IsZero() {
		to = allocator.DayOf(f.To.Add(-time.Millisecond)) // the last day starting before To
	}
	for _, s := range state.Spends(from, to) {
		if f.Source != "" && !strings.EqualFold(f.Source, s.Source) || f.Medium != "" && !strings.EqualFold(f.Medium, s.Medium) ||
			f.Campaign != "" && !strings.EqualFold(f.Campaign, s.Campaign) {
			continue
		}
		row(s.Source, s.Medium, s.Campaign).spend += s.Cost
	}
	rep.Rows = make([]CampaignRow, 0, len(rows))
	for _, r := range rows {
		r.finish()
		rep.Rows = append(rep.Rows, *r)
		t := &rep.Total
		t.Calls += r.Calls
		t.Answered += r.Answered
		t.FirstTime += r.FirstTime
		t.Leads += r.Leads
		t.Sales += r.Sales
		t.value += r.value
		t.spend += r.spend
	}
	rep.Total.finish()
	slices.SortFunc(rep.Rows, func(a, b CampaignRow) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(b.spend, a.spend),
			cmp.Compare(a.Source, b.Source), cmp.Compare(a.Medium, b.Medium), cmp.Compare(a.Campaign, b.Campaign))
	})
	return rep
}

// finish turns a row's sums into its figures.
func (r *CampaignRow) finish() {
	r.Value, r.Spend = r.value.Float(), r.spend.Float()
	r.CostPerLead, r.ROAS = nil, nil
	if r.Leads > 0 && r.spend > 0 {
		r.CostPerLead = ptr(float64(r.spend) / 100 / float64(r.Leads))
	}
	if r.spend > 0 {
		r.ROAS = ptr(float64(r.value) / float64(r.spend))
	}
}

var campaignHeader = []string{"source", "medium", "campaign", "calls", "answered", "first_time_callers", "leads", "sales",
	"value", "spend", "cost_per_lead", "roas", "currency"}

// CSV is the report as a spreadsheet, total last.
func (r CampaignReport) CSV() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(campaignHeader)
	line := func(c CampaignRow, source string) {
		opt := func(v *float64, prec int) string {
			if v == nil {
				return ""
			}
			return strconv.FormatFloat(*v, 'f', prec, 64)
		}
		w.Write([]string{source, csvSafe(c.Medium), csvSafe(c.Campaign), strconv.Itoa(c.Calls), strconv.Itoa(c.Answered),
			strconv.Itoa(c.FirstTime), strconv.Itoa(c.Leads), strconv.Itoa(c.Sales), c.value.String(), c.spend.String(),
			opt(c.CostPerLead, 2), opt(c.ROAS, 2), r.Currency})
	}
	for _, c := range r.Rows {
		line(c, csvSafe(c.Source))
	}
	line(r.Total, "(total)")
	w.Flush()
	return buf.Bytes()
}
