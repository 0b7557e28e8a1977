package snippet_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dni-dev/dni/internal/testkit"
)

// countries are pools outside the United States: the business number as
// the pool's website shows it, a tracking number of the same country, and
// the ways pages of that country write the business number, with how each
// must read once swapped.
var countries = []struct {
	country, target, tracking string
	formats                   []struct{ shown, swapped string }
}{
	{"GB", "020 7946 0018", "+442079460100", []struct{ shown, swapped string }{
		{"+44 (0)20 7946 0018", "+44 (0)20 7946 0100"},
		{"020 7946 0018", "020 7946 0100"},
		{"020-7946-0018", "020-7946-0100"},
		{"(020) 7946 0018", "(020) 7946 0100"},
		{"+44 20 7946 0018", "+44 20 7946 0100"},
		{"0044 20 7946 0018", "0044 20 7946 0100"},
		{"+442079460018", "+442079460100"},
		{"Call\u00a0020\u202f7946\u20110018 today", "Call\u00a0020\u202f7946\u20110100 today"},
		{"Tel. 020 7946 0018, fax 020 7946 0019", "Tel. 020 7946 0100, fax 020 7946 0019"},
		// Other numbers, and digits that only contain the business number's.
		{"020 7946 0019", "020 7946 0019"},
		{"4402079460018123", "4402079460018123"},
		{"order 02079460018123", "order 02079460018123"},
		{"ref 9020 7946 0018", "ref 9020 7946 0018"},
	}},
	{"AU", "(02) 9374 4000", "+61255500100", []struct{ shown, swapped string }{
		{"(02) 9374 4000", "(02) 5550 0100"},
		{"02 9374 4000", "02 5550 0100"},
		{"+61 2 9374 4000", "+61 2 5550 0100"},
		{"+61 (0)2 9374 4000", "+61 (0)2 5550 0100"},
		{"02-9374-4000", "02-5550-0100"},
		{"0061 2 9374 4000", "0061 2 5550 0100"},
		{"ABN 61293744000123", "ABN 61293744000123"},
	}},
	{"DE", "030 1234567", "+49301234100", []struct{ shown, swapped string }{
		{"030 1234567", "030 1234100"},
		{"030/1234567", "030/1234100"},
		{"+49 30 1234567", "+49 30 1234100"},
		{"+49 (0)30 1234567", "+49 (0)30 1234100"},
		{"(030) 123 45 67", "(030) 123 41 00"},
		{"030-123 45 67", "030-123 41 00"},
		{"Bestellung 0301234567890", "Bestellung 0301234567890"},
	}},
	{"CA", "(416) 555-0100", "+14165550110", []struct{ shown, swapped string }{
		{"(416) 555-0100", "(416) 555-0110"},
		{"416-555-0100", "416-555-0110"},
		{"416.555.0100", "416.555.0110"},
		{"+1 416 555 0100", "+1 416 555 0110"},
		{"1-416-555-0100", "1-416-555-0110"},
		{"order 41655501001", "order 41655501001"},
	}},
}

// countryPage is a page that shows each format in a paragraph of its own,
// a split number and two tel: links, one international and one national.
func countryPage(install string, formats []struct{ shown, swapped string }, split, intl, national string) string {
	var body strings.Builder
	for i, f := range formats {
		fmt.Fprintf(&body, "<p id=f%d>%s</p>\n", i, f.shown)
	}
	fmt.Fprintf(&body, "<p id=split>Call %s now</p>\n", split)
	fmt.Fprintf(&body, "<a id=intl href=\"tel:%s\">Call</a> <a id=national href=\"tel:%s\">Call</a>\n", intl, national)
	return html("Abroad", install, body.String())
}

func TestTheBusinessNumberOfAPoolAbroadIsSwappedInEachLayoutItsPagesUse(t *testing.T) {
	splits := map[string][2]string{
		"GB": {"<b>020</b> 7946 0018", "<b>020</b> 7946 0100"},
		"AU": {"<span>(02)</span> <span>9374</span> 4000", "<span>(02)</span> <span>5550</span> 0100"},
		"DE": {"<em>+49</em> 30 <strong>1234567</strong>", "<em>+49</em> 30 <strong>1234100</strong>"},
		"CA": {"<span>(416)</span> 555-0100", "<span>(416)</span> 555-0110"},
	}
	nationals := map[string]string{"GB": "020-7946-0018", "AU": "(02)%209374%204000", "DE": "030/1234567", "CA": "416.555.0100"}
	dni := startNode(t)
	for _, c := range countries {
		t.Run(c.country, func(t *testing.T) {
			p := dni.createCountryPool(c.country, c.target, "all", c.tracking)
			s := startSite(t)
			intl := map[string]string{"GB": "+442079460018", "AU": "+61293744000", "DE": "+49301234567", "CA": "+14165550100"}[c.country]
			first := s.page("/", countryPage(p.Install, c.formats, splits[c.country][0], intl, nationals[c.country]))
			s.page("/next", html("Next", p.Install, `<p id=next>`+c.formats[1].shown+`</p>`))

			tb := testkit.NewTab(t)
			tb.Open(first)
			tb.Until(`window.dni && dni.number() == "`+c.tracking+`"`, "the swap")
			for i, f := range c.formats {
				if got := text(tb, fmt.Sprintf("#f%d", i)); got != f.swapped {
					t.Errorf("%q became %q, want %q", f.shown, got, f.swapped)
				}
			}
			if got := testkit.Eval[string](tb, `document.querySelector("#split").innerHTML`); got != "Call "+splits[c.country][1]+" now" {
				t.Errorf("the number split across elements became %q", got)
			}
			for _, id := range []string{"intl", "national"} {
				if href := testkit.Eval[string](tb, `document.querySelector("#`+id+`").getAttribute("href")`); href != "tel:"+c.tracking {
					t.Errorf("the %s tel: link calls %q, want tel:%s", id, href, c.tracking)
				}
			}

			// Content added after the swap, in the first and the last layout.
			testkit.Eval[chromedp.Void](tb, fmt.Sprintf(`document.body.insertAdjacentHTML("beforeend", "<p id=late1>%s</p><footer id=late2>%s</footer>")`,
				c.formats[0].shown, c.formats[4].shown))
			tb.Until(`document.querySelector("#late2").textContent == "`+c.formats[4].swapped+`"`, "the added content swapped")
			if got := text(tb, "#late1"); got != c.formats[0].swapped {
				t.Errorf("added %q became %q, want %q", c.formats[0].shown, got, c.formats[0].swapped)
			}

			// The tab's next page swaps with what the tab remembers.
			tb.Open(s.url + "/next")
			tb.Until(`window.dni && dni.number() == "`+c.tracking+`"`, "the next page's swap")
			if got := text(tb, "#next"); got != c.formats[1].swapped {
				t.Errorf("the next page reads %q, want %q", got, c.formats[1].swapped)
			}
			tb.Quiet()
		})
	}
}

func TestATrackingNumberOfAnotherLengthIsWrittenInItsCountrysFormat(t *testing.T) {
	dni := startNode(t)
	// A Berlin number of ten digits for a business number of nine: no
	// digit-for-digit swap can keep the page's layout.
	p := dni.createCountryPool("DE", "030 1234567", "all", "+493012341000")
	formats := []struct{ shown, swapped string }{
		{"030 1234567", "030 12341000"},
		{"(030) 123 45 67", "030 12341000"},
		{"+49 30 1234567", "+49 30 12341000"},
		{"+49 (0)30 1234567", "+49 30 12341000"},
		{"0049 30 1234567", "+49 30 12341000"},
	}
	url := startSite(t).page("/", countryPage(p.Install, formats, "<b>030</b> 1234567", "+49301234567", "030-1234567"))

	tb := testkit.NewTab(t)
	tb.Open(url)
	tb.Until(`window.dni && dni.number() == "+493012341000"`, "the swap")
	for i, f := range formats {
		if got := text(tb, fmt.Sprintf("#f%d", i)); got != f.swapped {
			t.Errorf("%q became %q, want %q", f.shown, got, f.swapped)
		}
	}
	if got := text(tb, "#split"); got != "Call 030 12341000 now" {
		t.Errorf("the number split across elements reads %q", got)
	}
	if href := testkit.Eval[string](tb, `document.querySelector("#national").getAttribute("href")`); href != "tel:+493012341000" {
		t.Errorf("the tel: link calls %q", href)
	}
	tb.Quiet()
}
