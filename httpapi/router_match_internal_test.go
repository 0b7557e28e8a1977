package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestMatchSegments(t *testing.T) {
	pat := strings.Split("/v1/visits/{visit}/heartbeat", "/")
	for path, want := range map[string]bool{
		"/v1/visits/abc/heartbeat": true, "/v1/visits//heartbeat": false, "/v1/visits/abc/heartbeat/": false,
		"/v1/visits/abc": false, "/v1/visits/abc/heartbeat/x": false, "/v1/visits/a/b/heartbeat": false,
	} {
		p, ok := match(pat, path)
		if ok != want {
			t.Errorf("%s: %v %v", path, ok, p)
		}
	}
}

func TestVisitAnswersEncodeAsEncodingJSONWould(t *testing.T) {
	f := false
	for _, a := range []visitAnswer{
		{Visit: "0123456789abcdef0123456789abcdef", Number: "+14155550123", Display: "(415) 555-0123", Target: "Call <us> & \"win\" \\ \u2028 \x01 \xff é", HeartbeatS: 60},
		{Swap: &f, Reason: reasonPoolFull},
		{Visit: "v", Swap: &f, Reason: reasonPoolFull, HeartbeatS: 60},
		{Visit: "0123456789abcdef0123456789abcdef", Number: "+442079460100", Display: "020 7946 0100", Target: "+44 (0)20 7946 0018",
			HeartbeatS: 60, TargetDigits: "2079460018", CountryCode: "44", TrunkPrefix: "0", Digits: "2079460100", International: "+44 20 7946 0100"},
	} {
		want, _ := json.Marshal(a)
		rc := &fasthttp.RequestCtx{}
		writeVisitAnswer(rc, 200, &a)
		if got := strings.TrimSpace(string(rc.Response.Body())); got != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}
