package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

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

// Browser returns the test binary's one headless Chromium, started on first
// use with VisitorAgent as its user agent; Main closes it.
func Browser(t testing.TB) context.Context {
	t.Helper()
	browser.once.Do(func() {
		path, err := chromium()
		if err != nil {
			browser.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.UserAgent(VisitorAgent), chromedp.WindowSize(1280, 900))
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

func closeBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
}

// Tab is one browser tab. It records what its pages print: console calls,
// uncaught exceptions, dialogs and the browser's own messages (CORS,
// integrity, network). An exception or a dialog fails the test when it
// ends; Quiet fails it on anything else a page printed.
type Tab struct {
	T   testing.TB
	Ctx context.Context

	mu       sync.Mutex
	problems []Problem
}

// Problem is something a page printed.
type Problem struct {
	Source string // "console", "exception", "dialog", or the browser log's source ("network", "javascript", ...)
	Text   string
}

// NewTab opens a tab in a browser context of the test's own: its cookies
// and storage are empty, and no other test sees them.
func NewTab(t testing.TB) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(Browser(t), chromedp.WithNewBrowserContext())
	return openTab(t, ctx, cancel)
}

// Another opens a second tab in tb's browser context: the two share
// cookies and localStorage, and each has its own sessionStorage.
func (tb *Tab) Another() *Tab {
	tb.T.Helper()
	ctx, cancel := chromedp.NewContext(tb.Ctx)
	return openTab(tb.T, ctx, cancel)
}

func openTab(t testing.TB, ctx context.Context, cancel func()) *Tab {
	t.Helper()
	tb := &Tab{T: t, Ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		var p Problem
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p = Problem{"console", string(ev.Type) + ": " + strings.Join(args, " ")}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			p = Problem{"exception", text}
		case *page.EventJavascriptDialogOpening:
			p = Problem{"dialog", ev.Message}
		case *cdplog.EventEntryAdded:
			p = Problem{string(ev.Entry.Source), string(ev.Entry.Level) + ": " + ev.Entry.Text}
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
			if p.Source == "exception" || p.Source == "dialog" {
				t.Errorf("the page did what it must not: %s: %s", p.Source, p.Text)
			}
		}
	})
	t.Cleanup(cancel)
	return tb
}

// Open loads url in the tab and waits for its load event.
func (tb *Tab) Open(url string) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, Patience)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.T.Fatalf("open %s: %v; the page is %s", url, err, tb.Describe())
	}
}

// Do runs browser actions, bounded by Patience.
func (tb *Tab) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, Patience)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.T.Fatalf("%s: %v; the page is %s", what, err, tb.Describe())
	}
}

// Eval evaluates a JavaScript expression in the tab's page, awaiting it if
// it is a promise.
func Eval[T any](tb *Tab, expr string) T {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, Patience)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.T.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Until waits for a JavaScript expression to be true, checking it every
// 20 ms, across the page loads and navigations under way, and fails the
// test with what the page shows once Patience has passed.
func (tb *Tab) Until(expr, what string) {
	tb.T.Helper()
	deadline := time.Now().Add(Patience)
	check := "(() => { try { return !!(" + expr + ") } catch (e) { return false } })()"
	for {
		ctx, cancel := context.WithTimeout(tb.Ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](check))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.T.Fatalf("waited %v for %s (%s): last %v; the page is %s", Patience, what, expr, err, tb.Describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Describe says which page the tab shows and what it says, for a failure.
func (tb *Tab) Describe() string {
	ctx, cancel := context.WithTimeout(tb.Ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + ": " + document.body.innerText.slice(0, 2000)`))
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return s
}

// Quiet fails the test if a page in the tab printed anything, except from
// the sources allowed (the browser logs a request that fails as "network",
// whatever the page does about it).
func (tb *Tab) Quiet(allowed ...string) {
	tb.T.Helper()
	// A round trip to the page, so that what it printed so far has arrived.
	Eval[int](tb, "1")
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, p := range tb.problems {
		switch {
		case p.Source == "exception" || p.Source == "dialog":
			// Failed on when the test ends.
		case slices.Contains(allowed, p.Source):
			tb.T.Logf("the browser logged (%s, expected): %s", p.Source, p.Text)
		default:
			tb.T.Errorf("the page printed: %s: %s", p.Source, p.Text)
		}
	}
}
