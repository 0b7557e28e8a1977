package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// adminRoutes is a request for every admin route, with a body it would
// accept if it were authorized.
var adminRoutes = []struct{ method, path, body string }{
	{"POST", "/v1/pools", `{"name":"x","size":4,"swap_target":"(415) 555-0100","forward_to":["+14155550100"]}`},
	{"GET", "/v1/pools", ""},
	{"GET", "/v1/pools/pl_x", ""},
	{"PATCH", "/v1/pools/pl_x", `{"name":"y"}`},
	{"DELETE", "/v1/pools/pl_x", ""},
	{"GET", "/v1/pools/pl_x/numbers", ""},
	{"POST", "/v1/pools/pl_x/numbers", `{"numbers":["+14155550123"]}`},
	{"GET", "/v1/pools/pl_x/visits", ""},
	{"GET", "/v1/calls", ""},
	{"GET", "/v1/reports/calls", ""},
	{"GET", "/v1/calls/CA1", ""},
	{"PATCH", "/v1/calls/CA1", `{"outcome":"lead"}`},
	{"GET", "/v1/reports/campaigns", ""},
	{"GET", "/v1/spend", ""},
	{"POST", "/v1/spend", `{"spend":[{"day":"2026-12-01","source":"google","medium":"cpc","campaign":"x","cost":1}]}`},
	{"DELETE", "/v1/spend?day=2026-12-01&source=google&medium=cpc&campaign=x", ""},
	{"GET", "/v1/webhooks", ""},
	{"POST", "/v1/webhooks", `{"url":"https://crm.example/hooks"}`},
	{"GET", "/v1/webhooks/wh_x", ""},
	{"PATCH", "/v1/webhooks/wh_x", `{"enabled":false}`},
	{"DELETE", "/v1/webhooks/wh_x", ""},
	{"GET", "/v1/settings/marketing", ""},
	{"PATCH", "/v1/settings/marketing", `{"google_conversion":"Calls"}`},
	{"GET", "/v1/cluster", ""},
	{"POST", "/v1/cluster/nodes", `{"id":"n9","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2","voter":true}`},
	{"DELETE", "/v1/cluster/nodes/n9", ""},
	{"POST", "/v1/cluster/leader", `{}`},
	{"GET", "/v1/cluster/snapshot", ""},
	{"POST", "/v1/cluster/restore", "x"},
	{"GET", "/v1/tokens", ""},
	{"POST", "/v1/tokens", `{"name":"x"}`},
	{"DELETE", "/v1/tokens/tok_x", ""},
}

func TestAdminCallsWithoutAValidTokenAreRefused(t *testing.T) {
	// Every refusal here is a 401: the throttle, which would answer the
	// later ones 429, has tests of its own.
	a := startAPI(t, httpapi.Options{SignInFailures: -1})
	for _, c := range []struct {
		name   string
		header []string
	}{
		{"no Authorization header", nil},
		{"a wrong token", []string{"Authorization", "Bearer dni_" + strings.Repeat("0", 64)}},
		{"an empty token", []string{"Authorization", "Bearer "}},
		{"the token without its scheme", []string{"Authorization", a.Token}},
		{"another scheme", []string{"Authorization", "Basic YWRtaW46" + a.Token}},
		{"the cluster secret", []string{"Authorization", "Bearer " + testkit.Secret}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, rt := range adminRoutes {
				r := a.Send(rt.method, rt.path, rt.body, c.header...)
				wantProblem(t, r, http.StatusUnauthorized, "")
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer realm="dni"`) {
					t.Errorf("%s %s: WWW-Authenticate %q", rt.method, rt.path, r.Header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	r := a.Admin("GET", "/v1/pools", nil)
	wantStatus(t, r, http.StatusOK)
	if !bytes.Contains(r.Body, []byte(`"pools":[]`)) {
		t.Errorf("a refused request made a pool: %s", r)
	}
}

func TestANewPoolTakesTheDefaults(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	before := time.Now().Add(-time.Second)
	p := a.createPool(nil)
	if !regexp.MustCompile(`^pl_[0-9a-f]{24}$`).MatchString(p.ID) || !regexp.MustCompile(`^pk_[0-9a-f]{24}$`).MatchString(p.Key) {
		t.Errorf("id %q, key %q", p.ID, p.Key)
	}
	if p.Name != "Spring sale" || p.Size != 4 || p.SwapTarget != testkit.BusinessNumber || !slices.Equal(p.ForwardTo, []string{"+14155550100"}) ||
		p.Tracking != "all" || p.Rings != 5 || p.Overflow != "recycle" || p.IdleTimeoutS != 180 ||
		p.AttributionWindowS != 1800 || !p.Whisper || p.AreaCode != "" || p.Status != "provisioning" || p.Allocation != "lru" {
		t.Errorf("defaults: %+v", p)
	}
	if got := a.protections(p.ID); got.DisplaceAfterS != 120 || got.VisitsPerMinute != 0 || got.VisitBurst != 0 ||
		got.AllowedOrigins == nil || len(got.AllowedOrigins) != 0 {
		t.Errorf("protection defaults: %+v", got)
	}
	if p.CreatedAt.Before(before) || p.UpdatedAt.Before(p.CreatedAt) {
		t.Errorf("created %v, updated %v", p.CreatedAt, p.UpdatedAt)
	}
	if a.pool(p.ID).CreatedAt != p.CreatedAt {
		t.Error("the pool read back differs")
	}

	q := a.createPool(map[string]any{
		"name": "Brand", "tracking": "gclid", "size": 50, "area_code": "628", "swap_target": "+1 415 555 0199",
		"forward_to": []string{"+14155550199", "+14155550198"}, "rings": 10, "overflow": "none",
		"idle_timeout_s": 90, "attribution_window_s": 604800, "whisper": false, "allocation": "random",
		"displace_after_s": 0, "visits_per_minute": 100, "visit_burst": 30,
		"allowed_origins": []string{"https://brand.example", "http://localhost:8080"},
	})
	if q.Tracking != "gclid" || q.Size != 50 || q.AreaCode != "628" || q.SwapTarget != "+1 415 555 0199" || len(q.ForwardTo) != 2 ||
		q.Rings != 10 || q.Overflow != "none" || q.IdleTimeoutS != 90 || q.AttributionWindowS != 604800 || q.Whisper || q.Allocation != "random" {
		t.Errorf("chosen settings: %+v", q)
	}
	if got := a.protections(q.ID); got.DisplaceAfterS != 0 || got.VisitsPerMinute != 100 || got.VisitBurst != 30 ||
		!slices.Equal(got.AllowedOrigins, []string{"https://brand.example", "http://localhost:8080"}) {
		t.Errorf("chosen protections: %+v", got)
	}
}

func TestAPoolRequestMayNotSetTheServersFields(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil)
	for _, field := range []struct {
		name  string
		value any
	}{
		{"id", "pl_mine"}, {"key", "pk_mine"}, {"status", "active"},
		{"created_at", "2026-01-01T00:00:00Z"}, {"updated_at", "2026-01-01T00:00:00Z"}, {"stats", map[string]any{}},
		{"install", "<script></script>"},
	} {
		r := a.Admin("POST", "/v1/pools", poolRequest(map[string]any{field.name: field.value}))
		wantProblem(t, r, http.StatusBadRequest, field.name)
		r = a.Admin("PATCH", "/v1/pools/"+p.ID, map[string]any{field.name: field.value})
		wantProblem(t, r, http.StatusBadRequest, field.name)
	}
}

func TestAnInvalidPoolIsRefusedNamingTheField(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil)
	six := []string{"+14155550101", "+14155550102", "+14155550103", "+14155550104", "+14155550105", "+14155550106"}
	for _, c := range []struct {
		field string
		value any
	}{
		{"name", ""},
		{"name", " Spring"},
		{"name", strings.Repeat("n", 101)},
		{"tracking", "some"},
		{"size", 3},
		{"size", 51},
		{"area_code", "099"},
		{"area_code", "41"},
		{"swap_target", ""},
		{"swap_target", "call us"},
		{"swap_target", "<b>(415) 555-0100</b>"},
		{"forward_to", []string{}},
		{"forward_to", []string{"555-0100"}},
		{"forward_to", []string{"+999 123 4567"}}, // no country has the calling code 999
		{"country", "XX"},
		{"country", "gb"},
		{"swap_target", "020 7946 0018"}, // a British number on a US pool's website
		{"forward_to", []string{"+14155550100", "+14155550100"}},
		{"forward_to", six},
		{"rings", 11},
		{"overflow", "drop"},
		{"allocation", "fifo"},
		{"idle_timeout_s", 10},
		{"idle_timeout_s", -1},
		{"idle_timeout_s", 86401},
		{"attribution_window_s", 59},
		{"attribution_window_s", 1 << 50},
		{"displace_after_s", -1},
		{"displace_after_s", 86401},
		{"visits_per_minute", -1},
		{"visits_per_minute", 100_001},
		{"visit_burst", -1},
		{"visit_burst", 100_001},
		{"allowed_origins", []string{"shop.example"}},
		{"allowed_origins", []string{"https://shop.example/spring"}},
		{"allowed_origins", []string{"https://shop.example", "https://SHOP.example/"}},
	} {
		for _, method := range []string{"POST", "PATCH"} {
			path := "/v1/pools"
			body := poolRequest(map[string]any{c.field: c.value})
			if method == "PATCH" {
				path, body = "/v1/pools/"+p.ID, map[string]any{c.field: c.value}
			}
			r := a.Admin(method, path, body)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s %s=%v: want 400 naming %s, got %s", method, c.field, c.value, c.field, r)
				continue
			}
			wantProblem(t, r, http.StatusBadRequest, c.field)
		}
	}
	for _, body := range []string{`{"name":`, `{"name":"x","colour":"red"}`, `{"size":"four"}`, `[]`, ``, `{} {}`} {
		wantProblem(t, a.Admin("POST", "/v1/pools", body), http.StatusBadRequest, "")
		wantProblem(t, a.Admin("PATCH", "/v1/pools/"+p.ID, body), http.StatusBadRequest, "")
	}
	r := a.Admin("GET", "/v1/pools?deleted=true", nil)
	if n := strings.Count(string(r.Body), `"id":`); n != 1 {
		t.Errorf("refused requests made pools: %s", r)
	}
}

// A setting given explicitly is checked as given: zero rings is out of
// range, not a request for the default (PATCH already refuses it).
func TestANewPoolWithAnExplicitZeroSettingIsRefusedNotDefaulted(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil)
	for _, c := range []struct {
		field string
		value any
	}{
		{"rings", 0}, {"idle_timeout_s", 0}, {"attribution_window_s", 0}, {"tracking", ""}, {"overflow", ""},
		{"allocation", ""},
	} {
		patched := a.Admin("PATCH", "/v1/pools/"+p.ID, map[string]any{c.field: c.value})
		wantProblem(t, patched, http.StatusBadRequest, c.field)
		r := a.Admin("POST", "/v1/pools", poolRequest(map[string]any{c.field: c.value}))
		if r.Status != http.StatusBadRequest {
			var made map[string]any
			r.Decode(t, &made)
			t.Errorf("POST %s=%#v: want 400 naming %s as PATCH answers, got %d and a pool with %s=%v",
				c.field, c.value, c.field, r.Status, c.field, made[c.field])
		}
	}
}

// A number no setting could take is refused naming its field, before it
// is written to the log: the log's codec cannot carry a negative size or
// rings, nor one past 2^31.
func TestAPatchWithANumberOutOfAnyRangeIsRefusedNamingTheField(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil)
	for _, c := range []struct {
		field string
		value int64
	}{
		{"size", -1}, {"size", 1 << 40}, {"rings", -1}, {"rings", 1 << 32},
	} {
		wantProblem(t, a.Admin("POST", "/v1/pools", poolRequest(map[string]any{c.field: c.value})), http.StatusBadRequest, c.field)
		r := a.Admin("PATCH", "/v1/pools/"+p.ID, map[string]any{c.field: c.value})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"`+c.field+`"`) {
			t.Errorf("PATCH %s=%d: want 400 naming %s, got %s", c.field, c.value, c.field, r)
		}
	}
}

func TestPoolsAreListedWithDeletedOnesOnlyOnRequest(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	kept := a.createPool(map[string]any{"name": "Kept"})
	gone := a.createPool(map[string]any{"name": "Gone"})
	wantStatus(t, a.Admin("DELETE", "/v1/pools/"+gone.ID, nil), http.StatusOK)
	for query, want := range map[string][]string{
		"":              {kept.ID},
		"?deleted=true": {kept.ID, gone.ID},
	} {
		r := a.Admin("GET", "/v1/pools"+query, nil)
		wantStatus(t, r, http.StatusOK)
		var list struct{ Pools []poolReply }
		r.Decode(t, &list)
		var ids []string
		for _, p := range list.Pools {
			ids = append(ids, p.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("GET /v1/pools%s: %v, want %v", query, ids, want)
		}
	}
}

func TestAPoolIsReadByIDAndAnUnknownOneIsNotFound(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	a.visit(p.Key, nil)
	got := a.pool(p.ID)
	if got.ID != p.ID || got.Key != p.Key || got.Status != "active" || got.Stats.Numbers != 4 ||
		got.Stats.Free != 3 || got.Stats.LiveVisits != 1 || got.Stats.Utilisation != 0.25 {
		t.Errorf("pool %+v", got)
	}
	for _, path := range []string{"/v1/pools/pl_nope", "/v1/pools/pl_nope/numbers", "/v1/pools/pl_nope/visits"} {
		wantProblem(t, a.Admin("GET", path, nil), http.StatusNotFound, "")
	}
	wantProblem(t, a.Admin("PATCH", "/v1/pools/pl_nope", `{"name":"x"}`), http.StatusNotFound, "")
	wantProblem(t, a.Admin("DELETE", "/v1/pools/pl_nope", nil), http.StatusNotFound, "")
	wantProblem(t, a.attach("pl_nope", "+14155550199"), http.StatusNotFound, "")
}

func TestPatchChangesOnlyTheFieldsItNames(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(map[string]any{"rings": 3, "whisper": false}, numbersFrom(123, 4)...)
	time.Sleep(5 * time.Millisecond) // updated_at has millisecond resolution
	r := a.Admin("PATCH", "/v1/pools/"+p.ID, map[string]any{"name": "Summer sale", "overflow": "none"})
	wantStatus(t, r, http.StatusOK)
	var q poolReply
	r.Decode(t, &q)
	if q.Name != "Summer sale" || q.Overflow != "none" || q.Rings != 3 || q.Whisper || q.Size != 4 ||
		q.SwapTarget != testkit.BusinessNumber || q.Released != nil || !q.UpdatedAt.After(p.UpdatedAt) || q.CreatedAt != p.CreatedAt {
		t.Errorf("patched: %s", r)
	}
	if bytes.Contains(r.Body, []byte(`"released"`)) {
		t.Errorf("a patch that released nothing lists released numbers: %s", r)
	}
	r = a.Admin("PATCH", "/v1/pools/"+p.ID, map[string]any{"size": 6})
	wantStatus(t, r, http.StatusOK)
	r.Decode(t, &q)
	if q.Size != 6 || q.Status != "provisioning" || q.Stats.Numbers != 4 {
		t.Errorf("grown: %s", r)
	}
	wantProblem(t, a.Admin("PATCH", "/v1/pools/"+p.ID, `{"colour":"red"}`), http.StatusBadRequest, "")
	if got := a.pool(p.ID); got.Name != "Summer sale" || got.Size != 6 {
		t.Errorf("a refused patch changed the pool: %+v", got)
	}
}

// Shrinking takes numbers out of service at once and lists them: the free
// ones first, free the longest first, then the held ones whose visitors
// were seen least recently. Their visitors wait for a number.
func TestShrinkingAPoolReleasesFreeNumbersFirstThenThoseOfVisitorsSeenLeastRecently(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	n := numbersFrom(123, 8)
	p := a.createPool(map[string]any{"size": 8}, n...)
	var visits []visitReply
	for range 6 {
		visits = append(visits, a.visit(p.Key, nil)) // visit i holds n[i]
	}
	// The first visitor is seen again, so the second is now the one seen
	// least recently. Heartbeats are committed in batches: wait for it.
	wantStatus(t, a.heartbeat(visits[0].Visit), http.StatusOK)
	testkit.Eventually(t, "the heartbeat to reach the state", func() bool { return a.seenAgain(p.ID, visits[0].Visit) })

	r := a.Admin("PATCH", "/v1/pools/"+p.ID, map[string]any{"size": 4})
	wantStatus(t, r, http.StatusOK)
	var q poolReply
	r.Decode(t, &q)
	if want := []string{n[6], n[7], n[1], n[2]}; !slices.Equal(q.Released, want) {
		t.Errorf("released %v, want %v", q.Released, want)
	}
	if q.Size != 4 || q.Stats.Numbers != 4 || q.Stats.Releasing != 4 || q.Stats.LiveVisits != 6 || q.Stats.Waiting != 2 {
		t.Errorf("shrunk: %+v", q)
	}
	for i, v := range visits {
		r := a.heartbeat(v.Visit)
		var h visitReply
		r.Decode(t, &h)
		waits := i == 1 || i == 2
		if waits && (h.Number != "" || h.Reason != "pool full") || !waits && h.Number != n[i] {
			t.Errorf("visit %d after the shrink: %s", i, r)
		}
	}
	states := a.numberStates(p.ID)
	for i, number := range n {
		want := "active"
		if i == 1 || i == 2 || i >= 6 {
			want = "releasing"
		}
		if states[number] != want {
			t.Errorf("%s is %q, want %q", number, states[number], want)
		}
	}
}

// seenAgain reports whether the pool's visits list shows a heartbeat of the
// visit after its first.
func (a *testAPI) seenAgain(pool, visit string) bool {
	a.t.Helper()
	r := a.Admin("GET", "/v1/pools/"+pool+"/visits", nil)
	var list struct {
		Visits []struct {
			Visit     string    `json:"visit"`
			FirstSeen time.Time `json:"first_seen"`
			LastSeen  time.Time `json:"last_seen"`
		} `json:"visits"`
	}
	r.Decode(a.t, &list)
	for _, v := range list.Visits {
		if v.Visit == visit {
			return v.LastSeen.After(v.FirstSeen)
		}
	}
	return false
}

type numberReply struct {
	Number       string     `json:"number"`
	Display      string     `json:"display"`
	State        string     `json:"state"`
	Owned        bool       `json:"owned"`
	Visit        string     `json:"visit"`
	AddedAt      time.Time  `json:"added_at"`
	LastAssigned *time.Time `json:"last_assigned"`
	ReleasedAt   *time.Time `json:"released_at"`
}

func (a *testAPI) numbers(pool string) []numberReply {
	a.t.Helper()
	var list struct{ Numbers []numberReply }
	a.AdminOK("GET", "/v1/pools/"+pool+"/numbers", nil, http.StatusOK, &list)
	return list.Numbers
}

func (a *testAPI) numberStates(pool string) map[string]string {
	out := map[string]string{}
	for _, n := range a.numbers(pool) {
		out[n.Number] = n.State
	}
	return out
}

func TestDeletingAPoolKeepsItsHistoryAndGivesItsVisitorsNoNumber(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	v := a.visit(p.Key, nil)
	r := a.Admin("DELETE", "/v1/pools/"+p.ID, nil)
	wantStatus(t, r, http.StatusOK)
	var q poolReply
	r.Decode(t, &q)
	if q.Status != "deleting" || q.Stats.Numbers != 0 || q.Stats.Releasing != 4 || q.Stats.LiveVisits != 0 {
		t.Errorf("deleted: %s", r)
	}
	wantStatus(t, a.Admin("DELETE", "/v1/pools/"+p.ID, nil), http.StatusOK)
	if got := a.pool(p.ID); got.Status != "deleting" || got.Name != p.Name {
		t.Errorf("a deleted pool reads back as %+v", got)
	}
	if len(a.numbers(p.ID)) != 4 {
		t.Error("a deleted pool forgot its numbers")
	}

	r = a.Visitor("POST", "/v1/visits", map[string]any{"pool": p.Key})
	wantStatus(t, r, http.StatusOK)
	if !bytes.Contains(r.Body, []byte(`"swap":false`)) || !bytes.Contains(r.Body, []byte(`"reason":"pool deleted"`)) {
		t.Errorf("a visit to a deleted pool: %s", r)
	}
	wantProblem(t, a.heartbeat(v.Visit), http.StatusGone, "")
	wantProblem(t, a.Admin("PATCH", "/v1/pools/"+p.ID, `{"name":"again"}`), http.StatusConflict, "")
	wantStatus(t, a.attach(p.ID, "+14155550199"), http.StatusConflict)

	empty := a.createPool(nil)
	r = a.Admin("DELETE", "/v1/pools/"+empty.ID, nil)
	r.Decode(t, &q)
	if q.Status != "deleted" {
		t.Errorf("a pool without numbers deleted: %s", r)
	}
}

type attachReply struct {
	Results []struct {
		Number string `json:"number"`
		Error  string `json:"error"`
	} `json:"results"`
	Pool poolReply `json:"pool"`
}

func TestAttachingNumbersAnswersForEachNumber(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	n := numbersFrom(123, 8)
	p := a.createPool(nil)
	other := a.createPool(nil, n[6])

	r := a.attach(p.ID, n[:4]...)
	wantStatus(t, r, http.StatusCreated)
	var ar attachReply
	r.Decode(t, &ar)
	if len(ar.Results) != 4 || ar.Results[0].Number != n[0] || ar.Results[0].Error != "" ||
		ar.Pool.Stats.Numbers != 4 || ar.Pool.Status != "active" {
		t.Errorf("attached: %s", r)
	}
	// A customer's own number beyond the size makes the pool bigger.
	wantStatus(t, a.attach(p.ID, n[4]), http.StatusCreated)
	if got := a.pool(p.ID); got.Size != 5 || got.Stats.Numbers != 5 {
		t.Errorf("after a fifth number: %+v", got)
	}
	// Attaching a number again changes nothing.
	wantStatus(t, a.attach(p.ID, n[0]), http.StatusCreated)

	r = a.attach(p.ID, n[5], n[6])
	wantStatus(t, r, http.StatusMultiStatus)
	r.Decode(t, &ar)
	if len(ar.Results) != 2 || ar.Results[0].Error != "" || ar.Results[1].Error == "" || ar.Pool.Stats.Numbers != 6 {
		t.Errorf("one number in use by another pool: %s", r)
	}
	r = a.attach(p.ID, n[6])
	wantStatus(t, r, http.StatusConflict)
	r.Decode(t, &ar)
	if len(ar.Results) != 1 || ar.Results[0].Error == "" {
		t.Errorf("every number in use: %s", r)
	}
	if got := a.pool(other.ID); got.Stats.Numbers != 1 {
		t.Errorf("the other pool lost its number: %+v", got)
	}

	for _, c := range []struct {
		name string
		body any
	}{
		{"a number not in E.164 form", map[string]any{"numbers": []string{"4155550199"}}},
		{"a number listed twice", map[string]any{"numbers": []string{n[7], n[7]}}},
		{"no numbers", map[string]any{"numbers": []string{}}},
		{"more than 50 numbers", map[string]any{"numbers": numbersFrom(300, 51)}},
	} {
		wantProblem(t, a.Admin("POST", "/v1/pools/"+p.ID+"/numbers", c.body), http.StatusBadRequest, "numbers")
	}
	for _, body := range []string{`{"numbers":`, `{"numbers":["+14155550199"],"pool":"x"}`, `{"numbers":"+14155550199"}`} {
		wantProblem(t, a.Admin("POST", "/v1/pools/"+p.ID+"/numbers", body), http.StatusBadRequest, "")
	}
	if got := a.pool(p.ID).Stats.Numbers; got != 6 {
		t.Errorf("refused requests attached numbers: %d", got)
	}
}

func TestTheNumbersListShowsWhichVisitHoldsEach(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	n := numbersFrom(123, 4)
	p := a.createPool(nil, n...)
	v := a.visit(p.Key, nil)
	list := a.numbers(p.ID)
	if len(list) != 4 {
		t.Fatalf("%d numbers", len(list))
	}
	for i, got := range list {
		if got.Number != n[i] || got.Display != httpapi.Display(n[i]) || got.State != "active" || !got.Owned ||
			got.AddedAt.IsZero() || got.ReleasedAt != nil {
			t.Errorf("number %d: %+v", i, got)
		}
		held := got.Number == v.Number
		if held != (got.Visit == v.Visit) || held != (got.LastAssigned != nil) {
			t.Errorf("number %d held by %q, last assigned %v; the visit holds %s", i, got.Visit, got.LastAssigned, v.Number)
		}
	}
}

type tokenReply struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Token     string    `json:"token"`
	CreatedAt time.Time `json:"created_at"`
}

// makeToken makes a token with a role through the admin API.
func (a *testAPI) makeToken(name, role string) tokenReply {
	a.t.Helper()
	var made tokenReply
	a.AdminOK("POST", "/v1/tokens", map[string]any{"name": name, "role": role}, http.StatusCreated, &made)
	return made
}

func (a *testAPI) tokens() []tokenReply {
	a.t.Helper()
	var list struct{ Tokens []tokenReply }
	a.AdminOK("GET", "/v1/tokens", nil, http.StatusOK, &list)
	return list.Tokens
}

func TestATokenMadeThroughTheAPIWorksUntilItIsDeleted(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	r := a.Admin("POST", "/v1/tokens", map[string]any{"name": "a second admin", "role": "admin"})
	wantStatus(t, r, http.StatusCreated)
	var made tokenReply
	r.Decode(t, &made)
	if !regexp.MustCompile(`^tok_[0-9a-f]{12}$`).MatchString(made.ID) || !regexp.MustCompile(`^dni_[0-9a-f]{64}$`).MatchString(made.Token) ||
		made.Name != "a second admin" || made.Role != "admin" || made.CreatedAt.IsZero() {
		t.Fatalf("token: %s", r)
	}
	second := a.as(made.Token)
	wantStatus(t, second.Admin("GET", "/v1/pools", nil), http.StatusOK)

	r = a.Admin("GET", "/v1/tokens", nil)
	if bytes.Contains(r.Body, []byte(made.Token)) || bytes.Contains(r.Body, []byte(a.Token)) || bytes.Contains(r.Body, []byte(`"token"`)) {
		t.Errorf("the token list shows a token's value: %s", r)
	}
	list := a.tokens()
	if len(list) != 2 || !slices.ContainsFunc(list, func(t tokenReply) bool { return t.ID == made.ID && t.Name == "a second admin" && t.Role == "admin" }) {
		t.Errorf("tokens: %+v", list)
	}

	wantStatus(t, second.Admin("DELETE", "/v1/tokens/"+made.ID, nil), http.StatusNoContent)
	wantProblem(t, second.Admin("GET", "/v1/pools", nil), http.StatusUnauthorized, "")
	wantProblem(t, a.Admin("DELETE", "/v1/tokens/"+made.ID, nil), http.StatusNotFound, "")
	if got := a.tokens(); len(got) != 1 {
		t.Errorf("tokens after the delete: %+v", got)
	}

	wantProblem(t, a.Admin("POST", "/v1/tokens", map[string]any{"name": " "}), http.StatusBadRequest, "name")
	wantProblem(t, a.Admin("POST", "/v1/tokens", `{"name":"x","token":"dni_mine"}`), http.StatusBadRequest, "")
	wantProblem(t, a.Admin("POST", "/v1/tokens", `{"name":`), http.StatusBadRequest, "")
}

func TestTheLastTokenCannotBeDeleted(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	only := a.tokens()
	if len(only) != 1 {
		t.Fatalf("tokens %+v", only)
	}
	wantProblem(t, a.Admin("DELETE", "/v1/tokens/"+only[0].ID, nil), http.StatusConflict, "")
	wantStatus(t, a.Admin("GET", "/v1/pools", nil), http.StatusOK)
}

// The rule that the last token stays must hold when two admins delete the
// last two tokens at the same moment: else nobody can use the admin API.
func TestTwoDeletesAtOnceCannotRemoveTheLastTwoTokens(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for attempt := range 20 {
		r := a.Admin("POST", "/v1/tokens", map[string]any{"name": "second", "role": "admin"})
		wantStatus(t, r, http.StatusCreated)
		var made tokenReply
		r.Decode(t, &made)
		first := a.tokens()[0].ID
		if first == made.ID {
			first = a.tokens()[1].ID
		}
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, id := range []string{first, made.ID} {
			wg.Go(func() { statuses[i] = a.Admin("DELETE", "/v1/tokens/"+id, nil).Status })
		}
		wg.Wait()
		left := a.Node.Node.FSM().Tokens()
		if len(left) == 0 {
			t.Fatalf("attempt %d: both deletes answered %v and no admin token is left", attempt, statuses)
		}
		// Carry on with whichever token is left.
		if left[0].ID == made.ID {
			a.Token = made.Token
		}
	}
}

// A token's name is capped at 100 characters; a longer one is the client's
// mistake, answered 400 like every other bad field.
func TestATokenNameTooLongIsAClientMistake(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	r := a.Admin("POST", "/v1/tokens", map[string]any{"name": strings.Repeat("n", 101)})
	if r.Status != http.StatusBadRequest {
		t.Errorf("a token name of 101 characters: want 400, got %s", r)
	}
	wantStatus(t, a.Admin("POST", "/v1/tokens", map[string]any{"name": strings.Repeat("n", 100)}), http.StatusCreated)
}

func TestTheClusterEndpointsAnswerTheAdminOnOneNode(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)

	r := a.Admin("GET", "/v1/cluster", nil)
	wantStatus(t, r, http.StatusOK)
	var members []cluster.Member
	r.Decode(t, &members)
	if len(members) != 1 || members[0].ID != "n1" || !members[0].Leader || !members[0].Voter ||
		members[0].HTTPAddr != a.HTTPAddr || members[0].Status == nil || members[0].Status.State != "Leader" {
		t.Errorf("members: %s", r)
	}

	r = a.Admin("GET", "/v1/cluster/snapshot", nil)
	wantStatus(t, r, http.StatusOK)
	backup, err := fsm.ReadBackup(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("the snapshot does not read back: %v", err)
	}
	img := backup.Image
	if len(img.State.Pools) != 1 || img.State.Pools[0].ID != p.ID || len(img.State.Numbers) != 4 || len(img.Tokens) != 1 {
		t.Errorf("the snapshot holds %d pools, %d numbers, %d tokens", len(img.State.Pools), len(img.State.Numbers), len(img.Tokens))
	}

	for _, body := range []any{nil, "{}", `{"id":"n1"}`} {
		r := a.Admin("POST", "/v1/cluster/leader", body)
		wantProblem(t, r, http.StatusConflict, "")
	}
	wantProblem(t, a.Admin("POST", "/v1/cluster/leader", `{"id":`), http.StatusBadRequest, "")
	wantProblem(t, a.Admin("POST", "/v1/cluster/nodes", `{"id":`), http.StatusBadRequest, "")
	wantProblem(t, a.Admin("POST", "/v1/cluster/restore", "not a snapshot"), http.StatusBadRequest, "")
	wantStatus(t, a.Admin("GET", "/v1/pools/"+p.ID, nil), http.StatusOK)
}

// A restore brings back the backup's tokens, never a union with the
// cluster's: a token deleted since the backup (perhaps because it leaked)
// stays dead, and so does one made since; the token that asks for the
// restore keeps working.
func TestARestoredBackupBringsBackItsStateAndItsTokensButNoneRevokedSince(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	first := a.tokens()[0]
	kept := a.createPool(map[string]any{"name": "Before"}, numbersFrom(123, 4)...)
	leaked := a.makeToken("leaked later", "admin")
	reporting := a.makeToken("reports", "reporting")
	r := a.Admin("GET", "/v1/cluster/snapshot", nil)
	wantStatus(t, r, http.StatusOK)
	backup := r.Body

	later := a.createPool(map[string]any{"name": "After"})
	wantStatus(t, a.Admin("DELETE", "/v1/tokens/"+leaked.ID, nil), http.StatusNoContent)
	madeLater := a.makeToken("made after the backup", "admin")
	restorer := a.makeToken("the one who restores", "admin")

	wantStatus(t, a.as(restorer.Token).Admin("POST", "/v1/cluster/restore", backup, "Content-Type", "application/octet-stream"), http.StatusNoContent)
	wantStatus(t, a.Admin("GET", "/v1/pools/"+kept.ID, nil), http.StatusOK)
	wantProblem(t, a.Admin("GET", "/v1/pools/"+later.ID, nil), http.StatusNotFound, "")
	wantProblem(t, a.as(leaked.Token).Admin("GET", "/v1/pools", nil), http.StatusUnauthorized, "")
	wantProblem(t, a.as(madeLater.Token).Admin("GET", "/v1/pools", nil), http.StatusUnauthorized, "")
	wantStatus(t, a.as(restorer.Token).Admin("GET", "/v1/tokens", nil), http.StatusOK)
	wantStatus(t, a.as(reporting.Token).Admin("GET", "/v1/calls", nil), http.StatusOK)
	var got []string
	for _, tok := range a.tokens() {
		got = append(got, tok.ID+":"+tok.Role)
	}
	want := []string{first.ID + ":admin", reporting.ID + ":reporting", restorer.ID + ":admin"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("tokens after the restore: %v, want %v (the backup's, and the restorer's)", got, want)
	}
	a.visit(kept.Key, nil)

	// Restoring the same backup again, through the cluster port, does not
	// bring the leaked token back either.
	if err := a.Internal().Restore(context.Background(), a.RaftAddr, backup); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, a.as(leaked.Token).Admin("GET", "/v1/pools", nil), http.StatusUnauthorized, "")
	wantStatus(t, a.Admin("GET", "/v1/pools/"+kept.ID, nil), http.StatusOK)
}

// Cluster requests that cannot be carried out are the caller's mistakes:
// they are answered 4xx, never 500, which means a fault of the server.
func TestClusterRequestsThatCannotBeCarriedOutAreNotServerErrors(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	a.createPool(nil, numbersFrom(123, 4)...)
	a.createPool(nil)
	r := a.Admin("GET", "/v1/cluster/snapshot", nil)
	wantStatus(t, r, http.StatusOK)
	backup, err := fsm.ReadBackup(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	img := backup.Image
	img.State.Pools[1].Key = img.State.Pools[0].Key // two pools, one key
	var corrupt bytes.Buffer
	if err := fsm.WriteSnapshot(&corrupt, img); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, method, path string
		body               any
	}{
		{"a join without the node's addresses", "POST", "/v1/cluster/nodes", `{"id":"n2"}`},
		{"a join of nothing", "POST", "/v1/cluster/nodes", `{}`},
		{"removing the leader itself", "DELETE", "/v1/cluster/nodes/n1", nil},
		{"restoring a backup whose pools share a key", "POST", "/v1/cluster/restore", corrupt.Bytes()},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.Admin(c.method, c.path, c.body)
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("%s %s: want a 4xx, got %s", c.method, c.path, r)
			}
		})
	}
	wantStatus(t, a.Admin("GET", "/v1/cluster", nil), http.StatusOK)
}
