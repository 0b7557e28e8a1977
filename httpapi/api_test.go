package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// The tests in this package talk to a real node over real HTTP with
// net/http, as the snippet, a marketer's tools and Prometheus would. Each
// test starts its own node, so none depends on another's state.

// testAPI is one node's HTTP API as its clients reach it, in test t.
type testAPI struct {
	*testkit.Node
	t testing.TB
}

// api is node n's API as test t reaches it.
func api(t testing.TB, n *testkit.Node) *testAPI { return &testAPI{n, t} }

// startAPI runs a single-node cluster serving the API with opt, with its
// first admin token.
func startAPI(t testing.TB, opt httpapi.Options) *testAPI {
	t.Helper()
	return api(t, testkit.StartNode(t, testkit.Options{HTTP: opt}))
}

// as is the API as an admin with another token reaches it.
func (a *testAPI) as(token string) *testAPI {
	n := *a.Node
	n.Token = token
	return api(a.t, &n)
}

// wantStatus fails the test now unless the answer has the status.
func wantStatus(t testing.TB, r testkit.Reply, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want HTTP %d, got %s", status, r)
	}
}

// problem is every error answer's body.
type problem struct {
	Error      string `json:"error"`
	Field      string `json:"field"`
	NotLeader  bool   `json:"not_leader"`
	LeaderID   string `json:"leader_id"`
	LeaderHTTP string `json:"leader_http"`
}

// wantProblem checks an error answer: its status, a JSON body with an
// error message, and the field at fault ("" for none).
func wantProblem(t testing.TB, r testkit.Reply, status int, field string) problem {
	t.Helper()
	wantStatus(t, r, status)
	var p problem
	r.Decode(t, &p)
	if p.Error == "" || p.Field != field {
		t.Fatalf("want an error about field %q, got %s", field, r)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer has Content-Type %q", ct)
	}
	return p
}

// poolReply is a pool as the admin API answers it.
type poolReply struct {
	ID                 string    `json:"id"`
	Key                string    `json:"key"`
	Name               string    `json:"name"`
	Tracking           string    `json:"tracking"`
	Size               int       `json:"size"`
	Country            string    `json:"country"`
	Notice             string    `json:"notice"`
	AreaCode           string    `json:"area_code"`
	SwapTarget         string    `json:"swap_target"`
	ForwardTo          []string  `json:"forward_to"`
	Rings              int       `json:"rings"`
	Overflow           string    `json:"overflow"`
	IdleTimeoutS       int       `json:"idle_timeout_s"`
	AttributionWindowS int       `json:"attribution_window_s"`
	LeadRule           bool      `json:"lead_rule"`
	LeadMinDurationS   int       `json:"lead_min_duration_s"`
	LeadValue          float64   `json:"lead_value"`
	Whisper            bool      `json:"whisper"`
	Allocation         string    `json:"allocation"`
	Status             string    `json:"status"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	Stats              struct {
		Numbers     int     `json:"numbers"`
		Free        int     `json:"free"`
		Releasing   int     `json:"releasing"`
		LiveVisits  int     `json:"live_visits"`
		Waiting     int     `json:"waiting_visits"`
		Utilisation float64 `json:"utilisation"`
	} `json:"stats"`
	Released []string `json:"released"` // PATCH only
}

// poolRequest is a minimal valid pool request with fields added or
// replaced.
func poolRequest(fields map[string]any) map[string]any {
	req := map[string]any{"name": "Spring sale", "size": 4, "swap_target": testkit.BusinessNumber, "forward_to": []string{"+14155550100"}}
	maps.Copy(req, fields)
	return req
}

// createPool makes a pool through the admin API and attaches numbers to it.
func (a *testAPI) createPool(fields map[string]any, numbers ...string) poolReply {
	a.t.Helper()
	var p poolReply
	a.AdminOK("POST", "/v1/pools", poolRequest(fields), http.StatusCreated, &p)
	if len(numbers) > 0 {
		wantStatus(a.t, a.attach(p.ID, numbers...), http.StatusCreated)
	}
	return p
}

func (a *testAPI) attach(pool string, numbers ...string) testkit.Reply {
	a.t.Helper()
	return a.Admin("POST", "/v1/pools/"+pool+"/numbers", map[string]any{"numbers": numbers})
}

func (a *testAPI) pool(id string) poolReply {
	a.t.Helper()
	var p poolReply
	a.AdminOK("GET", "/v1/pools/"+id, nil, http.StatusOK, &p)
	return p
}

// numbersFrom returns n tracking numbers in San Francisco, the first
// +1415555 and then first as four digits: numbersFrom(123, 1) is
// +14155550123, shown as (415) 555-0123.
func numbersFrom(first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1415555%04d", first+i)
	}
	return out
}

// visitReply is the visitor API's answer: a number, or why none.
type visitReply struct {
	Visit      string `json:"visit"`
	Number     string `json:"number"`
	Display    string `json:"display"`
	Target     string `json:"target"`
	HeartbeatS int    `json:"heartbeat_s"`
	Swap       *bool  `json:"swap"`
	Reason     string `json:"reason"`
}

const landing = "https://shop.example/spring"

// visit starts a visit to the pool with the given key from the landing
// page, with fields added to the request, and wants a number.
func (a *testAPI) visit(key string, fields map[string]any) visitReply {
	a.t.Helper()
	req := map[string]any{"pool": key, "url": landing}
	maps.Copy(req, fields)
	r := a.Visitor("POST", "/v1/visits", req)
	wantStatus(a.t, r, http.StatusCreated)
	var v visitReply
	r.Decode(a.t, &v)
	return v
}

func (a *testAPI) heartbeat(visit string) testkit.Reply {
	a.t.Helper()
	return a.Visitor("POST", "/v1/visits/"+visit+"/heartbeat", "", "Content-Type", "text/plain;charset=UTF-8")
}

// metricLine finds a sample in a Prometheus text exposition; labels are in
// the order Prometheus writes them (sorted by name).
func metricLine(body, name, labels string) (string, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+labels) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func TestHealthAndReadinessAnswerAnyoneInJSON(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		r := a.Send("GET", path, nil)
		wantStatus(t, r, http.StatusOK)
		var body struct{ Status string }
		r.Decode(t, &body)
		if body.Status != want {
			t.Errorf("%s: %s", path, r)
		}
	}
}

// dni_ready is what /readyz says, start-up wait included: a dashboard and
// a load balancer must not disagree about a node that is still settling.
func TestTheReadyMetricSaysWhatReadyzSays(t *testing.T) {
	started := make(chan struct{})
	a := startAPI(t, httpapi.Options{Started: started})
	ready := func() string {
		v, _ := metricLine(string(a.Send("GET", "/metrics", nil).Body), "dni_ready", "")
		return v
	}
	wantStatus(t, a.Send("GET", "/readyz", nil), http.StatusServiceUnavailable)
	if v := ready(); v != "0" {
		t.Errorf("dni_ready is %q while /readyz answers 503", v)
	}
	close(started)
	wantStatus(t, a.Send("GET", "/readyz", nil), http.StatusOK)
	if v := ready(); v != "1" {
		t.Errorf("dni_ready is %q once /readyz answers 200", v)
	}
}

// A backup commits a barrier, a log entry the state machine never sees.
// Readiness compares the state machine's index with the commit index, so
// the node must not count the barrier against itself: a load balancer
// probing /readyz after a backup would take the node out of service.
func TestTheLeaderIsStillReadyAfterABackup(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	wantStatus(t, a.Send("GET", "/readyz", nil), http.StatusOK)
	wantStatus(t, a.Admin("GET", "/v1/cluster/snapshot", nil), http.StatusOK)
	time.Sleep(100 * time.Millisecond)
	if r := a.Send("GET", "/readyz", nil); r.Status != http.StatusOK {
		t.Errorf("after a backup: %s", r)
	}
}

// A newer node may forward a command this one does not know but may skip
// (its type byte has fsm.IgnoreUnknown set). Whether the leader takes it or
// refuses it, the answer is not a 500, which says the server broke.
func TestAForwardedCommandTooNewToKnowIsNotAServerError(t *testing.T) {
	n := testkit.StartNode(t, testkit.Options{})
	entry := []byte{byte(fsm.IgnoreUnknown | 67), '0'}
	_, err := n.Internal().Forward(context.Background(), n.RaftAddr, entry)
	var se *httpapi.StatusError
	if errors.As(err, &se) && se.Status >= 500 {
		t.Errorf("a skippable command of an unknown type: %v", err)
	}
}

func TestMetricsShowVisitsRequestsLiveVisitsAndHeartbeats(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	v := a.visit(p.Key, nil)
	a.visit(p.Key, nil)
	wantStatus(t, a.heartbeat(v.Visit), http.StatusOK)
	wantStatus(t, a.heartbeat("00000000000000000000000000000000"), http.StatusGone)
	wantStatus(t, a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key}, "User-Agent", "Googlebot/2.1"), http.StatusOK)

	r := a.Send("GET", "/metrics", nil)
	wantStatus(t, r, http.StatusOK)
	body := string(r.Body)
	for _, m := range []struct{ name, labels, value string }{
		{"dni_visits_total", `{outcome="fresh",pool="` + p.ID + `"}`, "2"},
		{"dni_visits_total", `{outcome="bot",pool="` + p.ID + `"}`, "1"},
		{"dni_bot_visits_total", "", "1"},
		{"dni_http_requests_total", `{code="201",route="/v1/visits"}`, "2"},
		{"dni_http_requests_total", `{code="200",route="/v1/visits"}`, "1"},
		{"dni_pool_live_visits", `{pool="` + p.ID + `"}`, "2"},
		{"dni_pool_free_numbers", `{pool="` + p.ID + `"}`, "2"},
		{"dni_pool_utilisation", `{pool="` + p.ID + `"}`, "0.5"},
		{"dni_heartbeats_total", `{result="ok"}`, "1"},
		{"dni_heartbeats_total", `{result="expired"}`, "1"},
		{"dni_http_request_duration_seconds_count", `{route="/v1/visits/{visit}/heartbeat"}`, "2"},
	} {
		if got, ok := metricLine(body, m.name, m.labels); !ok || got != m.value {
			t.Errorf("%s%s: want %s, got %q", m.name, m.labels, m.value, got)
		}
	}
	if !strings.Contains(body, "go_goroutines ") {
		t.Error("no Go runtime metrics")
	}
}

func TestTheOpenAPIDocumentIsServedAsOpenAPI3(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	r := a.Send("GET", "/openapi.json", nil)
	wantStatus(t, r, http.StatusOK)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	r.Decode(t, &doc)
	if doc.OpenAPI != "3.0.3" || len(doc.Paths) == 0 {
		t.Fatalf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestAnUnknownPathIsAnswered404InJSON(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for _, path := range []string{"/", "/v1", "/v1/visit", "/v1/pools/p/nope", "/v1/visits//heartbeat", "/v2/pools"} {
		wantProblem(t, a.Admin("GET", path, nil), http.StatusNotFound, "")
	}
}

func TestAWrongMethodIsAnswered405WithTheAllowedOnes(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/v1/visits", "POST, OPTIONS"},
		{"DELETE", "/v1/visits/0123456789abcdef0123456789abcdef/heartbeat", "POST, OPTIONS"},
		{"PUT", "/v1/pools", "POST, GET"},
		{"PUT", "/v1/pools/pl_x", "GET, PATCH, DELETE"},
		{"POST", "/healthz", "GET, HEAD"},
		{"GET", "/v1/tokens/tok_x", "DELETE"},
	} {
		r := a.Admin(c.method, c.path, nil)
		wantProblem(t, r, http.StatusMethodNotAllowed, "")
		if got := r.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}
