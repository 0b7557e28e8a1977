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

type callJSON struct {
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
}

func callOut(c *allocator.Call) callJSON {
	out := callJSON{
		SID: c.SID, StartedAt: c.StartedAt, From: c.From, To: c.To, Pool: c.PoolID, Match: string(c.Match),
		Attribution: attributionOut(c.Attribution), Channel: c.Attribution.Channel(), FirstTime: c.FirstTime, Status: string(c.Status),
		DurationS: int(c.Duration / time.Second), AnsweredBy: c.AnsweredBy,
	}
	if c.Whisper {
		out.Whisper = "Call from " + out.Channel
	}
	if !c.Visit.IsZero() {
		out.Visit = c.Visit.String()
	}
	if !c.Also.IsZero() {
		out.Also = c.Also.String()
	}
	return out
}

// callFilter is what /v1/calls and /v1/reports/calls select calls by.
type callFilter struct {
	pool, source, medium, campaign string
	from, to                       time.Time // to is exclusive
}

func parseCallFilter(args *fasthttp.Args) (callFilter, error) {
	f := callFilter{
		pool: string(args.Peek("pool")), source: string(args.Peek("source")),
		medium: string(args.Peek("medium")), campaign: string(args.Peek("campaign")),
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.from}, {"to", &f.to}} {
		if v := string(args.Peek(t.name)); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%s must be an RFC 3339 time such as 2026-11-27T00:00:00Z", t.name)
			}
			*t.dst = at
		}
	}
	if !f.from.IsZero() && !f.to.IsZero() && !f.to.After(f.from) {
		return f, fmt.Errorf("to must be after from")
	}
	return f, nil
}

func (f *callFilter) keep(c *allocator.Call) bool {
	if f.pool != "" && c.PoolID != f.pool {
		return false
	}
	if !f.from.IsZero() && c.StartedAt.Before(f.from) || !f.to.IsZero() && !c.StartedAt.Before(f.to) {
		return false
	}
	var a allocator.Attribution
	if c.Attribution != nil {
		a = *c.Attribution
	}
	return matches(f.source, a.Source) && matches(f.medium, a.Medium) && matches(f.campaign, a.Campaign)
}

func matches(want, got string) bool { return want == "" || strings.EqualFold(want, got) }

const (
	defaultCallPage = 50
	maxCallPage     = 500
)

// listCalls lists calls, newest first, filtered; paginated by an opaque
// cursor (next_cursor), or all of them as CSV for Accept: text/csv.
func (s *Server) listCalls(ctx *fasthttp.RequestCtx, _ []string) {
	args := ctx.QueryArgs()
	f, err := parseCallFilter(args)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	state := s.node.State()
	if wantsCSV(ctx) {
		s.callsCSV(ctx, state, &f)
		return
	}
	limit := defaultCallPage
	if v := args.Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > maxCallPage {
			writeError(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d", maxCallPage))
			return
		}
		limit = n
	}
	end := state.CallCount()
	if v := args.Peek("cursor"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 || n > end {
			writeError(ctx, fasthttp.StatusBadRequest, "cursor must be a next_cursor this API gave")
			return
		}
		end = n
	}
	out := []callJSON{}
	next := -1
	state.CallsBefore(end, func(pos int, c *allocator.Call) bool {
		if len(out) == limit {
			next = pos + 1
			return false
		}
		if f.keep(c) {
			out = append(out, callOut(c))
		}
		return true
	})
	page := map[string]any{"calls": out}
	if next >= 0 {
		page["next_cursor"] = strconv.Itoa(next)
	}
	writeJSON(ctx, fasthttp.StatusOK, page)
}

func wantsCSV(ctx *fasthttp.RequestCtx) bool {
	return bytes.Contains(ctx.Request.Header.Peek("Accept"), []byte("text/csv")) ||
		string(ctx.QueryArgs().Peek("format")) == "csv"
}

var csvHeader = []string{
	"started_at", "sid", "from", "to", "pool", "match", "utm_source", "utm_medium", "utm_campaign",
	"utm_term", "utm_content", "gclid", "referrer", "landing_page", "status", "duration_s",
	"answered_by", "first_time", "visit",
}

func (s *Server) callsCSV(ctx *fasthttp.RequestCtx, state *allocator.State, f *callFilter) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(csvHeader)
	state.Calls(func(c *allocator.Call) bool {
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
			strconv.FormatBool(c.FirstTime), visit,
		}
		w.Write(row)
		return true
	})
	w.Flush()
	ctx.SetContentType("text/csv; charset=utf-8")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="calls.csv"`)
	ctx.SetBody(buf.Bytes())
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
// chose what is in utm_campaign.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// reportRow is one group of calls in a report.
type reportRow struct {
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
func (s *Server) callReport(ctx *fasthttp.RequestCtx, _ []string) {
	args := ctx.QueryArgs()
	f, err := parseCallFilter(args)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	group := []string{"source", "medium", "campaign"}
	if v := string(args.Peek("group")); v != "" {
		group = strings.Split(v, ",")
		for _, g := range group {
			if !slices.Contains(reportGroups, g) {
				writeError(ctx, fasthttp.StatusBadRequest, "group must list source, medium or campaign, comma-separated")
				return
			}
		}
	}
	rows := map[[3]string]*reportRow{}
	s.node.State().Calls(func(c *allocator.Call) bool {
		if !f.keep(c) {
			return true
		}
		var a allocator.Attribution
		if c.Attribution != nil {
			a = *c.Attribution
		}
		var key [3]string
		for _, g := range group {
			switch g {
			case "source":
				key[0] = a.Source
			case "medium":
				key[1] = a.Medium
			case "campaign":
				key[2] = a.Campaign
			}
		}
		r := rows[key]
		if r == nil {
			r = &reportRow{}
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
		if answered(c) {
			r.Answered++
		}
		if c.FirstTime {
			r.FirstTime++
		}
		return true
	})
	out := make([]reportRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b reportRow) int {
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
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"group": group, "rows": out})
}

// answered reports whether a call reached someone: it completed after
// being answered.
func answered(c *allocator.Call) bool {
	return c.Status == allocator.CallCompleted && (c.AnsweredBy != "" || c.Duration > 0)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
