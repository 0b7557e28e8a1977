package httpapi

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"
)

// A handler that panics costs its request a 500, counted and logged, and
// nothing else: the node goes on serving.
func TestAPanickingHandlerIsAnswered500AndCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(nil, Options{Registry: reg, Gatherer: reg})
	s.router.add(fasthttp.MethodGet, "/v1/boom", publicAccess, func(*fasthttp.RequestCtx, []string) { panic("boom") })
	for i := range 2 {
		var req fasthttp.Request
		req.SetRequestURI("/v1/boom")
		var rc fasthttp.RequestCtx
		rc.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}, nil)
		s.Handler()(&rc)
		var e errorBody
		if rc.Response.StatusCode() != 500 || json.Unmarshal(rc.Response.Body(), &e) != nil || e.Error == "" {
			t.Fatalf("request %d: %d %s", i, rc.Response.StatusCode(), rc.Response.Body())
		}
	}
	var m dto.Metric
	if err := s.metrics.panics.Write(&m); err != nil || m.GetCounter().GetValue() != 2 {
		t.Fatalf("dni_http_panics_total = %v (%v), want 2", m.GetCounter().GetValue(), err)
	}
}
