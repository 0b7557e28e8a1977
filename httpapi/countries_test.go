package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/dni-dev/dni/httpapi"
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
