package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dni-dev/dni/httpapi"
)

// The Calls page: every call, newest first, with its attribution, filtered
// by pool, source, medium, campaign and dates, and exported as CSV.

// callsPerPage is how many calls the page shows at once.
const callsPerPage = 50

// dateLayout is how the date fields send a day.
const dateLayout = "2006-01-02"

// callQuery is the Calls page's filter as its form sends it.
type callQuery struct {
	Pool, Source, Medium, Campaign string
	From, To                       string // days, as dateLayout, both included
}

func readCallQuery(r *request) callQuery {
	return callQuery{
		Pool: r.query("pool"), Source: r.query("source"), Medium: r.query("medium"), Campaign: r.query("campaign"),
		From: r.query("from"), To: r.query("to"),
	}
}

// filter is the query as the admin functions take it. Days are UTC days;
// the To day is included. A day that does not parse is reported and left
// out of the filter.
func (q callQuery) filter() (httpapi.CallFilter, string) {
	f := httpapi.CallFilter{Pool: q.Pool, Source: q.Source, Medium: q.Medium, Campaign: q.Campaign}
	var problem string
	if q.From != "" {
		if d, err := time.Parse(dateLayout, q.From); err == nil {
			f.From = d
		} else {
			problem = "The From date is not a date; it was left out."
		}
	}
	if q.To != "" {
		if d, err := time.Parse(dateLayout, q.To); err == nil {
			f.To = d.AddDate(0, 0, 1)
		} else {
			problem = "The To date is not a date; it was left out."
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		f.To, problem = time.Time{}, "The To date is before the From date; it was left out."
	}
	return f, problem
}

// values is the query in a URL, without empty fields.
func (q callQuery) values() url.Values {
	v := url.Values{}
	for name, value := range map[string]string{
		"pool": q.Pool, "source": q.Source, "medium": q.Medium, "campaign": q.Campaign, "from": q.From, "to": q.To,
	} {
		if value != "" {
			v.Set(name, value)
		}
	}
	return v
}

type callRow struct {
	httpapi.Call
	PoolName string
}

type callsPage struct {
	Query   callQuery
	Problem string
	Pools   []httpapi.Pool
	Calls   []callRow
	CSV     string // the export of the same calls
	Older   string // the next page, if any
}

func (p *pages) calls(r *request) {
	q := readCallQuery(r)
	f, problem := q.filter()
	before := -1
	if v, err := strconv.Atoi(r.query("before")); err == nil && v >= 0 {
		before = v
	}
	pools := r.api.Pools(true)
	names := map[string]string{}
	for _, pl := range pools {
		names[pl.ID] = pl.Name
	}
	res := r.api.Calls(f, callsPerPage, before)
	page := callsPage{Query: q, Problem: problem, Pools: pools, CSV: "/admin/calls.csv"}
	if v := q.values(); len(v) > 0 {
		page.CSV += "?" + v.Encode()
	}
	for _, c := range res.Calls {
		page.Calls = append(page.Calls, callRow{Call: c, PoolName: names[c.Pool]})
	}
	if res.Next >= 0 {
		v := q.values()
		v.Set("before", strconv.Itoa(res.Next))
		page.Older = "/admin/calls?" + v.Encode()
	}
	p.render(r, http.StatusOK, "calls.html", "Calls", "calls", page)
}

// callsCSV is the export: every call the filter keeps, as the API's CSV
// (what visitors chose is defused for spreadsheets there).
func (p *pages) callsCSV(r *request) {
	f, _ := readCallQuery(r).filter()
	r.ctx.Response.Header.Set("Content-Disposition", `attachment; filename="calls.csv"`)
	r.ctx.SetContentType("text/csv; charset=utf-8")
	r.ctx.SetBody(r.api.CallsCSV(f))
}
