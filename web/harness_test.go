package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision/standin"
	"github.com/dni-dev/dni/web"
)

// The tests here drive the admin pages in a real Chromium, against a real
// node wired to the Twilio stand-in (the sandbox) with the reconciler
// buying numbers, as `make run` does. One browser serves the package; each
// test opens its own tab in a browser context of its own (its own
// cookies) against its own node. Each page the tests visit is saved as a
// screenshot under screenshotDir, outside the repository.

func TestMain(m *testing.M) { testkit.Main(m) }

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

// node is a one-node cluster serving the API and the admin pages, its URL
// also its public URL, with the stand-in in Twilio's place and the
// reconciler buying its numbers.
type node struct {
	*testkit.Node
	t       *testing.T
	sandbox *standin.Server
}

func startNode(t *testing.T) *node {
	t.Helper()
	// A cluster of one, rather than StartNode, for its sandbox.
	c := testkit.StartCluster(t, 1, testkit.Options{
		Sandbox: true,
		HTTP:    httpapi.Options{Pages: web.Handler, VisitsPerMinute: -1},
	})
	return &node{Node: c.Node("n1"), t: t, sandbox: c.Sandbox}
}

// tab is a browser tab on the node's admin pages, signed in or not, that
// saves screenshots of them.
type tab struct {
	*testkit.Tab
	n     *node
	shots string
	seq   int
}

func newTab(t *testing.T, n *node) *tab {
	t.Helper()
	tb := &tab{Tab: testkit.NewTab(t), n: n, shots: screenshotDir(t)}
	t.Logf("screenshots: %s", tb.shots)
	return tb
}

// open loads a page of the node.
func (tb *tab) open(path string) {
	tb.T.Helper()
	tb.Open(tb.n.URL + path)
}

// click clicks an element once it is visible.
func (tb *tab) click(selector string) {
	tb.T.Helper()
	tb.Do("click "+selector, chromedp.WaitVisible(chromedp.CSS(selector)), chromedp.Click(chromedp.CSS(selector)))
}

// submit clicks a button or link that loads another page, and waits for
// that page (not the one clicked on) to have an element.
func (tb *tab) submit(button, next string) {
	tb.T.Helper()
	testkit.Eval[bool](tb.Tab, "window.dniTestOldPage = true")
	tb.click(button)
	tb.Until(`!window.dniTestOldPage && document.readyState === "complete" && document.querySelector(`+strconv.Quote(next)+`)`, "the page after "+button)
}

// waitFor waits until an element is on the page.
func (tb *tab) waitFor(selector string) {
	tb.T.Helper()
	tb.Do("wait for "+selector, chromedp.WaitReady(chromedp.CSS(selector)))
}

// fill replaces the value of an input.
func (tb *tab) fill(selector, value string) {
	tb.T.Helper()
	tb.Do("fill "+selector, chromedp.SetValue(chromedp.CSS(selector), value))
}

// text is the text an element shows.
func (tb *tab) text(selector string) string {
	tb.T.Helper()
	return testkit.Eval[string](tb.Tab, fmt.Sprintf("(document.querySelector(%q) || {innerText: ''}).innerText", selector))
}

// wantText fails the test unless an element shows text matching pattern.
func (tb *tab) wantText(selector, pattern string) {
	tb.T.Helper()
	if got := tb.text(selector); !regexp.MustCompile(pattern).MatchString(got) {
		tb.T.Fatalf("%s shows %q, want it to match %q", selector, got, pattern)
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// shot saves a screenshot of the whole page.
func (tb *tab) shot(name string) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, testkit.Patience)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.T.Fatalf("screenshot %s: %v", name, err)
	}
	tb.seq++
	file := filepath.Join(tb.shots, fmt.Sprintf("%02d-%s.png", tb.seq, unsafeName.ReplaceAllString(strings.ToLower(name), "-")))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.T.Fatal(err)
	}
}

// signIn signs in with the node's admin token through the login form.
func (tb *tab) signIn() {
	tb.T.Helper()
	tb.open("/admin/")
	tb.waitFor("#token")
	tb.shot("login")
	tb.fill("#token", tb.n.Token)
	tb.submit("form.stack button[type=submit]", "a.brand + nav")
}
