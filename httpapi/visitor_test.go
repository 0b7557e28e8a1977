package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

var visitID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestAVisitGetsANumberWhetherItsBodyIsJSONOrPlainText(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	body := `{"pool":"` + p.Key + `","url":"` + landing + `","referrer":"https://www.google.com/"}`
	for i, contentType := range []string{"application/json", "text/plain;charset=UTF-8"} {
		r := a.Visitor("POST", "/v1/visits", body, "Content-Type", contentType)
		wantStatus(t, r, http.StatusCreated)
		var fields map[string]any
		r.Decode(t, &fields)
		if keys := slices.Sorted(maps.Keys(fields)); !slices.Equal(keys, []string{"country_code", "digits", "display", "heartbeat_s", "international", "number", "target", "target_digits", "trunk_prefix", "visit"}) {
			t.Errorf("%s: answer has fields %v", contentType, keys)
		}
		var v visitReply
		r.Decode(t, &v)
		want := numbersFrom(123+i, 1)[0] // the number added first is given first
		if !visitID.MatchString(v.Visit) || v.Number != want || v.Display != httpapi.Display(want) ||
			v.Target != testkit.BusinessNumber || v.HeartbeatS != 60 {
			t.Errorf("%s: %s", contentType, r)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: answered with Content-Type %q", contentType, ct)
		}
	}
	if d := httpapi.Display("+14155550123"); d != "(415) 555-0123" {
		t.Errorf("display %q", d)
	}
	if d := httpapi.Display("+442071838750"); d != "020 7183 8750" {
		t.Errorf("a number outside North America is shown as %q, want as Britain writes it", d)
	}
}

// numberForms is what a visit answer tells the snippet to find the
// business number by and to write the tracking number with.
type numberForms struct {
	TargetDigits  string `json:"target_digits"`
	CountryCode   string `json:"country_code"`
	TrunkPrefix   string `json:"trunk_prefix"`
	Digits        string `json:"digits"`
	Display       string `json:"display"`
	International string `json:"international"`
}

func TestAVisitAnswerTellsTheSnippetTheBusinessNumbersDigitsAndTheTrackingNumbersForms(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for _, c := range []struct {
		country, target, number string
		want                    numberForms
	}{
		{"US", testkit.BusinessNumber, "+14155550123", numberForms{"4155550100", "1", "1", "4155550123", "(415) 555-0123", "+1 415-555-0123"}},
		{"CA", "416.555.0100", "+14165550110", numberForms{"4165550100", "1", "1", "4165550110", "(416) 555-0110", "+1 416-555-0110"}},
		{"GB", "+44 (0)20 7946 0018", "+442079460100", numberForms{"2079460018", "44", "0", "2079460100", "020 7946 0100", "+44 20 7946 0100"}},
		{"AU", "(02) 9374 4000", "+61255500100", numberForms{"293744000", "61", "0", "255500100", "(02) 5550 0100", "+61 2 5550 0100"}},
		{"DE", "Tel. 030/1234567", "+49301234100", numberForms{"301234567", "49", "0", "301234100", "030 1234100", "+49 30 1234100"}},
	} {
		p := a.createPool(map[string]any{"country": c.country, "swap_target": c.target}, c.number)
		r := a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key})
		wantStatus(t, r, http.StatusCreated)
		var v visitReply
		var got numberForms
		r.Decode(t, &v)
		r.Decode(t, &got)
		if got != c.want || v.Target != c.target {
			t.Errorf("%s: %s, want %+v", c.country, r.Body, c.want)
		}
		// A heartbeat answers the same.
		h := a.Visitor("POST", "/v1/visits/"+v.Visit+"/heartbeat", "")
		wantStatus(t, h, http.StatusOK)
		var again numberForms
		h.Decode(t, &again)
		if again != c.want {
			t.Errorf("%s: heartbeat %s, want %+v", c.country, h.Body, c.want)
		}
	}
}

func TestAVisitTakesUTMFieldsAndClickIDsFromItsURLAndExplicitFieldsWin(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	url := "https://shop.example/spring?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=plumber&utm_content=ad1" +
		"&gclid=" + adClick + "&gbraid=" + appClick + "&wbraid=WB1&fbclid=FB1&msclkid=MS1&other=x"
	v := a.visit(p.Key, map[string]any{
		"url": url, "referrer": "https://www.google.com/",
		"utm_campaign": "spring-override", "utm_medium": "", "msclkid": "MS2",
	})

	r := a.Admin("GET", "/v1/pools/"+p.ID+"/visits", nil)
	wantStatus(t, r, http.StatusOK)
	var list struct {
		Visits []struct {
			Visit       string            `json:"visit"`
			Number      string            `json:"number"`
			Attribution map[string]string `json:"attribution"`
		} `json:"visits"`
		Waiting int `json:"waiting_visits"`
	}
	r.Decode(t, &list)
	if len(list.Visits) != 1 || list.Visits[0].Visit != v.Visit || list.Visits[0].Number != v.Number || list.Waiting != 0 {
		t.Fatalf("visits: %s", r)
	}
	want := map[string]string{
		"utm_source": "google", "utm_campaign": "spring-override", "utm_term": "plumber", "utm_content": "ad1",
		"gclid": adClick, "gbraid": appClick, "wbraid": "WB1", "fbclid": "FB1", "msclkid": "MS2",
		"referrer": "https://www.google.com/", "landing_page": url, "user_agent": testkit.VisitorAgent,
	}
	got := list.Visits[0].Attribution
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected attribution %s=%q (an explicit empty utm_medium should win over the URL's)", k, got[k])
		}
	}
}

func TestAVisitGetsNoNumberWhenThePoolSaysSoOrTheVisitorIsABot(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	gclidPool := a.createPool(map[string]any{"tracking": "gclid"}, numbersFrom(123, 4)...)
	closedPool := a.createPool(map[string]any{"overflow": "none", "visit_burst": 10}, numbersFrom(130, 4)...)
	for range 4 {
		a.visit(closedPool.Key, nil)
	}
	openPool := a.createPool(nil, numbersFrom(140, 4)...)
	deletedPool := a.createPool(nil, numbersFrom(150, 4)...)
	wantStatus(t, a.Admin("DELETE", "/v1/pools/"+deletedPool.ID, nil), http.StatusOK)

	for _, c := range []struct {
		name   string
		body   map[string]any
		header []string
		reason string
	}{
		{"a gclid pool and no click id", map[string]any{"pool": gclidPool.Key, "url": landing + "?utm_source=google"}, nil, "not a Google Ads click"},
		{"a gclid pool and only a Meta click id", map[string]any{"pool": gclidPool.Key, "url": landing + "?fbclid=F"}, nil, "not a Google Ads click"},
		{"overflow none and the pool full", map[string]any{"pool": closedPool.Key}, nil, "pool full"},
		{"a crawler", map[string]any{"pool": openPool.Key}, []string{"User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}, "bot"},
		{"a script", map[string]any{"pool": openPool.Key}, []string{"User-Agent", "curl/8.5.0"}, "bot"},
		{"no user agent", map[string]any{"pool": openPool.Key}, []string{"User-Agent", ""}, "bot"},
		{"a deleted pool", map[string]any{"pool": deletedPool.Key}, nil, "pool deleted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.Visitor("POST", "/v1/visits", c.body, c.header...)
			wantStatus(t, r, http.StatusOK)
			var got map[string]any
			r.Decode(t, &got)
			if len(got) != 2 || got["swap"] != false || got["reason"] != c.reason {
				t.Errorf("want {swap: false, reason: %q}, got %s", c.reason, r)
			}
		})
	}
	for _, click := range []string{"gclid", "gbraid", "wbraid"} {
		v := a.visit(gclidPool.Key, map[string]any{"url": landing + "?" + click + "=" + appClick})
		if v.Number == "" {
			t.Errorf("a %s visit got no number", click)
		}
	}
	if a.pool(openPool.ID).Stats.LiveVisits != 0 {
		t.Error("a bot holds a number")
	}
}

func TestAWrongVisitRequestIsRefusedWithItsReason(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	key := p.Key
	for _, c := range []struct {
		name   string
		body   string
		status int
	}{
		{"malformed JSON", `{"pool":"` + key + `",`, http.StatusBadRequest},
		{"not an object", `["` + key + `"]`, http.StatusBadRequest},
		{"an empty body", ``, http.StatusBadRequest},
		{"data after the object", `{"pool":"` + key + `"} {}`, http.StatusBadRequest},
		{"an unknown field", `{"pool":"` + key + `","colour":"red"}`, http.StatusBadRequest},
		{"a field of the wrong type", `{"pool":"` + key + `","utm_source":7}`, http.StatusBadRequest},
		{"no pool", `{"url":"` + landing + `"}`, http.StatusBadRequest},
		{"a javascript url", `{"pool":"` + key + `","url":"javascript:alert(1)"}`, http.StatusBadRequest},
		{"an ftp url", `{"pool":"` + key + `","url":"ftp://shop.example/"}`, http.StatusBadRequest},
		{"a url that does not parse", `{"pool":"` + key + `","url":"https://shop.example/%zz"}`, http.StatusBadRequest},
		{"an unknown pool", `{"pool":"pk_nope"}`, http.StatusNotFound},
		{"a body over 8 KiB", `{"pool":"` + key + `","url":"` + landing + `?q=` + strings.Repeat("a", 8<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.Visitor("POST", "/v1/visits", c.body, "Content-Type", "text/plain")
			wantProblem(t, r, c.status, "")
			if r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Error("an error answer to a visitor does not allow any origin: the snippet could not read it")
			}
		})
	}
	if got := a.pool(p.ID).Stats.LiveVisits; got != 0 {
		t.Errorf("refused requests made %d visits", got)
	}
}

func TestNewVisitsFromOneAddressAreCappedPerMinute(t *testing.T) {
	a := startAPI(t, httpapi.Options{VisitsPerMinute: 3})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	var first visitReply
	for i := range 3 {
		v := a.visit(p.Key, nil)
		if i == 0 {
			first = v
		}
	}
	r := a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key})
	wantProblem(t, r, http.StatusTooManyRequests, "")
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("429 does not allow any origin")
	}
	// A client header does not get around the cap when no proxy is trusted.
	r = a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key}, "X-Forwarded-For", "203.0.113.9")
	wantStatus(t, r, http.StatusTooManyRequests)
	// Heartbeats are not new visits.
	for range 5 {
		wantStatus(t, a.heartbeat(first.Visit), http.StatusOK)
	}
	if got := a.pool(p.ID).Stats.LiveVisits; got != 3 {
		t.Errorf("%d live visits, want 3", got)
	}
	m := a.Send("GET", "/metrics", nil)
	if got, _ := metricLine(string(m.Body), "dni_rate_limited_visits_total", ""); got != "2" {
		t.Errorf("dni_rate_limited_visits_total %q, want 2", got)
	}
}

func TestATrustedProxyHeaderCountsEachVisitorOnItsOwn(t *testing.T) {
	a := startAPI(t, httpapi.Options{VisitsPerMinute: 2, ClientIPHeader: "X-Forwarded-For"})
	p := a.createPool(map[string]any{"visit_burst": 10}, numbersFrom(123, 6)...)
	post := func(forwardedFor string) int {
		return a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key}, "X-Forwarded-For", forwardedFor).Status
	}
	for _, c := range []struct {
		forwardedFor string
		status       int
	}{
		{"203.0.113.1", http.StatusCreated},
		{"203.0.113.1", http.StatusCreated},
		{"203.0.113.1", http.StatusTooManyRequests},
		{"203.0.113.2", http.StatusCreated},
		// The proxy appends the address it saw: the last entry counts,
		// whatever the visitor wrote before it.
		{"198.51.100.7, 203.0.113.2", http.StatusCreated},
		{"203.0.113.1, 203.0.113.2", http.StatusTooManyRequests},
		{"203.0.113.2, 203.0.113.3", http.StatusCreated},
	} {
		if got := post(c.forwardedFor); got != c.status {
			t.Errorf("X-Forwarded-For %q: %d, want %d", c.forwardedFor, got, c.status)
		}
	}
}

func TestVisitorAnswersAllowAnyOriginAndAPreflightIsAnswered(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	v := a.visit(p.Key, nil)
	for _, r := range []testkit.Reply{
		a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key}, "Origin", "https://shop.example"),
		a.Visitor("POST", "/v1/visits/"+v.Visit+"/heartbeat", "", "Origin", "https://shop.example"),
		a.Visitor("POST", "/v1/visits/00000000000000000000000000000000/heartbeat", "", "Origin", "https://shop.example"),
	} {
		if r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("no Access-Control-Allow-Origin: * on %s", r)
		}
	}
	for _, path := range []string{"/v1/visits", "/v1/visits/" + v.Visit + "/heartbeat"} {
		r := a.Send("OPTIONS", path, nil,
			"Origin", "https://shop.example", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type")
		wantStatus(t, r, http.StatusNoContent)
		for name, want := range map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "POST, OPTIONS",
			"Access-Control-Allow-Headers": "Content-Type",
		} {
			if got := r.Header.Get(name); got != want {
				t.Errorf("OPTIONS %s: %s %q, want %q", path, name, got, want)
			}
		}
	}
}

// The admin API is for the marketer's tools, not for any website's pages:
// it answers no CORS preflight, and its Allow header says so.
func TestAnAdminRouteAnswersNoCORSPreflight(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for _, path := range []string{"/v1/pools", "/v1/tokens", "/v1/cluster"} {
		r := a.Send("OPTIONS", path, nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "GET")
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("OPTIONS %s: %s with Access-Control-Allow-Origin %q and -Methods %q; want 405 without CORS headers",
				path, r, r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Access-Control-Allow-Methods"))
		}
	}
}

func TestAHeartbeatAnswersTheVisitsNumber(t *testing.T) {
	a := startAPI(t, httpapi.Options{HeartbeatInterval: 45 * time.Second})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	v := a.visit(p.Key, nil)
	for _, body := range []string{"", "{}", "anything: the body is not read"} {
		r := a.Visitor("POST", "/v1/visits/"+v.Visit+"/heartbeat", body, "Content-Type", "text/plain")
		wantStatus(t, r, http.StatusOK)
		var h visitReply
		r.Decode(t, &h)
		if h != (visitReply{Visit: v.Visit, Number: v.Number, Display: v.Display, Target: testkit.BusinessNumber, HeartbeatS: 45}) {
			t.Errorf("heartbeat: %s, visit was %+v", r, v)
		}
	}
}

func TestAHeartbeatForAVisitThatIsGoneOrMalformedIsRefused(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	v := a.visit(p.Key, nil)
	for _, c := range []struct {
		name, id string
		status   int
	}{
		{"an unknown visit", "0123456789abcdef0123456789abcdef", http.StatusGone},
		{"too short an id", v.Visit[:31], http.StatusBadRequest},
		{"too long an id", v.Visit + "0", http.StatusBadRequest},
		{"an id that is not hex", strings.Repeat("z", 32), http.StatusBadRequest},
	} {
		r := a.heartbeat(c.id)
		p := wantProblem(t, r, c.status, "")
		if c.status == http.StatusGone && p.Error != "visit expired" {
			t.Errorf("%s: %s", c.name, r)
		}
	}
	wantStatus(t, a.Admin("DELETE", "/v1/pools/"+p.ID, nil), http.StatusOK)
	r := a.heartbeat(v.Visit)
	if p := wantProblem(t, r, http.StatusGone, ""); p.Error != "visit expired" {
		t.Errorf("a visit of a deleted pool: %s", r)
	}
}

// In a full pool that recycles, a new visit takes the number of the visit
// seen least recently (here any visit may be displaced, however recently
// seen, and the budget allows five visits at once). The displaced visit
// keeps going without a number, its heartbeat says so, and it gets the
// next number that comes free.
func TestADisplacedVisitGetsTheNextFreeNumberOnItsHeartbeat(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(map[string]any{"overflow": "recycle", "displace_after_s": 0, "visit_burst": 5}, numbersFrom(123, 4)...)
	var visits []visitReply
	for range 5 {
		visits = append(visits, a.visit(p.Key, nil))
	}
	first, last := visits[0], visits[4]
	if last.Number != first.Number {
		t.Fatalf("the fifth visit got %s, want the first visit's %s", last.Number, first.Number)
	}

	r := a.heartbeat(first.Visit)
	wantStatus(t, r, http.StatusOK)
	var waiting map[string]any
	r.Decode(t, &waiting)
	if waiting["swap"] != false || waiting["reason"] != "pool full" || waiting["visit"] != first.Visit ||
		waiting["heartbeat_s"] != 60.0 || waiting["number"] != nil {
		t.Fatalf("the displaced visit's heartbeat: %s", r)
	}
	if st := a.pool(p.ID).Stats; st.LiveVisits != 5 || st.Waiting != 1 || st.Free != 0 {
		t.Fatalf("pool stats %+v", st)
	}

	// One more number of the customer's own comes free at once.
	extra := numbersFrom(200, 1)[0]
	wantStatus(t, a.attach(p.ID, extra), http.StatusCreated)
	for range 2 {
		r = a.heartbeat(first.Visit)
		wantStatus(t, r, http.StatusOK)
		var v visitReply
		r.Decode(t, &v)
		if v != (visitReply{Visit: first.Visit, Number: extra, Display: httpapi.Display(extra), Target: testkit.BusinessNumber, HeartbeatS: 60}) {
			t.Fatalf("after a number came free: %s", r)
		}
	}
	r = a.heartbeat(last.Visit)
	var v visitReply
	r.Decode(t, &v)
	if v.Number != first.Number {
		t.Errorf("the visit that took the number lost it: %s", r)
	}
	if st := a.pool(p.ID).Stats; st.LiveVisits != 5 || st.Waiting != 0 || st.Numbers != 5 {
		t.Errorf("pool stats %+v", st)
	}
}

func TestAVisitAnswerIsJSONWhateverTheSwapTargetHolds(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(map[string]any{"swap_target": "Call 415.555.0100 & ask for Ann's team"}, numbersFrom(123, 4)...)
	r := a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key})
	wantStatus(t, r, http.StatusCreated)
	if !json.Valid(r.Body) {
		t.Fatalf("not JSON: %s", r.Body)
	}
	var v visitReply
	r.Decode(t, &v)
	if v.Target != "Call 415.555.0100 & ask for Ann's team" {
		t.Errorf("target %q", v.Target)
	}
}

// Anyone may call the visitor API, so a body cap must hold before the body
// is read: a request that announces a huge body is refused at once. (The
// server's one limit is the restore route's 512 MiB, and fasthttp sets a
// buffer of the announced length aside before the handler runs: a few
// requests of 60 bytes each hold gigabytes for the 30 s read timeout.)
func TestAnOversizeBodyIsRefusedBeforeItIsRead(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for _, c := range []struct {
		name, request string
		status        int
	}{
		{"a visit", "POST /v1/visits HTTP/1.1\r\nUser-Agent: " + testkit.VisitorAgent + "\r\n", http.StatusRequestEntityTooLarge},
		{"a heartbeat", "POST /v1/visits/0123456789abcdef0123456789abcdef/heartbeat HTTP/1.1\r\n", http.StatusRequestEntityTooLarge},
		{"an admin request", "POST /v1/pools HTTP/1.1\r\nAuthorization: Bearer " + a.Token + "\r\n", http.StatusRequestEntityTooLarge},
		{"a request to no endpoint", "POST /nowhere HTTP/1.1\r\n", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", a.HTTPAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			head := c.request + "Host: dni\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(10<<20) + "\r\n\r\n{"
			if _, err := conn.Write([]byte(head)); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("10 MiB announced, 1 byte sent: no answer within 1 s: %v", err)
			}
			defer resp.Body.Close()
			if c.status != 0 && resp.StatusCode != c.status || resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("HTTP %d, want %d", resp.StatusCode, c.status)
			}
		})
	}
}

// Every error is JSON, also for a request fasthttp refuses before any
// handler sees it.
func TestARequestTheServerCannotParseIsAnsweredInJSON(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	conn, err := net.Dial("tcp", a.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /v1/visits HTTP/1.1\r\nHost: dni\r\nContent-Length: many\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var p problem
	if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &p) != nil || p.Error == "" {
		t.Errorf("a malformed Content-Length: HTTP %d, Content-Type %q, body %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
