package snippet_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// The browser tests run dni.js in a real Chromium, loaded by its install
// tag from a real dni node, on test websites served from another origin:
// the integrity hash, CORS, sessionStorage and the timers are the
// browser's own. One browser serves the whole package; each test has its
// own browser context (storage of its own) and its own node.

func TestMain(m *testing.M) { testkit.Main(m) }

// node is a one-node dni cluster, with the admin calls the tests make.
type node struct {
	*testkit.Node
	t *testing.T
}

// startNode runs a node whose visitors are told to send a heartbeat every
// second, with no cap on visits per address (every tab is 127.0.0.1).
// Its visits expire only when a test commits an Expire.
func startNode(t *testing.T) node {
	t.Helper()
	n := testkit.StartNode(t, testkit.Options{
		HTTP: httpapi.Options{VisitsPerMinute: -1, HeartbeatInterval: time.Second},
	})
	return node{Node: n, t: t}
}

// pool is what the tests read of a pool.
type pool struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	Install string `json:"install"`
}

// createPool makes a pool with the given tracking type ("all", "gclid")
// and puts the numbers in it.
func (n node) createPool(tracking string, numbers ...string) pool {
	n.t.Helper()
	return n.createCountryPool("US", testkit.BusinessNumber, tracking, numbers...)
}

// createCountryPool makes a pool whose website is in country and shows
// the business number as target, and puts the numbers in it.
func (n node) createCountryPool(country, target, tracking string, numbers ...string) pool {
	n.t.Helper()
	var p pool
	n.AdminOK("POST", "/v1/pools", map[string]any{
		"name": "Spring sale", "tracking": tracking, "size": 4, "country": country, "swap_target": target,
		"forward_to": []string{"+14155550100"},
	}, http.StatusCreated, &p)
	if len(numbers) > 0 {
		n.AdminOK("POST", "/v1/pools/"+p.ID+"/numbers", map[string]any{"numbers": numbers}, http.StatusCreated, nil)
	}
	return p
}

// visitJSON is a live visit as the admin API lists it.
type visitJSON struct {
	Visit       string            `json:"visit"`
	Number      string            `json:"number"`
	Attribution map[string]string `json:"attribution"`
}

// visits lists a pool's live visits that hold a number.
func (n node) visits(poolID string) []visitJSON {
	n.t.Helper()
	var out struct {
		Visits []visitJSON `json:"visits"`
	}
	n.AdminOK("GET", "/v1/pools/"+poolID+"/visits", nil, http.StatusOK, &out)
	return out.Visits
}

// requests counts the requests the node answered on a route, such as
// "/v1/visits".
func (n node) requests(route string) int {
	n.t.Helper()
	families, err := n.Registry.Gather()
	if err != nil {
		n.t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "dni_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return int(total)
}

// site is a test website, on an origin of its own (another port of
// 127.0.0.1 than the node's), so the snippet's calls to dni are
// cross-origin as on a customer's site.
type site struct {
	url string
	mux *http.ServeMux
}

func startSite(t *testing.T) *site {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &site{url: srv.URL, mux: mux}
}

// page serves an HTML page at path.
func (s *site) page(path, html string) string {
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, html)
	})
	return s.url + path
}

// probe goes in a test page's head before the install tag. It records the
// snippet's calls to fetch in window.probe: each call, each answer, each
// failure, and how many answers were read. settled() is true once a call
// has ended, its answer read; a task later, the snippet has acted on it.
const probe = `<script>
window.probe = {calls: [], answers: [], failures: [], read: 0, settled: function () {
  return probe.failures.length > 0 || probe.read > 0 ||
    probe.answers.some(function (a) { return a.status != 200 && a.status != 201; });
}};
(function () {
  var f = window.fetch;
  window.fetch = function (input, init) {
    var url = String(input);
    probe.calls.push({url: url, body: init && init.body});
    return f.apply(this, arguments).then(function (r) {
      probe.answers.push({url: url, status: r.status, at: performance.now()});
      var json = r.json.bind(r);
      r.json = function () { return json().finally(function () { probe.read++; }); };
      return r;
    }, function (e) {
      probe.failures.push({url: url, name: e.name});
      throw e;
    });
  };
})();
</script>`

// settle waits until the snippet's first call has ended, and then for
// the snippet to act on it.
func settle(tb *testkit.Tab) {
	tb.T.Helper()
	tb.Until("probe.settled()", "the snippet's call to end")
	testkit.Eval[chromedp.Void](tb, "new Promise(function (done) { setTimeout(done); })")
}

// html is a test page: a title, the head's extra markup, and a body.
func html(title, head, body string) string {
	return "<!doctype html><html><head><meta charset=utf-8><title>" + title + "</title>" +
		probe + head + "</head><body>" + body + "</body></html>"
}

// text is the text of the element that selector finds.
func text(tb *testkit.Tab, selector string) string {
	tb.T.Helper()
	return testkit.Eval[string](tb, fmt.Sprintf("document.querySelector(%q).textContent", selector))
}
