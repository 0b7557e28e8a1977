package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

func TestAPoolOfAnyCountryTakesItsNumbersInTheLayoutsItsPeopleWrite(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for _, c := range []struct {
		country, target, forward, wantForward string
		numbers                               []string
		display                               string
	}{
		{"GB", "+44 (0)20 7946 0018", "020 7946 0999", "+442079460999", []string{"+442079460100", "+442079460101", "+442079460102", "+442079460103"}, "020 7946 01"},
		{"AU", "(02) 9374 4000", "02 9374 4999", "+61293744999", []string{"+61255501100", "+61255501101", "+61255501102", "+61255501103"}, "(02) 5550 110"},
		{"DE", "030 1234567", "+49 (0)30 1234999", "+49301234999", []string{"+49301234100", "+49301234101", "+49301234102", "+49301234103"}, "030 1234"},
		{"CA", "(416) 555-0100", "416.555.0199", "+14165550199", []string{"+14165550110", "+14165550111", "+14165550112", "+14165550113"}, "(416) 555-011"},
	} {
		p := a.createPool(map[string]any{"country": c.country, "swap_target": c.target, "forward_to": []string{c.forward}}, c.numbers...)
		if p.Country != c.country || p.SwapTarget != c.target || !slices.Equal(p.ForwardTo, []string{c.wantForward}) {
			t.Errorf("%s: pool %s, %q, forwarding to %v; want %s stored as E.164", c.country, p.Country, p.SwapTarget, p.ForwardTo, c.wantForward)
		}
		v := a.visit(p.Key, nil)
		if !slices.Contains(c.numbers, v.Number) || len(v.Display) < len(c.display) || v.Display[:len(c.display)] != c.display || v.Target != c.target {
			t.Errorf("%s: the visit got %s shown as %q (target %q); want one of the pool's numbers as %s writes it", c.country, v.Number, v.Display, v.Target, c.country)
		}
	}
	// A pool's country reads a forwarding number's national layout; the
	// same digits are no number in another country.
	r := a.Admin("POST", "/v1/pools", poolRequest(map[string]any{"country": "DE", "swap_target": "030 1234567", "forward_to": []string{"020 7946 0999"}}))
	wantProblem(t, r, http.StatusBadRequest, "forward_to")
	// Changing a pool's country checks its swap target against the new one.
	p := a.createPool(map[string]any{"country": "GB", "swap_target": "020 7946 0018", "forward_to": []string{"+442079460999"}})
	wantProblem(t, a.Admin("PATCH", "/v1/pools/"+p.ID, map[string]any{"country": "US"}), http.StatusBadRequest, "swap_target")
	if got := a.pool(p.ID); got.Country != "GB" {
		t.Errorf("a refused change moved the pool to %s", got.Country)
	}
}

func TestABritishPoolBuysBritishNumbersAndForwardsABritishCall(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	p := pl.activePool(a, map[string]any{
		"country": "GB", "swap_target": "020 7946 0018", "forward_to": []string{"020 7946 0999"}, "whisper": true,
	})
	var numbers struct {
		Numbers []struct{ Number, Display string }
	}
	a.AdminOK("GET", "/v1/pools/"+p.ID+"/numbers", nil, http.StatusOK, &numbers)
	for _, n := range numbers.Numbers {
		if !strings.HasPrefix(n.Number, "+4420") || !strings.HasPrefix(n.Display, "020 ") {
			t.Errorf("the London pool bought %s (%s), want a London number", n.Number, n.Display)
		}
	}
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example.co.uk/?utm_source=google&utm_medium=cpc&utm_campaign=london&gclid=" + adClick})
	if !strings.HasPrefix(v.Number, "+4420") || !strings.HasPrefix(v.Display, "020 7946 ") {
		t.Fatalf("the visit got %s shown as %q", v.Number, v.Display)
	}
	trace := pl.call(v.Number, "+447700900123") // an Ofcom drama mobile number
	if trace.AnsweredBy != "+442079460999" || !slices.Equal(trace.Whisper, []string{"Call from Google Ads"}) {
		t.Fatalf("the call was answered by %q with the whisper %q; want the British forwarding number", trace.AnsweredBy, trace.Whisper)
	}
	var c callReply
	testkit.Eventually(t, "the call recorded", func() bool {
		calls := a.calls("").Calls
		if len(calls) == 1 {
			c = calls[0]
		}
		return c.Status == "completed"
	})
	if c.From != "+447700900123" || c.Visit != v.Visit || c.Attribution["utm_campaign"] != "london" || c.AnsweredBy != "+442079460999" {
		t.Fatalf("recorded %+v", c)
	}
}

func TestAPoolInACountryWhoseRulesNeedABundleSaysSo(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	p := a.createPool(map[string]any{"country": "DE", "swap_target": "030 1234567", "forward_to": []string{"030 1234999"}})
	testkit.Eventually(t, "the pool's notice about Germany's rules", func() bool {
		return strings.Contains(a.pool(p.ID).Notice, "regulatory bundle")
	})
	if got := a.pool(p.ID); got.Stats.Numbers != 0 || got.Status == "active" {
		t.Errorf("the pool has %d numbers and is %s", got.Stats.Numbers, got.Status)
	}
}
