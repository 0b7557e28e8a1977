package snippet_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
)

// The tracking numbers the tests' pools hold, and how the test pages show
// the first.
const (
	tracking        = "+16285550142"
	trackingDisplay = "(628) 555-0142"
)

// formats are the ways the test pages write the business number, and how
// each must read once swapped: the tracking number in the same layout.
var formats = []struct{ shown, swapped string }{
	{"(415) 555-0100", "(628) 555-0142"},
	{"415-555-0100", "628-555-0142"},
	{"415.555.0100", "628.555.0142"},
	{"415 555 0100", "628 555 0142"},
	{"+1 415 555 0100", "+1 628 555 0142"},
	{"1-415-555-0100", "1-628-555-0142"},
	{"+1 (415) 555-0100", "+1 (628) 555-0142"},
	{"+1-415-555-0100", "+1-628-555-0142"},
	{"1 (415) 555-0100", "1 (628) 555-0142"},
	{"(415)555-0100", "(628)555-0142"},
	{"4155550100", "6285550142"},
	{"+14155550100", "+16285550142"},
	{"(415)\u00a0555\u20110100", "(628)\u00a0555\u20110142"}, // a no-break space and hyphen
	{"Call 415-555-0100 or 415.555.0100, today!", "Call 628-555-0142 or 628.555.0142, today!"},
	{"(415) 555-0100 ext. 12", "(628) 555-0142 ext. 12"},
	// Other numbers, and digits that only contain the business number's.
	{"(415) 555-0199", "(415) 555-0199"},
	{"order 4155550100123", "order 4155550100123"},
	{"ref 94155550100", "ref 94155550100"},
	{"415-555-01000", "415-555-01000"},
}

func TestEveryUSFormatOfTheBusinessNumberIsSwappedKeepingItsFormat(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	var body strings.Builder
	for i, f := range formats {
		fmt.Fprintf(&body, "<p id=f%d>%s</p>\n", i, f.shown)
	}
	// A page of some size, so that the logged swap time means something.
	for i := range 2000 {
		fmt.Fprintf(&body, "<p>Item %d, part 4%03d-%d: in stock.</p>\n", i, i, i%7)
	}
	// A swap observer registered after the snippet's sees the page as the
	// snippet leaves it.
	head := p.Install
	site := startSite(t)
	url := site.page("/", html("Acme Plumbing · "+testkit.BusinessNumber, head, body.String()+`<script>
new MutationObserver(function () { probe.swapped = probe.swapped || performance.now(); })
  .observe(document.body, {characterData: true, subtree: true});
</script>`))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && dni.number() == "`+tracking+`"`, "the swap")
	for i, f := range formats {
		if got := text(tb, fmt.Sprintf("#f%d", i)); got != f.swapped {
			t.Errorf("%q became %q, want %q", f.shown, got, f.swapped)
		}
	}
	if got := testkit.Eval[string](tb, "document.title"); got != "Acme Plumbing · "+trackingDisplay {
		t.Errorf("title %q", got)
	}
	ms := testkit.Eval[float64](tb, "probe.swapped - probe.answers[0].at")
	t.Logf("%d elements swapped %.1f ms after the API's answer arrived", 2000+len(formats), ms)
	tb.Quiet()
}

func TestTelLinksCallTheTrackingNumber(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	links := []struct{ href, text, wantHref, wantText string }{
		{"tel:+14155550100", testkit.BusinessNumber, "tel:" + tracking, trackingDisplay},
		{"tel:415-555-0100", "Call us", "tel:" + tracking, "Call us"},
		{"tel:(415)%20555-0100", "Call", "tel:" + tracking, "Call"},
		{"tel:14155550100", "Call", "tel:" + tracking, "Call"},
		{"TEL:+1-415-555-0100;ext=12", "Sales", "TEL:" + tracking + ";ext=12", "Sales"},
		{"tel:+14155550199", "(415) 555-0199", "tel:+14155550199", "(415) 555-0199"},
		{"https://maps.example/?q=4155550100", "Directions", "https://maps.example/?q=4155550100", "Directions"},
	}
	var body strings.Builder
	for i, l := range links {
		fmt.Fprintf(&body, "<a id=l%d href=%q>%s</a>\n", i, l.href, l.text)
	}
	url := startSite(t).page("/", html("Links", p.Install, body.String()))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && dni.number()`, "the swap")
	for i, l := range links {
		href := testkit.Eval[string](tb, fmt.Sprintf(`document.querySelector("#l%d").getAttribute("href")`, i))
		shown := text(tb, fmt.Sprintf("#l%d", i))
		if href != l.wantHref || shown != l.wantText {
			t.Errorf("<a href=%q>%s</a> became <a href=%q>%s</a>, want <a href=%q>%s</a>", l.href, l.text, href, shown, l.wantHref, l.wantText)
		}
	}
	tb.Quiet()
}

func TestContentAddedAfterTheSwapIsSwappedAsItArrives(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	url := startSite(t).page("/", html("Late", p.Install, `
<p id=first>(415) 555-0100</p>
<p id=edited>Opening hours</p>
<a id=link href="/contact">Contact</a>
<div id=box></div>`))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && dni.number()`, "the first swap")
	// Each way a page changes: a new element, new text in an old node, a
	// link pointed elsewhere, markup replaced, and something a moment later.
	testkit.Eval[chromedp.Void](tb, `(function () {
  var p = document.createElement("p");
  p.id = "added";
  p.textContent = "Call 415.555.0100";
  document.body.append(p);
  document.querySelector("#edited").firstChild.data = "Open now: (415) 555-0100";
  document.querySelector("#link").setAttribute("href", "tel:+14155550100");
  document.querySelector("#box").innerHTML = "<span id=span>+1 415 555 0100</span>";
  setTimeout(function () {
    document.body.insertAdjacentHTML("beforeend", "<footer id=footer>1-415-555-0100</footer>");
  }, 50);
})()`)
	tb.Until(`document.querySelector("#footer") && document.querySelector("#footer").textContent == "1-628-555-0142"`, "the footer swapped")
	for sel, want := range map[string]string{
		"#added": "Call 628.555.0142", "#edited": "Open now: (628) 555-0142", "#span": "+1 628 555 0142",
	} {
		if got := text(tb, sel); got != want {
			t.Errorf("%s: %q, want %q", sel, got, want)
		}
	}
	if href := testkit.Eval[string](tb, `document.querySelector("#link").getAttribute("href")`); href != "tel:"+tracking {
		t.Errorf("a link pointed at the business number later: %q", href)
	}
	tb.Quiet()
}

func TestASinglePageAppsRouteChangesAreSwappedWithinTheSameVisit(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	app := html("App", p.Install, `
<main id=app></main>
<script>
var routes = {
  "/": "<p id=home>Home. Call (415) 555-0100</p>",
  "/contact": "<h1>Contact</h1><p id=phone>Phone: 415-555-0100</p><a id=tap href='tel:+14155550100'>Tap to call</a>"
};
function render() { document.getElementById("app").innerHTML = routes[location.pathname]; }
function go(path) { history.pushState({}, "", path); render(); }
window.addEventListener("popstate", render);
render();
</script>`)
	s := startSite(t)
	url := s.page("/", app)
	s.page("/contact", app)

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && document.querySelector("#home").textContent == "Home. Call `+trackingDisplay+`"`, "the home page swapped")
	testkit.Eval[chromedp.Void](tb, `go("/contact")`)
	tb.Until(`document.querySelector("#phone") && document.querySelector("#phone").textContent == "Phone: 628-555-0142"`, "the contact route swapped")
	if href := testkit.Eval[string](tb, `document.querySelector("#tap").getAttribute("href")`); href != "tel:"+tracking {
		t.Errorf("the contact route's link: %q", href)
	}
	testkit.Eval[chromedp.Void](tb, `history.back()`)
	tb.Until(`document.querySelector("#home") && document.querySelector("#home").textContent == "Home. Call `+trackingDisplay+`"`, "the home route swapped again")
	if n := dni.requests("/v1/visits"); n != 1 {
		t.Errorf("%d visits for one tab's route changes, want 1", n)
	}
	tb.Quiet()
}

func TestThePublicAPISwapsWhatTheSnippetCannotSeeAndTellsTheNumber(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	url := startSite(t).page("/", html("Widget", p.Install, `
<p id=plain>(415) 555-0100</p>
<call-widget id=widget></call-widget>
<script>
customElements.define("call-widget", class extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({mode: "open"}).innerHTML = "<span>(415) 555-0100</span>";
  }
});
</script>`))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && dni.number() == "`+tracking+`"`, "the swap")
	shadow := `document.querySelector("#widget").shadowRoot.textContent`
	if got := testkit.Eval[string](tb, shadow); got != testkit.BusinessNumber {
		t.Fatalf("the shadow root was swapped without being asked to: %q", got)
	}
	testkit.Eval[chromedp.Void](tb, `dni.swap(document.querySelector("#widget").shadowRoot)`)
	if got := testkit.Eval[string](tb, shadow); got != trackingDisplay {
		t.Errorf("dni.swap(shadowRoot) left %q", got)
	}
	// Whatever a site passes, the call is harmless.
	testkit.Eval[chromedp.Void](tb, `dni.swap(); dni.swap(null); dni.swap("#plain"); dni.swap(42)`)
	if got := text(tb, "#plain"); got != trackingDisplay {
		t.Errorf("the page reads %q", got)
	}
	tb.Quiet()
}

// display writes a North American number as the test pages show the
// business number.
func display(e164 string) string {
	d := strings.TrimPrefix(e164, "+1")
	return "(" + d[:3] + ") " + d[3:6] + "-" + d[6:]
}

// sessionVisit is the visit id the tab keeps for the pool.
func sessionVisit(tb *testkit.Tab, key string) string {
	tb.T.Helper()
	return testkit.Eval[string](tb, `(JSON.parse(sessionStorage.getItem("dni:`+key+`")) || {}).v || ""`)
}

func TestTheNextPageOfTheTabSwapsFromTheCacheBeforeItIsPainted(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	s := startSite(t)
	first := s.page("/", html("Home", p.Install, `<p id=n>Call `+testkit.BusinessNumber+`</p><a href="/next">Next</a>`))
	// The next page loads the snippet without async, in its head, as a
	// site that wants no flash of the business number does; and dni
	// answers it only once the page has been painted with a number, so
	// only what the tab remembers can have put the tracking number there.
	painted := make(chan struct{})
	api, err := url.Parse(dni.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(api)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-painted:
			proxy.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	tag := strings.Replace(p.Install, " async>", ">", 1)
	tag = strings.Replace(tag, "<script ", `<script data-api="`+slow.URL+`" `, 1)
	next := s.streamed("/next", paintWatch+tag, painted)
	control := s.streamed("/control", paintWatch, make(chan struct{}))

	tb := testkit.NewTab(t)
	tb.Open(first)
	tb.Until(`window.dni && dni.number() == "`+tracking+`"`, "the first page's swap")
	visit := sessionVisit(tb, p.Key)

	tb.Open(next)
	tb.Until(`document.readyState == "complete" && probe.answers.length > 0`, "the next page and its heartbeat's answer")
	if got := testkit.Eval[string](tb, `paint.dcl`); !strings.Contains(got, trackingDisplay) || strings.Contains(got, testkit.BusinessNumber) {
		t.Errorf("at DOMContentLoaded the page read %q", got)
	}
	frames, business, shown := testkit.Eval[int](tb, `paint.frames`), testkit.Eval[int](tb, `paint.business`), testkit.Eval[int](tb, `paint.tracking`)
	if business != 0 || shown == 0 {
		t.Errorf("of %d frames, %d showed the business number and %d the tracking number", frames, business, shown)
	}
	if testkit.Eval[bool](tb, `probe.answers[0].at < paint.shownAt`) {
		t.Error("dni answered before the page was painted with the number: the check proves nothing")
	}
	// The number came from the cache: the page's one call confirms the
	// visit; it starts none.
	calls := testkit.Eval[[]string](tb, `probe.calls.map(function (c) { return c.url; })`)
	if len(calls) != 1 || calls[0] != slow.URL+"/v1/visits/"+visit+"/heartbeat" {
		t.Errorf("the next page's calls: %q, want a heartbeat of visit %s", calls, visit)
	}
	if n := dni.requests("/v1/visits"); n != 1 {
		t.Errorf("%d visits started, want 1", n)
	}

	// Without the snippet, the same watch sees the business number.
	tb.Open(control)
	tb.Until(`document.readyState == "complete"`, "the control page")
	if n := testkit.Eval[int](tb, `paint.business`); n == 0 {
		t.Error("the paint watch never saw the business number on a page that shows it: it is blind")
	}
	tb.Quiet()
}

// paintWatch goes in a page's head: at every frame, just before the
// browser paints, it notes whether the page shows the business number or
// the tracking number, and, once two frames have shown one, tells the site
// (a beacon to the page's path + "/painted").
const paintWatch = `<script>
window.paint = {frames: 0, business: 0, tracking: 0, shownAt: 0, dcl: "", told: false};
(function frame() {
  requestAnimationFrame(function () {
    var b = document.body;
    if (b) {
      paint.frames++;
      var text = b.innerText;
      if (text.indexOf("` + testkit.BusinessNumber + `") >= 0) paint.business++;
      if (text.indexOf("` + trackingDisplay + `") >= 0) paint.tracking++;
      if (paint.business + paint.tracking > 0) paint.shownAt = paint.shownAt || performance.now();
      if (!paint.told && paint.business + paint.tracking >= 2) {
        paint.told = true;
        navigator.sendBeacon(location.pathname + "/painted");
      }
    }
    frame();
  });
})();
document.addEventListener("DOMContentLoaded", function () { paint.dcl = document.body.innerText; });
</script>`

// streamed serves, at path, a page that arrives in two parts, the way a
// slow page does: its head and the business number, and, once the browser
// has painted that, the rest. It closes painted then.
func (s *site) streamed(path, head string, painted chan struct{}) string {
	var once sync.Once
	s.mux.HandleFunc(path+"/painted", func(w http.ResponseWriter, r *http.Request) { once.Do(func() { close(painted) }) })
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, "<!doctype html><html><head><meta charset=utf-8><title>Next</title>"+probe+head+
			"</head><body><h1>Welcome back</h1><p id=n>Call "+testkit.BusinessNumber+"</p>"+strings.Repeat(" ", 2048))
		w.(http.Flusher).Flush()
		select {
		case <-painted:
		case <-time.After(testkit.Patience):
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "<p>Thank you.</p></body></html>")
	})
	return s.url + path
}

func TestHeartbeatsKeepTheVisitAndItsNumber(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking, "+16285550143")
	url := startSite(t).page("/", html("Stay", p.Install, `<p id=n>`+testkit.BusinessNumber+`</p>`))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && dni.number()`, "the swap")
	number, visit := testkit.Eval[string](tb, `dni.number()`), sessionVisit(tb, p.Key)
	// The node tells the snippet to beat every second.
	tb.Until(`probe.answers.filter(function (a) { return /heartbeat$/.test(a.url) && a.status == 200; }).length >= 3`, "three heartbeats")
	if got := testkit.Eval[string](tb, `dni.number()`); got != number {
		t.Errorf("the number changed from %s to %s", number, got)
	}
	if got := text(tb, "#n"); got != display(number) {
		t.Errorf("the page reads %q", got)
	}
	if got := sessionVisit(tb, p.Key); got != visit {
		t.Errorf("the visit changed from %s to %s", visit, got)
	}
	live := dni.visits(p.ID)
	if len(live) != 1 || live[0].Visit != visit || live[0].Number != number {
		t.Errorf("live visits %+v, want %s holding %s", live, visit, number)
	}
	tb.Quiet()
}

func TestANumberTheServerChangesIsSwappedAtTheNextHeartbeat(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking, "+16285550143", "+16285550144")
	url := startSite(t).page("/", html("Renumbered", p.Install, `<p id=n>`+testkit.BusinessNumber+`</p>`))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && dni.number()`, "the swap")
	old := testkit.Eval[string](tb, `dni.number()`)
	// Replacing the number (it stopped working, say) leaves the visit
	// without one: its next heartbeat gets a free one.
	dni.AdminOK("DELETE", "/v1/pools/"+p.ID+"/numbers/"+old, nil, http.StatusOK, nil)
	tb.Until(`dni.number() && dni.number() != "`+old+`"`, "a new number")
	now := testkit.Eval[string](tb, `dni.number()`)
	if got := text(tb, "#n"); got != display(now) {
		t.Errorf("the page reads %q, want %q", got, display(now))
	}
	tb.Quiet()
}

func TestAVisitWithoutANumberShowsTheBusinessNumberUntilOneIsFree(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	url := startSite(t).page("/", html("Waiting", p.Install, `<p id=n>Call 415.555.0100</p>`))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && dni.number() == "`+tracking+`"`, "the swap")
	// The pool's only number goes: the visit waits for one, and the
	// visitor must not call a number that is no longer theirs.
	dni.AdminOK("DELETE", "/v1/pools/"+p.ID+"/numbers/"+tracking, nil, http.StatusOK, nil)
	tb.Until(`dni.number() == null`, "the business number back")
	if got := text(tb, "#n"); got != "Call 415.555.0100" {
		t.Errorf("the page reads %q, want the business number as the page wrote it", got)
	}
	dni.AdminOK("POST", "/v1/pools/"+p.ID+"/numbers", map[string]any{"numbers": []string{"+16285550150"}}, http.StatusCreated, nil)
	tb.Until(`dni.number() == "+16285550150"`, "the new number")
	if got := text(tb, "#n"); got != "Call 628.555.0150" {
		t.Errorf("the page reads %q", got)
	}
	tb.Quiet()
}

func TestAnExpiredVisitIsFollowedByANewOneWithTheSameAttribution(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking, "+16285550143")
	s := startSite(t)
	s.page("/", html("Expiry", p.Install, `<p id=n>`+testkit.BusinessNumber+`</p>`))
	landing := s.url + "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring"

	tb := testkit.NewTab(t)
	tb.Open(landing)
	tb.Until(`window.dni && dni.number()`, "the swap")
	oldNumber, oldVisit := testkit.Eval[string](tb, `dni.number()`), sessionVisit(tb, p.Key)
	// The tab sat idle past the pool's idle timeout: an hour passes for the
	// cluster, and the visit is released.
	dni.Command(&fsm.Expire{At: time.Now().Add(time.Hour)})
	tb.Until(`dni.number() && dni.number() != "`+oldNumber+`"`, "the new visit's number")
	newNumber, newVisit := testkit.Eval[string](tb, `dni.number()`), sessionVisit(tb, p.Key)
	if newVisit == oldVisit || newVisit == "" {
		t.Errorf("visit %q after %q", newVisit, oldVisit)
	}
	if got := text(tb, "#n"); got != display(newNumber) {
		t.Errorf("the page reads %q, want %q", got, display(newNumber))
	}
	live := dni.visits(p.ID)
	if len(live) != 1 || live[0].Visit != newVisit {
		t.Fatalf("live visits %+v, want %s", live, newVisit)
	}
	if a := live[0].Attribution; a["utm_source"] != "newsletter" || a["utm_campaign"] != "spring" || a["landing_page"] != landing {
		t.Errorf("the new visit's attribution %v, want the landing page's", a)
	}
	tb.Quiet("network") // the browser logs the heartbeat's 410 itself
}

// adClick is a gclid as Google puts it on an ad click's URL.
const adClick = "Cj0KCQiA4L67BhDUARIsADWrl7Fm3sNNbk4jO4VQq1kE9z5qfWv-Ax0iOZs1rFWXwTN3TwTmL_aQ0qIaAkbhEALw_wcB"

func TestAGoogleAdsPoolTracksOnlyVisitorsWhoClickedAnAdInAnyTab(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("gclid", tracking, "+16285550143")
	if !strings.Contains(p.Install, `data-tracking="gclid"`) {
		t.Fatalf("the install tag does not say the pool is for Google Ads: %s", p.Install)
	}
	s := startSite(t)
	s.page("/", html("Ads", p.Install, `<p id=n>`+testkit.BusinessNumber+`</p>`))

	// No click id: no call at all, and the business number stays.
	tb := testkit.NewTab(t)
	tb.Open(s.url + "/?utm_source=facebook")
	tb.Until(`window.dni`, "the snippet")
	if calls := testkit.Eval[int](tb, `probe.calls.length`); calls != 0 || dni.requests("/v1/visits") != 0 {
		t.Errorf("a visitor without a click id made %d calls", calls)
	}
	if got := text(tb, "#n"); got != testkit.BusinessNumber || testkit.Eval[bool](tb, `dni.number() !== null`) {
		t.Errorf("the page reads %q", got)
	}

	// Back from an ad, in the same tab: tracked.
	tb.Open(s.url + "/?gclid=" + adClick + "&utm_source=google&utm_campaign=brand")
	tb.Until(`dni.number()`, "the swap for an ad click")
	live := dni.visits(p.ID)
	if len(live) != 1 || live[0].Attribution["gclid"] != adClick || live[0].Attribution["utm_campaign"] != "brand" {
		t.Fatalf("live visits %+v", live)
	}

	// The same person in a new tab, without the click id in the URL: still
	// the ad's visitor.
	other := tb.Another()
	other.Open(s.url + "/about")
	other.Until(`window.dni && dni.number()`, "the swap in a new tab")
	var again *visitJSON
	for _, v := range dni.visits(p.ID) {
		if v.Visit == sessionVisit(other, p.Key) {
			again = &v
		}
	}
	if again == nil || again.Attribution["gclid"] != adClick || again.Attribution["landing_page"] != s.url+"/about" {
		t.Errorf("the new tab's visit: %+v", again)
	}

	// Ninety days on, the click no longer counts.
	testkit.Eval[chromedp.Void](other, `(function () {
  var c = JSON.parse(localStorage.getItem("dni:clicks"));
  c.at -= 91 * 86400000;
  localStorage.setItem("dni:clicks", JSON.stringify(c));
})()`)
	late := other.Another()
	late.Open(s.url + "/about")
	late.Until(`window.dni`, "the snippet")
	if calls := testkit.Eval[int](late, `probe.calls.length`); calls != 0 {
		t.Errorf("a click 91 days old still made %d calls", calls)
	}
	for _, x := range []*testkit.Tab{tb, other, late} {
		x.Quiet()
	}
}

// brokenAPI stands in for a dni API that fails in one way.
func brokenAPI(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(answer))
	t.Cleanup(func() {
		srv.CloseClientConnections() // ends the requests it keeps waiting
		srv.Close()
	})
	return srv.URL
}

func TestWhenTheAPIFailsThePageKeepsItsBusinessNumberAndAQuietConsole(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	// No server: every connection is reset at once. (A port closed again
	// is not enough: the other packages' tests, run beside this one, may
	// take it before the browser calls it.)
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.(*net.TCPConn).SetLinger(0) // a reset, as a closed port answers
				c.Close()
			}
		}()
		return "http://" + ln.Addr().String()
	}
	cors := func(w http.ResponseWriter) { w.Header().Set("Access-Control-Allow-Origin", "*") }
	timedOut := make(chan bool, 1)
	for _, c := range []struct {
		name    string
		api     string
		failure string // the error fetch reports, if it fails
		logged  []string
	}{
		{"no server", closed(), "TypeError", []string{"network"}},
		{"no answer in time", brokenAPI(t, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // so that the server notices the browser leave
			<-r.Context().Done()        // which it does when the snippet gives up
			timedOut <- true
		}), "TimeoutError", nil},
		{"a server error", brokenAPI(t, func(w http.ResponseWriter, r *http.Request) {
			cors(w)
			http.Error(w, `{"error":"no leader"}`, http.StatusServiceUnavailable)
		}), "", []string{"network"}},
		{"an answer that is not JSON", brokenAPI(t, func(w http.ResponseWriter, r *http.Request) {
			cors(w)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, "<html>Bad gateway</html>")
		}), "", nil},
		{"an answer with no number in it", brokenAPI(t, func(w http.ResponseWriter, r *http.Request) {
			cors(w)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"visit":"0123456789abcdef0123456789abcdef","number":"<img src=x onerror=alert(1)>","target":"(415) 555-0100","heartbeat_s":1}`)
		}), "", nil},
		{"no swap", brokenAPI(t, func(w http.ResponseWriter, r *http.Request) {
			cors(w)
			fmt.Fprint(w, `{"swap":false,"reason":"pool full"}`)
		}), "", nil},
		{"an answer CORS does not let the page read", brokenAPI(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"visit":"0123456789abcdef0123456789abcdef","number":"+16285550142","target":"(415) 555-0100","heartbeat_s":1}`)
		}), "TypeError", []string{"javascript", "network"}}, // the browser's CORS message
	} {
		t.Run(c.name, func(t *testing.T) {
			tag := strings.Replace(p.Install, "<script ", `<script data-api="`+c.api+`" `, 1)
			url := startSite(t).page("/", html("Down", tag, `<p id=n>Call `+testkit.BusinessNumber+`</p><a id=tel href="tel:+14155550100">Call</a>`))
			tb := testkit.NewTab(t)
			tb.Open(url)
			tb.Until(`window.dni`, "the snippet")
			settle(tb)
			if got := testkit.Eval[string](tb, `probe.failures.length ? probe.failures[0].name : ""`); got != c.failure {
				t.Errorf("the call failed with %q, want %q", got, c.failure)
			}
			if got := text(tb, "#n"); got != "Call "+testkit.BusinessNumber {
				t.Errorf("the page reads %q", got)
			}
			if got := testkit.Eval[string](tb, `document.querySelector("#tel").getAttribute("href")`); got != "tel:+14155550100" {
				t.Errorf("the link calls %q", got)
			}
			if testkit.Eval[bool](tb, `dni.number() !== null`) {
				t.Error("dni.number() names a number")
			}
			tb.Quiet(c.logged...)
		})
	}
	// The snippet gave up on the call: the browser closed its connection.
	select {
	case <-timedOut:
	case <-time.After(testkit.Patience):
		t.Error("the request that got no answer was never abandoned")
	}
}

func TestATagWhoseIntegrityHashDoesNotMatchLeavesThePageAlone(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	// After an upgrade that changed dni.js, an old tag pins the old hash.
	i := strings.Index(p.Install, `integrity="sha384-`) + len(`integrity="sha384-`)
	tag := p.Install[:i] + "AAAA" + p.Install[i+4:]
	tag = strings.Replace(tag, "<script ", `<script onerror="window.refused = true" `, 1)
	url := startSite(t).page("/", html("Pinned", tag, `<p id=n>`+testkit.BusinessNumber+`</p>`))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.refused`, "the browser to refuse the script")
	if got := text(tb, "#n"); got != testkit.BusinessNumber || testkit.Eval[bool](tb, `"dni" in window`) {
		t.Errorf("the page reads %q", got)
	}
	if n := dni.requests("/v1/visits"); n != 0 {
		t.Errorf("%d visits from a refused script", n)
	}
	tb.Quiet("security", "other")
}

func TestAHostilePageKeepsEveryNumberThatIsNotShownToTheVisitor(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking)
	url := startSite(t).page("/", html("Hostile", p.Install, hostile+`<p id=shown>Call `+testkit.BusinessNumber+`</p>`))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && document.querySelector("#shown").textContent == "Call `+trackingDisplay+`"`, "the visible number swapped")
	before := testkit.Eval[map[string]string](tb, untouched)
	// The same again, added after the swap.
	testkit.Eval[chromedp.Void](tb, `document.body.insertAdjacentHTML("beforeend", "<div id=late>" + document.querySelector("#hostile").innerHTML + "</div>");
document.querySelector("#img").setAttribute("data-phone", "415-555-0100");
document.body.insertAdjacentHTML("beforeend", "<p id=marker>(415) 555-0100</p>");`)
	tb.Until(`document.querySelector("#marker").textContent == "`+trackingDisplay+`"`, "the added number swapped")
	for _, state := range []struct {
		name string
		got  map[string]string
	}{{"as loaded", before}, {"after additions", testkit.Eval[map[string]string](tb, untouched)}} {
		for what, v := range state.got {
			if !strings.Contains(v, "415") || strings.Contains(v, "628") {
				t.Errorf("%s: %s was changed: %q", state.name, what, v)
			}
		}
	}
	tb.Quiet()
}

// hostile is markup that holds the business number where the visitor
// does not read it, or where the site says to leave it.
const hostile = `<div id=hostile>
<script class=x>var phone = "(415) 555-0100";</script>
<script class=x type="application/ld+json">{"telephone": "+1-415-555-0100"}</script>
<style class=x>.x::after { content: "415-555-0100"; }</style>
<textarea class=x>(415) 555-0100</textarea>
<input class=x value="(415) 555-0100">
<select class=x><option>(415) 555-0100</option></select>
<noscript class=x>(415) 555-0100</noscript>
<template class=x><p>(415) 555-0100</p></template>
<div class=x data-dni-ignore><p>(415) 555-0100</p><a href="tel:+14155550100">(415) 555-0100</a></div>
<div class=x contenteditable>(415) 555-0100</div>
<img class=x id=img alt="(415) 555-0100" title="415-555-0100" data-phone="4155550100" src="data:,">
<a class=x href="https://maps.example/?phone=4155550100" title="(415) 555-0100">Directions</a>
<!-- (415) 555-0100 -->
</div>`

// untouched reads, for every element of class x and every comment, its
// markup and its value (a form field's value is not in its markup).
const untouched = `(function () {
  var out = {};
  document.querySelectorAll(".x").forEach(function (el, i) {
    out[i + " " + el.outerHTML.slice(0, 40)] = el.outerHTML + ("value" in el ? " value=" + el.value : "");
  });
  var w = document.createTreeWalker(document.body, NodeFilter.SHOW_COMMENT);
  for (var n, i = 0; (n = w.nextNode()); i++) out["comment " + i] = n.data;
  return out;
})()`

func TestALandingPageWithAVeryLongURLStillGetsANumber(t *testing.T) {
	dni := startNode(t)
	p := dni.createPool("all", tracking, "+16285550143", "+16285550144")
	s := startSite(t)
	s.page("/", html("Long", p.Install, `<p id=n>`+testkit.BusinessNumber+`</p>`))
	// Longer than dni keeps, and cut inside a percent escape wherever it is
	// cut: dni would refuse a URL that does not parse.
	for _, pad := range []string{"", "x", "xx"} {
		tb := testkit.NewTab(t)
		tb.Open(s.url + "/" + pad + strings.Repeat("%C3%A9", 400) + "?utm_source=mail")
		tb.Until(`window.dni && dni.number()`, "the swap")
		tb.Quiet()
	}
}
