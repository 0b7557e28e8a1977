package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/provision"
	"github.com/dni-dev/dni/provision/standin"
	"github.com/dni-dev/dni/web"
)

// The tests here drive the admin pages in a real Chromium, against a real
// node wired to the Twilio stand-in (the sandbox) with the reconciler
// buying numbers, as `make run` does. One browser serves the package; each
// test opens its own tab in a browser context of its own (its own
// cookies) against its own node. Each page the tests visit is saved as a
// screenshot under screenshotDir, outside the repository.

// wait bounds every wait for the browser or the node: generous, because
// the machines that run the tests are small and busy. Waits end as soon as
// what they wait for happens.
const wait = 30 * time.Second

// visitorAgent is the user agent the browser sends: a person's Chrome, not
// HeadlessChrome, which dni takes for a bot (the demo page's snippet would
// get no number).
const visitorAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

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
	return "", errors.New("no Chromium: the admin page tests need chromium, chromium-browser or google-chrome on PATH " +
		"(or DNI_CHROMIUM set to one); `make deps` installs Debian's chromium")
}

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
}

func startBrowser(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(func() {
		path, err := chromium()
		if err != nil {
			browser.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.UserAgent(visitorAgent), chromedp.WindowSize(1280, 900))
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

// screenshotDir is where the pages' screenshots go: $DNI_ARTIFACTS, else
// the system's temporary directory. Never the repository.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DNI_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dni-admin-screenshots")
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// node is a single-node cluster serving the API and the admin pages, with
// the stand-in in Twilio's place and the reconciler buying its numbers.
type node struct {
	t     *testing.T
	url   string // http://127.0.0.1:port, also the public URL
	node  *cluster.Node
	sb    *standin.Server
	token string
}

func startNode(t *testing.T) *node {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	sb, err := standin.New(standin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	apiURL, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	provider, err := provision.NewTwilio(provision.TwilioConfig{AccountSID: sb.AccountSID(), AuthToken: sb.AuthToken(), APIURL: apiURL})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	rec := provision.NewReconciler(provider, url, nil, quiet)
	rec.Every = 50 * time.Millisecond
	cn, err := cluster.Start(context.Background(), cluster.Config{
		NodeID: "n1", DataDir: filepath.Join(t.TempDir(), "data"), RaftAddr: "127.0.0.1:0",
		HTTPAdvertise: ln.Addr().String(), HeartbeatTimeout: 300 * time.Millisecond,
		ElectionTimeout: 300 * time.Millisecond, LeaderLease: 150 * time.Millisecond,
		LeaderLoops: []cluster.LeaderLoop{func(ctx context.Context, n *cluster.Node) { rec.Run(ctx, n) }},
	}, httpapi.NewClient("cluster-secret"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv := httpapi.New(cn, httpapi.Options{
		Secret: "cluster-secret", VisitsPerMinute: -1, Registry: reg, Gatherer: reg, Log: quiet,
		Telephony: httpapi.Telephony{PublicURL: url, AuthToken: sb.AuthToken(), Sandbox: sb},
		Pages:     web.Handler,
	})
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		cn.Halt()
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	token, err := httpapi.EnsureAdminToken(ctx, cn, "")
	if err != nil {
		t.Fatalf("first admin token: %v", err)
	}
	return &node{t: t, url: url, node: cn, sb: sb, token: token}
}

// tab is one browser tab in a browser context of its own, signed in or
// not, with what its pages printed and any dialog they opened.
type tab struct {
	t     *testing.T
	ctx   context.Context
	n     *node
	shots string
	seq   int

	mu       sync.Mutex
	problems []string
}

func newTab(t *testing.T, n *node) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(startBrowser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, n: n, shots: screenshotDir(t)}
	err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			p = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				p += " " + ev.ExceptionDetails.Exception.Description
			}
		case *page.EventJavascriptDialogOpening:
			p = "a dialog opened: " + ev.Message
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
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("the page did what it must not: %s", p)
		}
	})
	t.Logf("screenshots: %s", tb.shots)
	return tb
}

// do runs browser actions, bounded by wait.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v; the page is %s", what, err, tb.describe())
	}
}

// describe says which page the tab shows and what it says, for a failure.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + ": " + document.body.innerText.slice(0, 2000)`))
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return s
}

// open loads a page of the node and waits for it to be ready.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.n.url+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// click clicks an element and, when the click loads another page, waits
// for that page's body.
func (tb *tab) click(selector string) {
	tb.t.Helper()
	tb.do("click "+selector, chromedp.WaitVisible(chromedp.CSS(selector)), chromedp.Click(chromedp.CSS(selector)))
}

// submit clicks a button or link that loads another page, and waits for
// that page (not the one clicked on) to have an element.
func (tb *tab) submit(button, next string) {
	tb.t.Helper()
	eval[bool](tb, "window.dniTestOldPage = true")
	tb.click(button)
	tb.until(`!window.dniTestOldPage && document.readyState === "complete" && document.querySelector(`+strconv.Quote(next)+`)`, "the page after "+button)
}

// waitFor waits until an element is on the page.
func (tb *tab) waitFor(selector string) {
	tb.t.Helper()
	tb.do("wait for "+selector, chromedp.WaitReady(chromedp.CSS(selector)))
}

// fill replaces the value of an input.
func (tb *tab) fill(selector, value string) {
	tb.t.Helper()
	tb.do("fill "+selector, chromedp.SetValue(chromedp.CSS(selector), value))
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until waits for a JavaScript expression to be true, checking it every
// 50 ms, across the page reloads and navigations under way.
func (tb *tab) until(expr, what string) {
	tb.t.Helper()
	deadline := time.Now().Add(wait)
	check := "(() => { try { return !!(" + expr + ") } catch (e) { return false } })()"
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](check))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("waited %v for %s (%s): last %v; the page is %s", wait, what, expr, err, tb.describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text is the text an element shows.
func (tb *tab) text(selector string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf("(document.querySelector(%q) || {innerText: ''}).innerText", selector))
}

// wantText fails the test unless an element shows text matching pattern.
func (tb *tab) wantText(selector, pattern string) {
	tb.t.Helper()
	if got := tb.text(selector); !regexp.MustCompile(pattern).MatchString(got) {
		tb.t.Fatalf("%s shows %q, want it to match %q", selector, got, pattern)
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// shot saves a screenshot of the whole page.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	tb.seq++
	file := filepath.Join(tb.shots, fmt.Sprintf("%02d-%s.png", tb.seq, unsafeName.ReplaceAllString(strings.ToLower(name), "-")))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// signIn signs in with the node's admin token through the login form.
func (tb *tab) signIn() {
	tb.t.Helper()
	tb.open("/admin/")
	tb.waitFor("#token")
	tb.shot("login")
	tb.fill("#token", tb.n.token)
	tb.submit("form.stack button[type=submit]", "a.brand + nav")
}

// get fetches a URL of the node outside the browser.
func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var noRedirects = &http.Client{
	Timeout:       wait,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
