package web_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision/standin"
)

// poolJSON is what the tests read of a pool through the admin API.
type poolJSON struct {
	ID         string   `json:"id"`
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	Country    string   `json:"country"`
	SwapTarget string   `json:"swap_target"`
	ForwardTo  []string `json:"forward_to"`
	Size       int      `json:"size"`
	Status     string   `json:"status"`
	Notice     string   `json:"notice"`
	Install    string   `json:"install"`
	Stats      struct {
		Numbers int `json:"numbers"`
	} `json:"stats"`
}

// pools lists the node's pools through the admin API, deleted ones too.
func (n *node) pools() []poolJSON {
	n.t.Helper()
	var out struct{ Pools []poolJSON }
	n.AdminOK("GET", "/v1/pools?deleted=true", nil, http.StatusOK, &out)
	return out.Pools
}

func (tb *tab) inputValue(selector string) string {
	tb.T.Helper()
	return testkit.Eval[string](tb.Tab, "document.querySelector('"+selector+"').value")
}

// typeInto replaces an input's value by typing, so that the page's own
// input handlers run.
func (tb *tab) typeInto(selector, value string) {
	tb.T.Helper()
	tb.Do("type into "+selector, chromedp.Clear(chromedp.CSS(selector)), chromedp.SendKeys(chromedp.CSS(selector), value))
}

// pool reads one pool through the admin API.
func (n *node) pool(id string) poolJSON {
	n.t.Helper()
	var out poolJSON
	n.AdminOK("GET", "/v1/pools/"+id, nil, http.StatusOK, &out)
	return out
}

// choose picks an option of a select, so that the page's own change
// handlers run.
func (tb *tab) choose(selector, value string) {
	tb.T.Helper()
	tb.Do("choose "+value+" in "+selector, chromedp.SetValue(chromedp.CSS(selector), value))
	testkit.Eval[bool](tb.Tab, "document.querySelector("+strconv.Quote(selector)+").dispatchEvent(new Event('change'))")
}

func (tb *tab) placeholder(selector string) string {
	tb.T.Helper()
	return testkit.Eval[string](tb.Tab, "document.querySelector("+strconv.Quote(selector)+").placeholder")
}

func TestAMarketerCreatesEditsAndDeletesAPoolInTheBrowser(t *testing.T) {
	n := startNode(t)
	tb := newTab(t, n)
	tb.signIn()
	tb.wantText("main", "No campaign pools yet")
	tb.shot("phone numbers, empty")

	// Settings > Phone Numbers > Add Number > Campaign Pool.
	tb.click("details.menu summary")
	tb.shot("add number menu")
	tb.submit("#add-campaign-pool", "input[name=tracking]")
	tb.wantText("ol.steps [aria-current=step]", "Tracking")
	tb.wantText("fieldset", `All Visitors\s+Tracks calls from all website visitors regardless of how they arrived`)
	tb.wantText("fieldset", `Google Ads Only\s+Only tracks visitors who clicked a Google Ad \(identified by a gclid parameter\)\. Other visitors will see your regular business number\.`)
	tb.shot("wizard step 1, tracking")
	tb.submit("#next", "#name")

	// Step 2, with a mistake the settings' own rules catch.
	tb.wantText("ol.steps [aria-current=step]", "Setup")
	tb.fill("#name", "Spring sale")
	tb.fill("#size", "6")
	tb.fill("#area_code", "415")
	tb.fill("#swap_target", "555-01")
	tb.submit("#next", "#form-error")
	tb.wantText("#form-error", `Number on your website: .*555-01.* not a valid phone number of US`)
	tb.wantText("ol.steps [aria-current=step]", "Setup")
	if got := tb.inputValue("#name"); got != "Spring sale" {
		t.Fatalf("after the mistake the name field holds %q", got)
	}
	tb.shot("wizard step 2, a mistake")
	tb.fill("#swap_target", "(415) 555-0100")
	tb.submit("#next", "#forward_to_0")

	// Step 3: the business number is offered as the first forwarding
	// number. Back, then Next again: nothing typed is lost.
	tb.wantText("ol.steps [aria-current=step]", "Forwarding")
	if got := tb.inputValue("#forward_to_0"); got != "+14155550100" {
		t.Fatalf("the first forwarding number is %q, want the business number", got)
	}
	tb.fill("#forward_to_1", "+14155550199")
	tb.fill("#rings", "3")
	tb.shot("wizard step 3, forwarding")
	tb.submit("#back", "#name")
	for sel, want := range map[string]string{"#name": "Spring sale", "#size": "6", "#area_code": "415", "#swap_target": "(415) 555-0100"} {
		if got := tb.inputValue(sel); got != want {
			t.Fatalf("back on step 2, %s holds %q, want %q", sel, got, want)
		}
	}
	tb.submit("#next", "#forward_to_0")
	if a, b, r := tb.inputValue("#forward_to_0"), tb.inputValue("#forward_to_1"), tb.inputValue("#rings"); a != "+14155550100" || b != "+14155550199" || r != "3" {
		t.Fatalf("back on step 3, the forwarding fields hold %q, %q and rings %q", a, b, r)
	}
	tb.submit("#next", "#create")

	// Step 4: the review, then the numbers. The stand-in answers slowly and
	// has no number in 415, so the page shows the purchase under way and
	// the reconciler's notice.
	tb.wantText("ol.steps [aria-current=step]", "Done")
	tb.wantText("dl.review", `Spring sale[\s\S]*6 numbers[\s\S]*415[\s\S]*\(415\) 555-0100[\s\S]*\+14155550100, then \+14155550199[\s\S]*3`)
	// The conversion rule comes on, for a minute's call; it is worth 40.
	if !testkit.Eval[bool](tb.Tab, `document.querySelector("#lead_rule").checked`) || tb.inputValue("#lead_min_duration_s") != "60" {
		t.Fatal("the wizard does not offer the conversion rule on, for a minute's call")
	}
	tb.fill("#lead_value", "40")
	tb.shot("wizard step 4, review")
	n.sandbox.SetFaults(standin.Faults{Latency: 150 * time.Millisecond, ExhaustAreaCodes: []string{"415"}})
	tb.submit("#create", "#pool-status")
	tb.wantText("#pool-status", "provisioning")
	tb.wantText(".progress", `of 6 numbers bought`)
	tb.shot("pool, buying numbers")
	tb.Until(`document.querySelector("#install") !== null`, "the page to follow the pool until it is active")
	n.sandbox.SetFaults(standin.Faults{})
	tb.wantText("#pool-status", "active")
	tb.wantText("#notice", `415`)
	pools := n.pools()
	if len(pools) != 1 || pools[0].Status != "active" || pools[0].Stats.Numbers != 6 {
		t.Fatalf("pools after the wizard: %+v", pools)
	}
	pl := pools[0]
	if got := tb.inputValue("#install"); got != pl.Install || !strings.Contains(got, `data-pool="`+pl.Key+`"`) {
		t.Fatalf("the install snippet shown is %q, the API's is %q", got, pl.Install)
	}
	tb.wantText(".reminder", `\(415\) 555-0100, must match the phone number displayed on your website exactly`)
	tb.wantText("#lead-rule", `^on: an answered call of at least 1 min from a first-time caller is a lead worth 40\.00 USD$`)
	tb.click("button[data-copy=install]")
	tb.Until(`document.querySelector("button[data-copy=install]").textContent !== "Copy"`, "the copy button to say what it did")
	tb.shot("pool, active, install snippet")

	// The edit form: a smaller size says which numbers go first, and the
	// answer names the ones released.
	tb.submit(`.heading a[href$="/edit"]`, "#size")
	tb.shot("edit form")
	tb.typeInto("#size", "4")
	tb.Until(`document.querySelectorAll("#shrink-order li.release").length === 2`, "the preview to mark two numbers")
	tb.wantText("#size-effect", "2 numbers are released at once")
	preview := testkit.Eval[[]string](tb.Tab, `[...document.querySelectorAll("#shrink-order li.release")].map(li => li.dataset.number)`)
	tb.shot("edit form, size down preview")
	tb.submit("#save", "#saved")
	tb.wantText("#saved", "Released 2 numbers")
	released := testkit.Eval[[]string](tb.Tab, `[...document.querySelectorAll("table.numbers tr[data-number]")].filter(tr => tr.cells[1].textContent !== "active").map(tr => tr.dataset.number)`)
	slices.Sort(preview)
	slices.Sort(released)
	if !slices.Equal(preview, released) {
		t.Fatalf("the preview said %v would go, but %v went", preview, released)
	}
	tb.shot("pool, size down saved")

	// A larger size buys numbers; the page follows until they are in.
	tb.submit(`.heading a[href$="/edit"]`, "#size")
	tb.typeInto("#size", "5")
	tb.Until(`document.querySelector("#size-effect").textContent.includes("1 more number is bought in area code 415")`, "the preview to say a number is bought")
	tb.shot("edit form, size up preview")
	tb.submit("#save", "#saved")
	tb.Until(`document.querySelector("#install") !== null`, "the pool to be active at its new size")
	if pl := n.pools()[0]; pl.Size != 5 || pl.Stats.Numbers != 5 {
		t.Fatalf("after growing: size %d, %d numbers", pl.Size, pl.Stats.Numbers)
	}

	// The guards against scripts: the websites the pool serves, written as
	// a marketer would, and its budget of new visits.
	tb.submit(`.heading a[href$="/edit"]`, "#allowed_origins")
	tb.wantText("#budget-hint", "twice its size a minute")
	tb.fill("#allowed_origins", "https://Shop.example/")
	tb.fill("#visit_burst", "3")
	tb.fill("#lead_min_duration_s", "90")
	tb.fill("#lead_value", "forty")
	tb.submit("#save", "#form-error")
	tb.wantText("#form-error", `^Value of a lead: "forty" is not an amount`)
	tb.fill("#lead_value", "45.50")
	tb.shot("edit form, websites, budget and conversion rule")
	tb.submit("#save", "#saved")
	tb.wantText("#allowed-origins", "^https://shop.example$")
	tb.wantText("#budget", "^up to 3 at once, then 10 a minute$")
	tb.wantText("#lead-rule", `at least 1 min 30 s from a first-time caller is a lead worth 45\.50 USD$`)
	tb.shot("pool, websites and budget saved")

	// Deleting says what happens, then does it.
	tb.submit(`.heading a[href$="/delete"]`, "#confirm-delete")
	tb.wantText("main", `5 tracking numbers are released back to the sandbox`)
	tb.wantText("main", `history is kept`)
	tb.shot("delete confirmation")
	tb.submit("#confirm-delete", "main p.note")
	tb.wantText("main p.note", `Pool “Spring sale” deleted`)
	tb.Until(`document.querySelector("details.history") || document.querySelector(".status.deleting")`, "the pool to show as deleted")
	tb.shot("phone numbers, pool deleted")
	if pl := n.pools()[0]; pl.Status != "deleting" && pl.Status != "deleted" {
		t.Fatalf("after the delete the pool is %s", pl.Status)
	}
}

func TestAMarketerInTheUnitedKingdomWritesNumbersAsTheBritishDoInTheBrowser(t *testing.T) {
	n := startNode(t)
	tb := newTab(t, n)
	tb.signIn()
	tb.open("/admin/pools/new")
	tb.waitFor("input[name=tracking]")
	tb.submit("#next", "#country")

	// Step 2 asks for the country first; the United States comes chosen,
	// and the number's example follows the country.
	if got := tb.inputValue("#country"); got != "US" {
		t.Fatalf("the wizard offers %q as the country, want US", got)
	}
	tb.wantText("label[for=area_code]", `020 in London`)
	tb.choose("#country", "GB")
	if got := tb.placeholder("#swap_target"); got != "020 7946 0018" {
		t.Fatalf("in the United Kingdom the swap target's example is %q", got)
	}
	tb.fill("#name", "London")
	tb.fill("#size", "4")

	// An American number is no number on a British website.
	tb.fill("#swap_target", "(415) 555-0100")
	tb.submit("#next", "#form-error")
	tb.wantText("#form-error", `^Number on your website: .*\(415\) 555-0100.* not a valid phone number of GB`)
	tb.wantText("ol.steps [aria-current=step]", "Setup")
	if got := tb.inputValue("#country"); got != "GB" {
		t.Fatalf("after the mistake the country is %q", got)
	}
	if got := tb.placeholder("#swap_target"); got != "020 7946 0018" {
		t.Fatalf("after the mistake the swap target's example is %q", got)
	}
	tb.shot("wizard step 2, an american number in the united kingdom")
	if pools := n.pools(); len(pools) != 0 {
		t.Fatalf("the refused number made pools: %+v", pools)
	}
	tb.fill("#swap_target", "+44 (0)20 7946 0018")
	tb.submit("#next", "#forward_to_0")

	// Step 3 offers the business number in E.164 and takes a forwarding
	// number as the British dial it.
	if got := tb.inputValue("#forward_to_0"); got != "+442079460018" {
		t.Fatalf("the first forwarding number is %q, want the business number", got)
	}
	if got := tb.placeholder("#forward_to_1"); got != "020 7946 0018" {
		t.Fatalf("in the United Kingdom the forwarding number's example is %q", got)
	}
	tb.fill("#forward_to_0", "020 7946 0999")
	tb.shot("wizard step 3, a british forwarding number")
	tb.submit("#next", "#create")
	tb.wantText("dl.review", `United Kingdom[\s\S]*London[\s\S]*\+44 \(0\)20 7946 0018[\s\S]*020 7946 0999`)
	tb.shot("wizard step 4, a british pool")
	tb.submit("#create", "#pool-status")
	tb.Until(`document.querySelector("#install") !== null`, "the pool to be active")
	tb.wantText("#country", `^United Kingdom \(GB\)$`)
	tb.wantText("#forwarding", `^020 7946 0999, \d+ rings each$`)
	tb.wantText(".reminder", `\+44 \(0\)20 7946 0018, must match`)
	tb.shot("pool in the united kingdom")
	pools := n.pools()
	if len(pools) != 1 {
		t.Fatalf("pools after the wizard: %+v", pools)
	}
	id := pools[0].ID
	if pl := n.pool(id); pl.Country != "GB" || pl.SwapTarget != "+44 (0)20 7946 0018" || !slices.Equal(pl.ForwardTo, []string{"+442079460999"}) {
		t.Fatalf("the API has the pool in %q, swap target %q, forwarding to %v", pl.Country, pl.SwapTarget, pl.ForwardTo)
	}

	// The website writes the number nationally...
	tb.submit(`.heading a[href$="/edit"]`, "#country")
	if c, f := tb.inputValue("#country"), tb.inputValue("#forward_to_0"); c != "GB" || f != "+442079460999" {
		t.Fatalf("the edit form has the pool in %q, forwarding to %q", c, f)
	}
	tb.fill("#swap_target", "020 7946 0018")
	tb.submit("#save", "#saved")
	tb.wantText(".reminder", `020 7946 0018, must match`)

	// ...which is no German number: the pool cannot move to Germany.
	tb.submit(`.heading a[href$="/edit"]`, "#country")
	tb.choose("#country", "DE")
	if got := tb.placeholder("#swap_target"); got != "030 1234567" {
		t.Fatalf("in Germany the swap target's example is %q", got)
	}
	tb.submit("#save", "#form-error")
	tb.wantText("#form-error", `^Number on your website: .*020 7946 0018.* not a valid phone number of DE`)
	if got := tb.inputValue("#country"); got != "DE" {
		t.Fatalf("the refused form came back with the country %q, not as it was sent", got)
	}
	tb.shot("edit form, a british number in germany")
	if pl := n.pool(id); pl.Country != "GB" || pl.SwapTarget != "020 7946 0018" {
		t.Fatalf("a refused edit moved the pool to %q with swap target %q", pl.Country, pl.SwapTarget)
	}
}

func TestThePoolPageShowsTheAdvisedSizeItsUsageAndEverySizeChange(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	n.AdminOK("PATCH", "/v1/pools/"+pl.ID, map[string]any{"size": 6}, http.StatusOK, nil)
	n.AdminOK("PATCH", "/v1/pools/"+pl.ID, map[string]any{"autoscale": map[string]any{"min_size": 4, "max_size": 12}}, http.StatusOK, nil)
	tb := newTab(t, n)
	tb.signIn()
	tb.open("/admin/pools/" + pl.ID)
	tb.wantText("#advice", `^Advised size: 6 numbers, as now\. Fewer than 24 hours of traffic observed yet \(0 so far\): keep 6\.$`)
	tb.wantText("#autoscale", `sizes itself between 4 and 12 numbers`)
	tb.wantText(`#sizing tr[data-window="7d"]`, `^7d\s+no visits yet\s+0 on 0 numbers`)
	tb.wantText("#size-history", `4 → 6\s+by hand\s+changed by hand`)
	tb.shot("pool, size")
}
