package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dni-dev/dni/httpapi"
)

// TestAPoolShowsItsUsageAndAdvice: a pool's JSON carries its usage over a
// week and 30 days and the advisor's size, and /metrics the same per pool.
func TestAPoolShowsItsUsageAndAdvice(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil, numbersFrom(123, 4)...)
	a.visit(p.Key, nil)
	a.visit(p.Key, nil)

	var got struct {
		Usage  map[string]httpapi.PoolUsage `json:"usage"`
		Advice httpapi.PoolAdvice           `json:"advice"`
	}
	a.AdminOK("GET", "/v1/pools/"+p.ID, nil, http.StatusOK, &got)
	for _, w := range []string{"7d", "30d"} {
		u, ok := got.Usage[w]
		if !ok || u.Hours != 1 || u.PeakLiveVisits != 2 || u.PeakNumbers != 4 || u.PeakUtilisation != 0.5 || u.PeakHour == nil {
			t.Errorf("usage over %s: %+v (shown: %v)", w, u, ok)
		}
	}
	if got.Advice.Size != 4 || !strings.HasPrefix(got.Advice.Reason, "Fewer than 24 hours of traffic observed yet (1 so far)") {
		t.Errorf("advice %+v, want to keep 4 for want of data", got.Advice)
	}

	r := a.Send("GET", "/metrics", nil)
	wantStatus(t, r, http.StatusOK)
	body := string(r.Body)
	for _, m := range []struct{ name, labels, value string }{
		{"dni_pool_recommended_size", `{pool="` + p.ID + `"}`, "4"},
		{"dni_pool_peak_utilisation", `{pool="` + p.ID + `",window="7d"}`, "0.5"},
		{"dni_pool_peak_utilisation", `{pool="` + p.ID + `",window="30d"}`, "0.5"},
	} {
		if got, ok := metricLine(body, m.name, m.labels); !ok || got != m.value {
			t.Errorf("%s%s: want %s, got %q", m.name, m.labels, m.value, got)
		}
	}
}
