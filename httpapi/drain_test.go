package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// The tests of this file are about pools that scripts cannot drain: a burst
// of new visits, many addresses, fake click ids, other websites and
// hammered heartbeats.

// Click ids as Google puts them on ad clicks' URLs: base64url, tens of
// characters.
const (
	adClick  = "Cj0KCQiA4L67BhDUARIsADWrl7Fm3sNNbk4jO4VQq1kE9z5qfWv-Ax0iOZs1rFWXwTN3TwTmL_aQ0qIaAkbhEALw_wcB"
	appClick = "0AAAAADxyq2_mB5rJDxCmVsd1qgY9W4vG2"
)

// protections are the settings of a pool that guard it against scripts.
type protections struct {
	DisplaceAfterS  int      `json:"displace_after_s"`
	VisitsPerMinute int      `json:"visits_per_minute"`
	VisitBurst      int      `json:"visit_burst"`
	AllowedOrigins  []string `json:"allowed_origins"`
}

func (a *testAPI) protections(pool string) protections {
	a.t.Helper()
	var p protections
	a.AdminOK("GET", "/v1/pools/"+pool, nil, http.StatusOK, &p)
	return p
}

// visitOutcomes posts n new visits to the pool as the snippet does, with
// header (name, value pairs) on each, and counts the answers: "created",
// or the reason a visit got no number, or the HTTP status of an error.
func (a *testAPI) visitOutcomes(n int, body map[string]any, header ...string) map[string]int {
	a.t.Helper()
	out := map[string]int{}
	for range n {
		r := a.Visitor("POST", "/v1/visits", body, header...)
		switch r.Status {
		case http.StatusCreated:
			out["created"]++
		case http.StatusOK:
			var v visitReply
			r.Decode(a.t, &v)
			out[v.Reason]++
		default:
			out[http.StatusText(r.Status)]++
		}
	}
	return out
}

// Sixty new visits in a burst from one address (the per-address limit's
// burst) fill a pool of four, whose budget of new visits does not stop
// them. The visitor who heartbeated a minute ago keeps its number, and a
// call to that number is matched live to that visitor, with its
// attribution, not the script's.
func TestABurstOfNewVisitsCannotTakeTheNumberOfAVisitorSeenAMinuteAgo(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(map[string]any{"visits_per_minute": 100_000, "visit_burst": 100_000}, numbersFrom(123, 4)...)
	person := testkit.NewVisitID()
	now := time.Now()
	r := a.Command(&fsm.Assign{
		Visit: person, PoolKey: p.Key, At: now.Add(-2 * time.Minute),
		Attribution: allocator.Attribution{Source: "newsletter", Campaign: "spring", LandingPage: landing},
	})
	a.Command(&fsm.Touch{Visits: []allocator.VisitID{person}, At: now.Add(-time.Minute)})

	got := a.visitOutcomes(60, map[string]any{"pool": p.Key, "url": landing + "?utm_source=script"})
	if got["created"] != 3 || got["pool full"] != 57 {
		t.Fatalf("60 visits in a burst: %v; want 3 numbers (the free ones) and 57 answers \"pool full\"", got)
	}

	hb := a.heartbeat(person.String())
	wantStatus(t, hb, http.StatusOK)
	var v visitReply
	hb.Decode(t, &v)
	if v.Number != r.Number {
		t.Fatalf("the visitor seen a minute ago: %s; it held %s", hb, r.Number)
	}
	a.Command(&fsm.RecordCall{SID: "CAburst", To: r.Number, From: "+12125550001", At: time.Now()})
	calls := a.calls("").Calls
	if len(calls) != 1 || calls[0].Match != "live" || calls[0].Visit != person.String() ||
		calls[0].Attribution["utm_source"] != "newsletter" {
		t.Fatalf("the call to %s: %+v; want it matched live to visit %s from the newsletter", r.Number, calls, person)
	}
}

// Twenty addresses, each within its own limit, start sixty visits: the
// pool gives numbers to no more than its budget allows (a burst of ten,
// then ten a minute), the others get the business number and are counted,
// and a visit past the budget writes nothing to the log.
func TestTwentyAddressesTogetherCannotExceedThePoolsBudget(t *testing.T) {
	a := startAPI(t, httpapi.Options{ClientIPHeader: "X-Forwarded-For"})
	p := a.createPool(map[string]any{"size": 20, "visits_per_minute": 10, "visit_burst": 10}, numbersFrom(123, 20)...)
	start := time.Now()
	got := map[string]int{}
	for range 3 {
		for addr := range 20 {
			for reason, n := range a.visitOutcomes(1, map[string]any{"pool": p.Key, "url": landing},
				"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", 1+addr)) {
				got[reason] += n
			}
		}
	}
	// The budget refills a visit every six seconds while the test runs.
	allowed := 10 + int(time.Since(start)/(6*time.Second))
	if got["created"] < 10 || got["created"] > allowed || got["created"]+got["over budget"] != 60 {
		t.Fatalf("60 visits from 20 addresses: %v; want at least the burst of 10, at most %d numbers, the rest \"over budget\"", got, allowed)
	}
	if live := a.pool(p.ID).Stats.LiveVisits; live != got["created"] {
		t.Errorf("%d live visits, %d visits given a number", live, got["created"])
	}
	m := a.Send("GET", "/metrics", nil)
	if v, _ := metricLine(string(m.Body), "dni_visits_total", `{outcome="over_budget",pool="`+p.ID+`"}`); v != fmt.Sprint(got["over budget"]) {
		t.Errorf("dni_visits_total{outcome=\"over_budget\"} is %q, want %d", v, got["over budget"])
	}
	before := a.Node.Node.Status().LastIndex
	if more := a.visitOutcomes(5, map[string]any{"pool": p.Key, "url": landing}, "X-Forwarded-For", "203.0.113.50"); more["over budget"] != 5 {
		t.Fatalf("5 more visits at once: %v", more)
	}
	if after := a.Node.Node.Status().LastIndex; after != before {
		t.Errorf("visits past the budget wrote %d log entries", after-before)
	}
}

// A pool for Google Ads clicks gives no number to a visit whose click id a
// script made up, in the page's URL or in the request's fields, and gives
// one to a click id of the form Google's take.
func TestAGoogleAdsOnlyPoolRefusesAMadeUpClickIDAndTakesARealisticOne(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(map[string]any{"tracking": "gclid"}, numbersFrom(123, 4)...)
	for _, body := range []map[string]any{
		{"gclid": "x"},
		{"url": landing + "?gclid=x"},
		{"url": landing + "?gclid=" + adClick[:19]},
		{"gbraid": "test", "wbraid": "<script>alert(1)</script>"},
		{"gclid": adClick[:40] + "." + adClick[41:]},
		{"gclid": "x", "fbclid": adClick},
	} {
		body["pool"] = p.Key
		r := a.Visitor("POST", "/v1/visits", body)
		var v visitReply
		r.Decode(t, &v)
		if r.Status != http.StatusOK || v.Reason != "not a Google Ads click" {
			t.Errorf("%v: %s; want no number, \"not a Google Ads click\"", body, r)
		}
	}
	if got := a.pool(p.ID).Stats.LiveVisits; got != 0 {
		t.Fatalf("made-up click ids made %d visits", got)
	}
	a.visit(p.Key, map[string]any{"gclid": adClick})
	a.visit(p.Key, map[string]any{"url": landing + "?gbraid=" + appClick})
	if got := a.pool(p.ID).Stats.LiveVisits; got != 2 {
		t.Errorf("two visits with Google's click ids, %d live visits", got)
	}
}

// A pool that lists its websites takes visits and heartbeats only from
// pages of them: another website's page, a page of another website posted
// with the pool's Origin, or a request with no Origin at all is refused
// with a 403 that no other website's page may read. Its own website's
// requests are answered with CORS naming it, not any origin.
func TestAPoolWithAllowedOriginsRefusesAnotherOriginAndAcceptsItsOwn(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(map[string]any{"allowed_origins": []string{"https://Shop.example/"}}, numbersFrom(123, 4)...)
	if got := a.protections(p.ID).AllowedOrigins; len(got) != 1 || got[0] != "https://shop.example" {
		t.Fatalf("allowed_origins %q, want it as browsers send it: [https://shop.example]", got)
	}
	const own, other = "https://shop.example", "https://evil.example"
	for _, c := range []struct {
		name, origin, url string
	}{
		{"another website", other, other + "/spring"},
		{"another website's page with the pool's Origin", own, other + "/spring"},
		{"the pool's page with another Origin", other, landing},
		{"no Origin", "", landing},
	} {
		var header []string
		if c.origin != "" {
			header = []string{"Origin", c.origin}
		}
		r := a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key, "url": c.url}, header...)
		wantProblem(t, r, http.StatusForbidden, "")
		if acao := r.Header.Get("Access-Control-Allow-Origin"); acao != "" {
			t.Errorf("%s: the refusal allows origin %q to read it", c.name, acao)
		}
	}
	if got := a.pool(p.ID).Stats.LiveVisits; got != 0 {
		t.Fatalf("refused origins made %d visits", got)
	}

	r := a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key, "url": landing}, "Origin", own)
	wantStatus(t, r, http.StatusCreated)
	if acao := r.Header.Get("Access-Control-Allow-Origin"); acao != own {
		t.Errorf("the pool's own website is answered with Access-Control-Allow-Origin %q, want %q", acao, own)
	}
	var v visitReply
	r.Decode(t, &v)
	path := "/v1/visits/" + v.Visit + "/heartbeat"
	hb := a.Visitor("POST", path, "", "Origin", other)
	wantProblem(t, hb, http.StatusForbidden, "")
	hb = a.Visitor("POST", path, "", "Origin", own)
	wantStatus(t, hb, http.StatusOK)
	if acao := hb.Header.Get("Access-Control-Allow-Origin"); acao != own {
		t.Errorf("a heartbeat from the pool's website: Access-Control-Allow-Origin %q, want %q", acao, own)
	}

	// With its list cleared, the pool takes any website again.
	a.AdminOK("PATCH", "/v1/pools/"+p.ID, map[string]any{"allowed_origins": []string{}}, http.StatusOK, nil)
	r = a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key, "url": other + "/"}, "Origin", other)
	wantStatus(t, r, http.StatusCreated)
	if acao := r.Header.Get("Access-Control-Allow-Origin"); acao != "*" {
		t.Errorf("a pool that lists no website: Access-Control-Allow-Origin %q, want *", acao)
	}
	m := string(a.Send("GET", "/metrics", nil).Body)
	if got, _ := metricLine(m, "dni_visits_total", `{outcome="origin_refused",pool="`+p.ID+`"}`); got != "4" {
		t.Errorf("dni_visits_total{outcome=\"origin_refused\"} is %q, want 4", got)
	}
}

// A visit that lost its number keeps sending heartbeats while its pool is
// full: each is answered from the node's own state ("pool full", keep the
// business number) and none writes to the log, not even a coalesced
// heartbeat. Once a number is free, the next heartbeat takes it.
func TestAHeartbeatOfANumberlessVisitInAFullPoolWritesNothingToTheLog(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(map[string]any{"displace_after_s": 0, "visit_burst": 10}, numbersFrom(123, 4)...)
	var visits []visitReply
	for range 5 {
		visits = append(visits, a.visit(p.Key, nil))
	}
	waiting := visits[0] // the fifth visit took its number
	before := a.Node.Node.Status().LastIndex
	for range 20 {
		r := a.heartbeat(waiting.Visit)
		wantStatus(t, r, http.StatusOK)
		var v visitReply
		r.Decode(t, &v)
		if v.Visit != waiting.Visit || v.Number != "" || v.Reason != "pool full" {
			t.Fatalf("a heartbeat of the visit without a number: %s", r)
		}
	}
	time.Sleep(2 * cluster.DefaultHeartbeatFlush) // a coalesced heartbeat would be written by now
	if after := a.Node.Node.Status().LastIndex; after != before {
		t.Fatalf("20 heartbeats of a visit without a number in a full pool wrote %d log entries", after-before)
	}

	extra := numbersFrom(200, 1)[0]
	wantStatus(t, a.attach(p.ID, extra), http.StatusCreated)
	r := a.heartbeat(waiting.Visit)
	var v visitReply
	r.Decode(t, &v)
	if v.Number != extra {
		t.Fatalf("the heartbeat after a number came free: %s, want %s", r, extra)
	}
}

// Behind a trusted proxy, the per-address limit (two new visits a minute
// here) counts an IPv6 address by its /64: addresses of one /64 share it,
// another /64 has its own, and IPv4 addresses count one by one, however
// written.
func TestIPv6AddressesInOne64ShareALimit(t *testing.T) {
	a := startAPI(t, httpapi.Options{VisitsPerMinute: 2, ClientIPHeader: "X-Forwarded-For"})
	p := a.createPool(map[string]any{"size": 10, "visit_burst": 100}, numbersFrom(123, 10)...)
	for _, c := range []struct {
		from   string
		status int
	}{
		{"2001:db8:1:2::1", http.StatusCreated},
		{"2001:db8:1:2:ffff:ffff:ffff:fffe", http.StatusCreated},
		{"2001:db8:1:2:8000::abcd", http.StatusTooManyRequests},
		{"2001:db8:1:3::1", http.StatusCreated},
		{"203.0.113.7", http.StatusCreated},
		{"203.0.113.8", http.StatusCreated},
		{"::ffff:203.0.113.7", http.StatusCreated},
		{"203.0.113.7", http.StatusTooManyRequests},
	} {
		r := a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key, "url": landing}, "X-Forwarded-For", c.from)
		if r.Status != c.status {
			t.Errorf("a visit from %s: %s, want HTTP %d", c.from, r, c.status)
		}
	}
}
