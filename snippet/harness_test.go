package snippet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
)

// The browser tests run dni.js in a real Chromium, loaded by its install
// tag from a real dni node, on test websites served from another origin:
// the integrity hash, CORS, sessionStorage and the timers are the
// browser's own. One browser serves the whole package; each test has its
// own browser context (storage of its own) and its own node.

// visitorAgent is the user agent the browser sends: a person's Chrome, not
// HeadlessChrome, which dni takes for a bot.
const visitorAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// wait bounds every wait for the browser or the node: generous, because
// the machines that run the tests are small and busy. Waits end as soon as
// what they wait for happens.
const wait = 20 * time.Second

// chromium finds the browser: DNI_CHROMIUM, or Chromium or Chrome on PATH.
func chromium() (string, error) {
	if p := os.Getenv("DNI_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium: the browser tests need chromium, chromium-browser or google-chrome on PATH " +
		"(or DNI_CHROMIUM set to one); `make deps` installs Debian's chromium")
}

var browser struct {
	once   sync.Once
	ctx    context.Context // a chromedp context with the browser running
	cancel func()
	err    error
}

// startBrowser runs the package's one Chromium, on first use.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(func() {
		path, err := chromium()
		if err != nil {
			browser.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.UserAgent(visitorAgent), chromedp.WindowSize(1024, 768))
		if os.Geteuid() == 0 {
			opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses to run as root
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelBrowser := chromedp.NewContext(alloc)
		browser.ctx = ctx
		browser.cancel = func() { cancelBrowser(); cancelAlloc() }
		if err := chromedp.Do(ctx); err != nil {
			browser.err = fmt.Errorf("start %s: %w", path, err)
		}
	})
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	return browser.ctx
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// tab is one browser tab, with what its pages wrote to the console.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []problem
}

// problem is something a page printed: a console call, an uncaught
// exception, or a message of the browser's own (CORS, integrity, network).
type problem struct {
	source string // "console", "exception", or the browser log's source
	text   string
}

// newTab opens a tab in a browser context of the test's own: its storage
// is empty, and no other test sees it.
func newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(startBrowser(t), chromedp.WithNewBrowserContext())
	return openTab(t, ctx, cancel)
}

// another opens a second tab in tb's browser context: the two share
// localStorage, and each has its own sessionStorage.
func (tb *tab) another() *tab {
	tb.t.Helper()
	ctx, cancel := chromedp.NewContext(tb.ctx)
	return openTab(tb.t, ctx, cancel)
}

func openTab(t *testing.T, ctx context.Context, cancel func()) *tab {
	t.Helper()
	tb := &tab{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		var p problem
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p = problem{"console", string(ev.Type) + ": " + strings.Join(args, " ")}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			p = problem{"exception", text}
		case *cdplog.EventEntryAdded:
			p = problem{string(ev.Entry.Source), string(ev.Entry.Level) + ": " + ev.Entry.Text}
		default:
			return
		}
		tb.mu.Lock()
		tb.problems = append(tb.problems, p)
		tb.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(cancel)
	return tb
}

// open loads url in the tab and waits for its load event.
func (tb *tab) open(url string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.t.Fatalf("open %s: %v", url, err)
	}
}

// eval evaluates a JavaScript expression in the page, awaiting a promise.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until waits for a JavaScript expression to be true, checking it at every
// frame, and fails the test with what says after `wait`.
func (tb *tab) until(expr, what string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(wait))); err != nil {
		tb.t.Fatalf("waited %v for %s (%s): %v", wait, what, expr, err)
	}
}

// text is the text of the element that selector finds.
func (tb *tab) text(selector string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf("document.querySelector(%q).textContent", selector))
}

// quiet fails the test if a page in the tab printed anything: a console
// call, an exception, or a message of the browser's own, except from the
// sources allowed (the browser logs a request that fails as "network",
// whatever the page does about it).
func (tb *tab) quiet(allowed ...string) {
	tb.t.Helper()
	// A round trip to the page, so that what it printed so far has arrived.
	eval[int](tb, "1")
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, p := range tb.problems {
		if slices.Contains(allowed, p.source) {
			tb.t.Logf("the browser logged (%s, expected): %s", p.source, p.text)
			continue
		}
		tb.t.Errorf("the page printed: %s: %s", p.source, p.text)
	}
}

// node is a single-node dni cluster serving its HTTP API on a real socket.
type node struct {
	t     *testing.T
	url   string // http://127.0.0.1:port
	node  *cluster.Node
	token string
	reg   *prometheus.Registry
}

// startNode runs a node whose visitors are told to send a heartbeat every
// second, with no cap on visits per address (every tab is 127.0.0.1).
func startNode(t *testing.T) *node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	cn, err := cluster.Start(context.Background(), cluster.Config{
		NodeID: "solo", DataDir: filepath.Join(t.TempDir(), "data"), RaftAddr: "127.0.0.1:0",
		HTTPAdvertise: ln.Addr().String(), HeartbeatTimeout: 200 * time.Millisecond,
		ElectionTimeout: 200 * time.Millisecond, LeaderLease: 100 * time.Millisecond,
		ExpireEvery: time.Hour, // visits expire when a test says so
	}, httpapi.NewClient("secret"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv := httpapi.New(cn, httpapi.Options{
		Secret: "secret", VisitsPerMinute: -1, HeartbeatInterval: time.Second,
		Registry: reg, Gatherer: reg, Log: quiet,
	})
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		cn.Shutdown(context.Background())
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	token, err := httpapi.EnsureAdminToken(ctx, cn, "")
	if err != nil {
		t.Fatalf("first admin token: %v", err)
	}
	return &node{t: t, url: "http://" + ln.Addr().String(), node: cn, token: token, reg: reg}
}

// admin calls the admin API and decodes its JSON answer into out (if not
// nil), failing the test unless the status is want.
func (n *node) admin(method, path string, body any, want int, out any) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.url+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		n.t.Fatalf("%s %s: want %d, got %d %s", method, path, want, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			n.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// pool is what the tests read of a pool.
type pool struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	Install string `json:"install"`
}

// businessNumber is the test websites' own number, as the pools' swap
// target says they show it.
const businessNumber = "(415) 555-0100"

// createPool makes a pool with the given tracking type ("all", "gclid")
// and puts the numbers in it.
func (n *node) createPool(tracking string, numbers ...string) pool {
	n.t.Helper()
	var p pool
	n.admin("POST", "/v1/pools", map[string]any{
		"name": "Spring sale", "tracking": tracking, "size": 4, "swap_target": businessNumber,
		"forward_to": []string{"+14155550100"},
	}, http.StatusCreated, &p)
	if len(numbers) > 0 {
		n.admin("POST", "/v1/pools/"+p.ID+"/numbers", map[string]any{"numbers": numbers}, http.StatusCreated, nil)
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
func (n *node) visits(poolID string) []visitJSON {
	n.t.Helper()
	var out struct {
		Visits []visitJSON `json:"visits"`
	}
	n.admin("GET", "/v1/pools/"+poolID+"/visits", nil, http.StatusOK, &out)
	return out.Visits
}

// requests counts the requests the node answered on a route, such as
// "/v1/visits".
func (n *node) requests(route string) int {
	n.t.Helper()
	families, err := n.reg.Gather()
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
	t   *testing.T
	url string
	mux *http.ServeMux
}

func startSite(t *testing.T) *site {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &site{t: t, url: srv.URL, mux: mux}
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
func (tb *tab) settle() {
	tb.t.Helper()
	tb.until("probe.settled()", "the snippet's call to end")
	eval[chromedp.Void](tb, "new Promise(function (done) { setTimeout(done); })")
}

// html is a test page: a title, the head's extra markup, and a body.
func html(title, head, body string) string {
	return "<!doctype html><html><head><meta charset=utf-8><title>" + title + "</title>" +
		probe + head + "</head><body>" + body + "</body></html>"
}
