package httpapi

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
)

// Call is a call as the admin API shows it.
type Call struct {
	SID         string          `json:"sid"`
	StartedAt   time.Time       `json:"started_at"`
	From        string          `json:"from"`
	To          string          `json:"to"`
	Pool        string          `json:"pool,omitempty"`
	Match       string          `json:"match"`
	Visit       string          `json:"visit,omitempty"`
	Also        string          `json:"also_visit,omitempty"`
	Attribution attributionJSON `json:"attribution"`
	Channel     string          `json:"channel"`           // where the caller came from, in words
	Whisper     string          `json:"whisper,omitempty"` // what the agent was told, if the pool whispers
	FirstTime   bool            `json:"first_time"`
	Status      string          `json:"status,omitempty"`
	DurationS   int             `json:"duration_s"`
	AnsweredBy  string          `json:"answered_by,omitempty"`
	// What the call was worth: "lead", "sale", "none", "voicemail" (a
	// message nobody judged yet), or empty when nobody judged it and the
	// pool's rule did not make it a lead.
	Outcome   string     `json:"outcome"`
	Value     *float64   `json:"value,omitempty"` // a lead's or a sale's, in Currency
	Currency  string     `json:"currency,omitempty"`
	Note      string     `json:"note,omitempty"`
	OutcomeBy string     `json:"outcome_by,omitempty"` // "rule" or "hand"
	OutcomeAt *time.Time `json:"outcome_at,omitempty"`
	// The call's voicemail message and recorded conversation.
	Recordings []CallRecording `json:"recordings"`
}

func callOut(c *allocator.Call) Call {
	out := Call{
		SID: c.SID, StartedAt: c.StartedAt, From: c.From, To: c.To, Pool: c.PoolID, Match: string(c.Match),
		Attribution: attributionOut(c.Attribution), Channel: c.Attribution.Channel(), FirstTime: c.FirstTime, Status: string(c.Status),
		DurationS: int(c.Duration / time.Second), AnsweredBy: c.AnsweredBy, Recordings: recordingsOut(c),
	}
	if c.Whisper {
		out.Whisper = "Call from " + out.Channel
	}
	worthOut(&out, &c.Worth)
	if !c.Visit.IsZero() {
		out.Visit = c.Visit.String()
	}
	if !c.Also.IsZero() {
		out.Also = c.Also.String()
	}
	return out
}

// CallFilter selects calls, for /v1/calls, /v1/reports/calls and the admin
// pages: by pool id, by source, medium and campaign (in any case), and by
// when they started. Empty fields select everything.
type CallFilter struct {
	Pool, Source, Medium, Campaign string
	From, To                       time.Time // To is exclusive
}

func parseCallFilter(args *fasthttp.Args) (CallFilter, error) {
	f := CallFilter{
		Pool: string(args.Peek("pool")), Source: string(args.Peek("source")),
		Medium: string(args.Peek("medium")), Campaign: string(args.Peek("campaign")),
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := string(args.Peek(t.name)); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%s must be an RFC 3339 time such as 2026-11-27T00:00:00Z", t.name)
			}
			*t.dst = at
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, fmt.Errorf("to must be after from")
	}
	return f, nil
}

func (f *CallFilter) keep(c *allocator.Call) bool {
	if f.Pool != "" && c.PoolID != f.Pool {
		return false
	}
	if !f.From.IsZero() && c.StartedAt.Before(f.From) || !f.To.IsZero() && !c.StartedAt.Before(f.To) {
		return false
	}
	var a allocator.Attribution
	if c.Attribution != nil {
		a = *c.Attribution
	}
	return matches(f.Source, a.Source) && matches(f.Medium, a.Medium) && matches(f.Campaign, a.Campaign)
}

func matches(want, got string) bool { return want == "" || strings.EqualFold(want, got) }

const (
	defaultCallPage = 50
	maxCallPage     = 500
)

// listCalls lists calls, newest first, filtered; paginated by an opaque
// cursor (next_cursor), or all of them as CSV for Accept: text/csv.
func (s *Server) listCalls(rc *fasthttp.RequestCtx, _ []string) {
	args := rc.QueryArgs()
	f, err := parseCallFilter(args)
	if err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	a := s.Admin(rc)
	if wantsCSV(rc) {
		rc.SetContentType("text/csv; charset=utf-8")
		rc.Response.Header.Set("Content-Disposition", `attachment; filename="calls.csv"`)
		rc.SetBody(a.CallsCSV(f))
		return
	}
	limit := defaultCallPage
	if v := args.Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > maxCallPage {
			writeError(rc, fasthttp.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d", maxCallPage))
			return
		}
		limit = n
	}
	before := -1
	if v := args.Peek("cursor"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 || n > s.node.State().CallCount() {
			writeError(rc, fasthttp.StatusBadRequest, "cursor must be a next_cursor this API gave")
			return
		}
		before = n
	}
	page := a.Calls(f, limit, before)
	out := map[string]any{"calls": page.Calls}
	if page.Next >= 0 {
		out["next_cursor"] = strconv.Itoa(page.Next)
	}
	writeJSON(rc, fasthttp.StatusOK, out)
}

// CallPage is one page of calls, newest first. Next is where the next page
// starts (the before of Admin.Calls), or -1 after the last page.
type CallPage struct {
	Calls []Call
	Next  int
}

// Calls returns up to limit calls that f keeps, newest first, from those
// recorded before position before (a CallPage's Next), or from the newest
// for -1.
func (a Admin) Calls(f CallFilter, limit, before int) CallPage {
	state := a.s.node.State()
	if before < 0 || before > state.CallCount() {
		before = state.CallCount()
	}
	page := CallPage{Calls: []Call{}, Next: -1}
	state.CallsBefore(before, func(pos int, c *allocator.Call) bool {
		if len(page.Calls) == limit {
			page.Next = pos + 1
			return false
		}
		if f.keep(c) {
			page.Calls = append(page.Calls, callOut(c))
		}
		return true
	})
	return page
}

func wantsCSV(rc *fasthttp.RequestCtx) bool {
	return bytes.Contains(rc.Request.Header.Peek("Accept"), []byte("text/csv")) ||
		string(rc.QueryArgs().Peek("format")) == "csv"
}

var csvHeader = []string{
	"started_at", "sid", "from", "to", "pool", "match", "utm_source", "utm_medium", "utm_campaign",
	"utm_term", "utm_content", "gclid", "referrer", "landing_page", "status", "duration_s",
	"answered_by", "first_time", "visit", "outcome", "value", "currency", "note",
}

// CallsCSV is every call that f keeps, oldest first, as CSV with a header
// row. What visitors and callers chose is defused for spreadsheets.
func (a Admin) CallsCSV(f CallFilter) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(csvHeader)
	a.s.node.State().Calls(func(c *allocator.Call) bool {
		if !f.keep(c) {
			return true
		}
		var a allocator.Attribution
		if c.Attribution != nil {
			a = *c.Attribution
		}
		visit := ""
		if !c.Visit.IsZero() {
			visit = c.Visit.String()
		}
		// What visitors and callers chose is defused; the server's own
		// values (times, E.164 numbers, ids) are written as they are.
		row := []string{
			c.StartedAt.UTC().Format(time.RFC3339), csvSafe(c.SID), csvNumber(c.From), csvNumber(c.To),
			c.PoolID, string(c.Match), csvSafe(a.Source), csvSafe(a.Medium), csvSafe(a.Campaign),
			csvSafe(a.Term), csvSafe(a.Content), csvSafe(a.GCLID), csvSafe(a.Referrer), csvSafe(a.LandingPage),
			string(c.Status), strconv.Itoa(int(c.Duration / time.Second)), csvNumber(c.AnsweredBy),
			strconv.FormatBool(c.FirstTime), visit, string(c.Outcome), "", "", csvSafe(c.Note),
		}
		if c.Outcome.Converted() || c.Value != 0 {
			row[20], row[21] = c.Value.String(), c.Currency
		}
		w.Write(row)
		return true
	})
	w.Flush()
	return buf.Bytes()
}

// csvNumber writes a phone number as it is when it is one in E.164 form
// (a spreadsheet reads "+1415..." as a number, not a formula), and defuses
// it otherwise: a caller id can be anything.
func csvNumber(v string) string {
	if allocator.ValidE164(v) {
		return v
	}
	return csvSafe(v)
}

// csvSafe defuses a cell a spreadsheet would run as a formula: a visitor
// chose what is in utm_campaign. Spreadsheets skip white space and line
// breaks before a formula's sign, so the sign counts after them too.
func csvSafe(v string) string {
	t := strings.TrimLeft(v, " \t\r\n")
	if t != "" && strings.ContainsRune("=+-@", rune(t[0])) || v != "" && strings.ContainsRune("\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// ReportRow is one group of calls in a report. The fields not grouped by
// are nil.
type ReportRow struct {
	Source    *string `json:"source,omitempty"`
	Medium    *string `json:"medium,omitempty"`
	Campaign  *string `json:"campaign,omitempty"`
	Calls     int     `json:"calls"`
	Answered  int     `json:"answered"`
	FirstTime int     `json:"first_time_callers"`
}

var reportGroups = []string{"source", "medium", "campaign"}

// callReport counts calls, answered calls and first-time callers per group
// (any of source, medium, campaign) over a time range.
func (s *Server) callReport(rc *fasthttp.RequestCtx, _ []string) {
	args := rc.QueryArgs()
	f, err := parseCallFilter(args)
	if err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	group := reportGroups
	if v := string(args.Peek("group")); v != "" {
		group = strings.Split(v, ",")
		for _, g := range group {
			if !slices.Contains(reportGroups, g) {
				writeError(rc, fasthttp.StatusBadRequest, "group must list source, medium or campaign, comma-separated")
				return
			}
		}
	}
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"group": group, "rows": s.Admin(rc).CallReport(f, group)})
}

// CallReport counts the calls f keeps, answered calls and first-time
// callers per group: group lists any of "source", "medium" and "campaign".
// The busiest group comes first.
func (a Admin) CallReport(f CallFilter, group []string) []ReportRow {
	rows := map[[3]string]*ReportRow{}
	a.s.node.State().Calls(func(c *allocator.Call) bool {
		if !f.keep(c) {
			return true
		}
		var at allocator.Attribution
		if c.Attribution != nil {
			at = *c.Attribution
		}
		var key [3]string
		for _, g := range group {
			switch g {
			case "source":
				key[0] = at.Source
			case "medium":
				key[1] = at.Medium
			case "campaign":
				key[2] = at.Campaign
			}
		}
		r := rows[key]
		if r == nil {
			r = &ReportRow{}
			for _, g := range group {
				switch g {
				case "source":
					r.Source = ptr(key[0])
				case "medium":
					r.Medium = ptr(key[1])
				case "campaign":
					r.Campaign = ptr(key[2])
				}
			}
			rows[key] = r
		}
		r.Calls++
		if c.Answered() {
			r.Answered++
		}
		if c.FirstTime {
			r.FirstTime++
		}
		return true
	})
	out := make([]ReportRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ReportRow) int {
		if c := cmp.Compare(b.Calls, a.Calls); c != 0 {
			return c
		}
		for _, f := range [][2]*string{{a.Source, b.Source}, {a.Medium, b.Medium}, {a.Campaign, b.Campaign}} {
			if c := cmp.Compare(deref(f[0]), deref(f[1])); c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
