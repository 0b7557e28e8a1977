package web

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
)

func TestASessionIsSignedByTheClusterAndEnds(t *testing.T) {
	p := &pages{key: []byte("a key from the cluster secret")}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := p.newSession("tok_0123456789ab", now)
	if got, ok := p.readSession(s.value, now.Add(time.Hour)); !ok || got.tokenID != "tok_0123456789ab" || !got.issued.Equal(now) {
		t.Fatalf("a fresh session reads as %+v, %v", got, ok)
	}
	if _, ok := p.readSession(s.value, now.Add(sessionLife)); ok {
		t.Fatal("a session outlived its life")
	}
	other := &pages{key: []byte("another cluster")}
	if _, ok := other.readSession(s.value, now); ok {
		t.Fatal("another cluster's key accepted the session")
	}
	if _, ok := (&pages{}).readSession(s.value, now); ok {
		t.Fatal("a node without a key accepted a session")
	}
	for _, forged := range []string{
		"", ".", s.value + "x", "v2.tok_ffffffffffff" + s.value[len("v2.tok_0123456789ab"):],
		"v1" + s.value[2:], "v3" + s.value[2:],
		// An earlier start, under the same signature.
		strings.Replace(s.value, ".1795780800000.", ".1795780799999.", 1),
	} {
		if _, ok := p.readSession(forged, now); ok {
			t.Errorf("the forged cookie %q was accepted", forged)
		}
	}
	if s2 := p.newSession("tok_0123456789ab", now); s2.value == s.value || p.csrfToken(s2) == p.csrfToken(s) {
		t.Fatal("two sign-ins share a session or a CSRF token")
	}
	if p.csrfToken(s) == s.value[len(s.value)-43:] {
		t.Fatal("the CSRF token is the session's own signature")
	}
}

func TestTheLoginSendsNobodyToAnotherSite(t *testing.T) {
	for next, want := range map[string]string{
		"/admin/calls?pool=pl_1": "/admin/calls?pool=pl_1",
		"":                       "/admin/pools",
		"//evil.example/admin/":  "/admin/pools",
		"https://evil.example/":  "/admin/pools",
		"/admin/\\evil":          "/admin/pools",
		"/v1/pools":              "/admin/pools",
	} {
		if got := localPage(next); got != want {
			t.Errorf("next %q goes to %q, want %q", next, got, want)
		}
	}
}

func TestTheSizePreviewSaysWhatANewSizeDoes(t *testing.T) {
	for _, c := range []struct {
		size, inService, newSize int
		area, want               string
	}{
		{10, 10, 8, "", "2 numbers are released at once, in the order below: free numbers first, then those whose visitor was seen longest ago."},
		{10, 10, 9, "", "1 number is released at once, in the order below: free numbers first, then those whose visitor was seen longest ago."},
		{10, 10, 12, "415", "2 more numbers are bought in area code 415."},
		{10, 10, 11, "", "1 more number is bought."},
		{10, 6, 8, "", "2 numbers fewer are bought."},
		{10, 10, 10, "", "The size stays as it is."},
	} {
		if got := sizeEffect(c.size, c.inService, c.newSize, c.area); got != c.want {
			t.Errorf("size %d (%d in service) to %d: %q, want %q", c.size, c.inService, c.newSize, got, c.want)
		}
	}
}

func TestAMarkSetsOnlyWhatTheFormChanged(t *testing.T) {
	fifty := 50.0
	byRule := httpapi.Call{SID: "CA1", Outcome: "lead", Value: &fifty, Currency: "USD", OutcomeBy: "rule", Note: "called back"}
	unjudged := httpapi.Call{SID: "CA2"}
	for _, c := range []struct {
		name    string
		call    httpapi.Call
		form    markForm // as the handler fills it: what the call has, then what was sent
		want    allocator.MarkFields
		outcome allocator.CallOutcome
		value   allocator.Money
		field   string // of the error, if any
	}{
		{"the form as shown", byRule, markFormOf(byRule), 0, "", 0, ""},
		{"a note alone", byRule, markForm{Outcome: "lead", Value: "50.00", Note: "asked for a quote"}, allocator.MarkNote, "", 0, ""},
		{"a sale at a new value", byRule, markForm{Outcome: "sale", Value: "1,250.50", Note: "called back"}, allocator.MarkOutcome | allocator.MarkValue, "sale", 125050, ""},
		{"the same value written otherwise", byRule, markForm{Outcome: "lead", Value: "$50", Note: "called back"}, 0, "", 0, ""},
		{"an empty value is no value", byRule, markForm{Outcome: "lead", Value: " ", Note: "called back"}, allocator.MarkValue, "", 0, ""},
		{"no outcome chosen", unjudged, markForm{}, 0, "", 0, ""},
		{"a value in words", unjudged, markForm{Outcome: "lead", Value: "lots"}, 0, "", 0, "value"},
	} {
		m, err := c.form.mark(c.call)
		fe, _ := asFieldError(err)
		switch {
		case c.field != "":
			if fe == nil || fe.Field != c.field {
				t.Errorf("%s: %v, want an error about %s", c.name, err, c.field)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case m.Set != c.want || m.Set&allocator.MarkOutcome != 0 && m.Outcome != c.outcome || m.Set&allocator.MarkValue != 0 && m.Value != c.value:
			t.Errorf("%s: %+v, want fields %b, outcome %q, value %v", c.name, m, c.want, c.outcome, c.value)
		}
	}
}

func TestTheBarChartScalesToTheBusiestCampaign(t *testing.T) {
	campaign := func(s string) *string { return &s }
	c := newBarChart([]httpapi.ReportRow{
		{Campaign: campaign("spring"), Calls: 10},
		{Campaign: campaign(""), Calls: 5},
		{Campaign: campaign("a campaign whose name goes on and on and on"), Calls: 1},
	})
	if len(c.Bars) != 3 || c.Bars[0].Width != 2*c.Bars[1].Width || c.Bars[2].Width < 1 {
		t.Fatalf("bars %+v", c.Bars)
	}
	if c.Bars[1].Label != "(no campaign)" || []rune(c.Bars[2].Label)[chartLabelRunes-1] != '…' {
		t.Fatalf("labels %q, %q", c.Bars[1].Label, c.Bars[2].Label)
	}
	if c.Bars[0].Y >= c.Bars[1].Y || c.Height < c.Bars[2].Y+chartBarHeight {
		t.Fatalf("layout %+v, height %d", c.Bars, c.Height)
	}
}

func TestEachWizardStepIsCheckedByTheSettingsRulesUpToItself(t *testing.T) {
	good := poolForm{
		Tracking: "all", Country: "US", Name: "Spring", Size: "10", SwapTarget: "(415) 555-0100",
		ForwardTo: []string{"+14155550100"}, Rings: "5", LeadRule: true, LeadMinDuration: "60", LeadValue: "40",
	}
	for _, c := range []struct {
		name      string
		edit      func(*poolForm)
		step      int
		wantStep  int
		wantField string
	}{
		{"a good step 1", func(f *poolForm) {}, 1, 0, ""},
		{"an unknown tracking type", func(f *poolForm) { f.Tracking = "facebook" }, 1, 1, "tracking"},
		{"step 2 is not checked on step 1", func(f *poolForm) { f.Name = "" }, 1, 0, ""},
		{"an empty name", func(f *poolForm) { f.Name = "" }, 2, 2, "name"},
		{"a pool too small", func(f *poolForm) { f.Size = "3" }, 2, 2, "size"},
		{"a size that is no number", func(f *poolForm) { f.Size = "ten" }, 2, 2, "size"},
		{"a bad area code", func(f *poolForm) { f.AreaCode = "12" }, 2, 2, "area_code"},
		{"a country no one has", func(f *poolForm) { f.Country = "XX" }, 2, 2, "country"},
		{"a British business", func(f *poolForm) { f.Country, f.SwapTarget = "GB", "+44 (0)20 7946 0018" }, 2, 0, ""},
		{"an American number on a British website", func(f *poolForm) { f.Country = "GB" }, 2, 2, "swap_target"},
		{"a British forwarding number as the British write it", func(f *poolForm) {
			f.Country, f.SwapTarget, f.ForwardTo = "GB", "020 7946 0018", []string{"020 7946 0999"}
		}, 3, 0, ""},
		{"a British forwarding number as the Germans would", func(f *poolForm) {
			f.Country, f.SwapTarget, f.ForwardTo = "DE", "030 1234567", []string{"020 7946 0999"}
		}, 3, 3, "forward_to"},
		{"step 3 is not checked on step 2", func(f *poolForm) { f.ForwardTo = nil }, 2, 0, ""},
		{"no forwarding number", func(f *poolForm) { f.ForwardTo = nil }, 3, 3, "forward_to"},
		{"a forwarding number twice", func(f *poolForm) { f.ForwardTo = []string{"+14155550100", "+14155550100"} }, 3, 3, "forward_to"},
		{"too many rings", func(f *poolForm) { f.Rings = "11" }, 3, 3, "rings"},
		{"a mistake on step 2 found on step 3", func(f *poolForm) { f.SwapTarget = "call us" }, 3, 2, "swap_target"},
		{"a website that is no origin", func(f *poolForm) { f.AllowedOrigins = "https://shop.example\nshop.example" }, 2, 2, "allowed_origins"},
		{"websites as typed", func(f *poolForm) { f.AllowedOrigins = " https://Shop.example/ \r\n\nhttp://localhost:8080\n" }, 2, 0, ""},
		{"step 4 is not checked on step 3", func(f *poolForm) { f.LeadValue = "forty" }, 3, 0, ""},
		{"a lead's value in words", func(f *poolForm) { f.LeadValue = "forty" }, 4, 4, "lead_value"},
		{"a rule shorter than a second", func(f *poolForm) { f.LeadMinDuration = "0" }, 4, 4, "lead_min_duration_s"},
		{"a mistake on step 3 found on step 4", func(f *poolForm) { f.Rings = "0" }, 4, 3, "rings"},
	} {
		f := good
		c.edit(&f)
		step, err := checkSteps(httpapi.Admin{}, f, c.step)
		fe, _ := asFieldError(err)
		switch {
		case c.wantField == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantField != "" && (fe == nil || fe.Field != c.wantField || step != c.wantStep):
			t.Errorf("%s: step %d, %v; want step %d, field %s", c.name, step, err, c.wantStep, c.wantField)
		}
	}
	if !slices.Equal(wizardFields, []string{"tracking", "country", "name", "size", "area_code", "swap_target", "allowed_origins", "forward_to", "rings", "lead_rule", "lead_min_duration_s", "lead_value"}) {
		t.Fatalf("the wizard asks for %v", wizardFields)
	}
}

func TestAPoolsNumbersAreWrittenAsItsCountryDialsThem(t *testing.T) {
	for _, c := range []struct{ country, e164, want string }{
		{"GB", "+442079460999", "020 7946 0999"},
		{"US", "+14155550100", "(415) 555-0100"},
		{"US", "+14165550100", "(416) 555-0100"}, // Canada dials as the US does
		{"US", "+442079460999", "+44 20 7946 0999"},
		{"DE", "+442079460999", "+44 20 7946 0999"},
		{"GB", "+12", "+12"},
	} {
		if got := localPhone(c.country, c.e164); got != c.want {
			t.Errorf("%s in %s: %q, want %q", c.e164, c.country, got, c.want)
		}
	}
}

func TestTheCountrySelectOffersThePoolsOwnCountry(t *testing.T) {
	codes := func(cs []countryChoice) (all []string, selected []string) {
		for _, c := range cs {
			all = append(all, c.Code)
			if c.Selected {
				selected = append(selected, c.Code)
			}
		}
		return all, selected
	}
	if all, sel := codes(countryChoices("GB")); !slices.Equal(all, []string{"US", "CA", "GB", "AU", "DE"}) || !slices.Equal(sel, []string{"GB"}) {
		t.Errorf("for GB: %v, %v selected", all, sel)
	}
	if all, sel := codes(countryChoices("FR")); len(all) != 6 || all[5] != "FR" || !slices.Equal(sel, []string{"FR"}) {
		t.Errorf("for a pool the API put in France: %v, %v selected", all, sel)
	}
}

func TestEveryTemplateParsesAndEveryRouteHasAHandler(t *testing.T) {
	p := &pages{}
	p.tmpl = parseTemplates()
	for _, name := range []string{"login.html", "error.html", "pools.html", "pool.html", "wizard.html", "edit.html", "delete.html", "simulated.html", "call.html", "calls.html", "campaigns.html", "cluster.html", "demo.html", "webhooks.html", "webhook.html", "webhook-delete.html"} {
		if p.tmpl[name] == nil {
			t.Errorf("no template %s", name)
		}
	}
	for _, r := range p.routesTable() {
		if r.handle == nil {
			t.Errorf("%s %s has no handler", r.method, r.pattern)
		}
	}
	if st := loadStatic(); st["admin.js"].contentType != "text/javascript; charset=utf-8" || st["admin.css"].contentType != "text/css; charset=utf-8" {
		t.Errorf("static files %v", st)
	}
}

// FuzzReadSession feeds the session reader cookies as anyone can send
// them: it never panics, and accepts only what this cluster signed.
func FuzzReadSession(f *testing.F) {
	p := &pages{key: []byte("a key from the cluster secret")}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	signed := p.newSession("tok_0123456789ab", now).value
	f.Add(signed)
	f.Add("v1.tok_0123456789ab.1795780800.AAAA.sig")
	f.Add("v2.tok_0123456789ab.1795780800000.1795824000.AAAA.sig")
	f.Add("")
	f.Fuzz(func(t *testing.T, cookie string) {
		// Only sessions for this token were ever signed (the nonce differs
		// in each fuzzing process).
		s, ok := p.readSession(cookie, now)
		if ok && (s.tokenID != "tok_0123456789ab" || !strings.HasPrefix(cookie, "v2.tok_0123456789ab.")) {
			t.Fatalf("accepted %q as %+v", cookie, s)
		}
	})
}
