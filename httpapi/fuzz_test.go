package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/provision/standin"
)

// The fuzz node's fixed credentials and records, so that seeds (and
// inputs the fuzzer saves) mean the same in every process.
const (
	fuzzSecret = "fuzz-cluster-secret-0123456789abcdef"
	fuzzToken  = "dni_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	fuzzVisit  = "0123456789abcdef0123456789abcdef"
	// fuzzTwilioToken signs the fuzzer's Twilio webhooks; fuzzPublicURL is
	// where Twilio believes it sends them.
	fuzzTwilioToken = "0123456789abcdef0123456789abcdef"
	fuzzPublicURL   = "https://calls.dni.test"
)

// fuzzTLS is the fuzz node's TLS, from its fixed secret.
func fuzzTLS(f *testing.F) *cluster.TLS {
	t, err := cluster.TLSFromSecret(fuzzSecret, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	return t
}

var fuzzRemoteAddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}

// startFuzzNode runs a single-node cluster, quiet, with an admin token, a
// pool pl_fuzz (key pk_fuzz) with four numbers, a visit holding one, a
// call to it, and a second pool pl_gone for a seed to delete. It returns a
// server on it with no cap on visits per address, and a backup of the
// state for the restore seeds.
func startFuzzNode(f *testing.F) (*Server, []byte) {
	f.Helper()
	quiet := slog.New(slog.DiscardHandler)
	node, err := cluster.Start(context.Background(), cluster.Config{
		NodeID: "fuzz", DataDir: filepath.Join(f.TempDir(), "data"), RaftAddr: "127.0.0.1:0",
		HTTPAdvertise: "127.0.0.1:1", HeartbeatTimeout: 200 * time.Millisecond,
		ElectionTimeout: 200 * time.Millisecond, LeaderLease: 100 * time.Millisecond,
		WriteTimeout: 5 * time.Second, ExpireEvery: time.Hour,
		TLS: fuzzTLS(f),
	}, NewClient(&cluster.Dialer{TLS: fuzzTLS(f)}), quiet)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { node.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := EnsureAdminToken(ctx, node, fuzzToken); err != nil {
		f.Fatal(err)
	}
	visit, _ := allocator.ParseVisitID(fuzzVisit)
	settings := allocator.Settings{Name: "Fuzz", Size: 4, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"}, Whisper: true}.WithDefaults()
	now := time.Now()
	for _, cmd := range []fsm.Command{
		&fsm.CreatePool{ID: "pl_fuzz", Key: "pk_fuzz", Settings: settings, At: now},
		&fsm.CreatePool{ID: "pl_gone", Key: "pk_gone", Settings: settings, At: now},
		&fsm.AddNumber{Pool: "pl_fuzz", E164: "+14155550101", Owned: true, At: now},
		&fsm.AddNumber{Pool: "pl_fuzz", E164: "+14155550102", Owned: true, At: now},
		&fsm.AddNumber{Pool: "pl_fuzz", E164: "+14155550103", Owned: true, At: now},
		&fsm.AddNumber{Pool: "pl_fuzz", E164: "+14155550104", Owned: true, At: now},
		&fsm.Assign{Visit: visit, PoolKey: "pk_fuzz", Attribution: allocator.Attribution{Source: "google", Campaign: "spring"}, At: now},
		&fsm.RecordCall{SID: "CAfuzz", To: "+14155550101", From: "+12125550001", At: now},
	} {
		r, err := node.Commit(ctx, cmd)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			f.Fatalf("%T: %v", cmd, err)
		}
	}
	var backup bytes.Buffer
	if err := node.Backup(ctx, &backup); err != nil {
		f.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	return New(node, Options{
		Secret: fuzzSecret, VisitsPerMinute: -1, Registry: reg, Gatherer: reg, Log: quiet,
		Telephony: Telephony{PublicURL: fuzzPublicURL, AuthToken: fuzzTwilioToken},
	}), backup.Bytes()
}

// fuzzSeed is a valid request for one route.
type fuzzSeed struct {
	path string // with its query, if any
	body []byte
}

// routeSeeds gives a valid request for each route, by "METHOD /pattern".
func routeSeeds(backup []byte) map[string]fuzzSeed {
	visit, _ := allocator.ParseVisitID(fuzzVisit)
	touch := fsm.Encode(&fsm.Touch{Visits: []allocator.VisitID{visit}, At: time.Now()})
	call := fsm.Encode(&fsm.UpdateCall{SID: "CAfuzz", Status: allocator.CallCompleted, Duration: time.Minute, At: time.Now()})
	join := []byte(`{"id":"n2","raft_addr":"127.0.0.1:2","http_addr":"127.0.0.1:3","voter":true}`)
	s := func(path, body string) fuzzSeed { return fuzzSeed{path, []byte(body)} }
	return map[string]fuzzSeed{
		"GET /healthz":      s("/healthz", ""),
		"HEAD /healthz":     s("/healthz", ""),
		"GET /readyz":       s("/readyz", ""),
		"HEAD /readyz":      s("/readyz", ""),
		"GET /metrics":      s("/metrics", ""),
		"GET /openapi.json": s("/openapi.json", ""),
		"GET /dni.js":       s("/dni.js", ""),
		"HEAD /dni.js":      s("/dni.js", ""),

		"POST /v1/visits":                   s("/v1/visits", `{"pool":"pk_fuzz","url":"https://shop.example/?utm_source=google&utm_campaign=spring&gclid=G","referrer":"https://www.google.com/","utm_term":"t"}`),
		"POST /v1/visits/{visit}/heartbeat": s("/v1/visits/"+fuzzVisit+"/heartbeat", ""),

		"POST /v1/pools":                             s("/v1/pools", `{"name":"Ads","size":4,"swap_target":"(415) 555-0100","forward_to":["+14155550100"],"tracking":"gclid","overflow":"none","rings":3,"idle_timeout_s":120,"attribution_window_s":600,"whisper":false,"area_code":"415","allocation":"random"}`),
		"GET /v1/pools":                              s("/v1/pools?deleted=true", ""),
		"GET /v1/pools/{id}":                         s("/v1/pools/pl_fuzz", ""),
		"PATCH /v1/pools/{id}":                       s("/v1/pools/pl_fuzz", `{"name":"Renamed","size":5,"idle_timeout_s":300}`),
		"DELETE /v1/pools/{id}":                      s("/v1/pools/pl_gone", ""),
		"GET /v1/pools/{id}/numbers":                 s("/v1/pools/pl_fuzz/numbers", ""),
		"POST /v1/pools/{id}/numbers":                s("/v1/pools/pl_fuzz/numbers", `{"numbers":["+14155550105","+14155550106"]}`),
		"DELETE /v1/pools/{id}/numbers/{number}":     s("/v1/pools/pl_fuzz/numbers/+14155550104", ""),
		"GET /v1/pools/{id}/visits":                  s("/v1/pools/pl_fuzz/visits", ""),
		"GET /v1/calls":                              s("/v1/calls?pool=pl_fuzz&source=google&campaign=spring&from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z&limit=1&cursor=1", ""),
		"GET /v1/reports/calls":                      s("/v1/reports/calls?group=source,campaign&from=2020-01-01T00:00:00Z", ""),
		"GET /v1/calls/{sid}":                        s("/v1/calls/CAfuzz", ""),
		"PATCH /v1/calls/{sid}":                      s("/v1/calls/CAfuzz", `{"outcome":"sale","value":"1,250.50","currency":"USD","note":"n"}`),
		"GET /v1/reports/campaigns":                  s("/v1/reports/campaigns?source=google&from=2020-01-01T00:00:00Z&format=csv", ""),
		"GET /v1/spend":                              s("/v1/spend?from=2026-01-01&to=2026-12-31", ""),
		"POST /v1/spend":                             s("/v1/spend", `{"spend":[{"day":"2026-12-01","source":"google","medium":"cpc","campaign":"spring","cost":12.5}]}`),
		"DELETE /v1/spend":                           s("/v1/spend?day=2026-12-01&source=google&medium=cpc&campaign=spring", ""),
		"GET /v1/webhooks":                           s("/v1/webhooks", ""),
		"POST /v1/webhooks":                          s("/v1/webhooks", `{"name":"crm","url":"https://crm.example/hooks","enabled":true}`),
		"GET /v1/webhooks/{id}":                      s("/v1/webhooks/wh_fuzz", ""),
		"PATCH /v1/webhooks/{id}":                    s("/v1/webhooks/wh_fuzz", `{"enabled":false,"secret":"whsec_0123456789abcdef"}`),
		"DELETE /v1/webhooks/{id}":                   s("/v1/webhooks/wh_fuzz", ""),
		"GET /v1/settings/marketing":                 s("/v1/settings/marketing", ""),
		"GET /v1/settings/voicemail":                 s("/v1/settings/voicemail", ""),
		"PATCH /v1/settings/voicemail":               s("/v1/settings/voicemail", `{"on":true,"greeting":"Leave a message.","max_length_s":60}`),
		"PATCH /v1/settings/marketing":               s("/v1/settings/marketing", `{"currency":"USD","google_conversion":"Calls"}`),
		"GET /v1/conversions/google.csv":             s("/v1/conversions/google.csv", ""),
		"GET /v1/conversions/google-adjustments.csv": s("/v1/conversions/google-adjustments.csv", ""),
		"GET /v1/conversions/microsoft.csv":          s("/v1/conversions/microsoft.csv", ""),
		"GET /v1/cluster":                            s("/v1/cluster", ""),
		"POST /v1/cluster/nodes":                     {"/v1/cluster/nodes", join},
		"DELETE /v1/cluster/nodes/{id}":              s("/v1/cluster/nodes/n2", ""),
		"POST /v1/cluster/leader":                    s("/v1/cluster/leader", `{"id":"fuzz"}`),
		"GET /v1/cluster/snapshot":                   s("/v1/cluster/snapshot", ""),
		"POST /v1/cluster/restore":                   {"/v1/cluster/restore", backup},
		"POST /v1/sandbox/calls":                     s("/v1/sandbox/calls", `{"to":"+14155550101","from":"+12125550001"}`),
		"GET /v1/tokens":                             s("/v1/tokens", ""),
		"GET /v1/calls/{sid}/recordings/{rec}/audio": s("/v1/calls/CAfuzz/recordings/RE0123456789abcdef0123456789abcdef/audio", ""),
		"DELETE /v1/calls/{sid}/recordings/{rec}":    s("/v1/calls/CAfuzz/recordings/RE0123456789abcdef0123456789abcdef", ""),
		"POST /v1/tokens":                            s("/v1/tokens", `{"name":"reporting"}`),
		"DELETE /v1/tokens/{id}":                     s("/v1/tokens/tok_000000000000", ""),

		"POST /twilio/voice":     s("/twilio/voice", "CallSid=CAfuzz2&AccountSid=ACfuzz&From=%2B12125550002&To=%2B14155550101&CallStatus=ringing&Direction=inbound"),
		"POST /twilio/fallback":  s("/twilio/fallback", "CallSid=CAfuzz2&From=%2B12125550002&To=%2B14155550101&CallStatus=ringing&ErrorCode=11200&ErrorUrl=x"),
		"POST /twilio/dial":      s("/twilio/dial?step=0&dialed=%2B14155550100&at=1800000000000", "CallSid=CAfuzz2&From=%2B12125550002&To=%2B14155550101&DialCallStatus=no-answer"),
		"POST /twilio/whisper":   s("/twilio/whisper?call=CAfuzz&to=%2B14155550101&at=1800000000000", "CallSid=CAchild&ParentCallSid=CAfuzz&CallStatus=in-progress"),
		"POST /twilio/status":    s("/twilio/status", "CallSid=CAfuzz&CallStatus=completed&CallDuration=42"),
		"POST /twilio/voicemail": s("/twilio/voicemail?call=CAfuzz", "CallSid=CAfuzz&RecordingSid=RE0123456789abcdef0123456789abcdef&RecordingDuration=12&Digits=hangup"),
		"POST /twilio/recording": s("/twilio/recording?call=CAfuzz&kind=voicemail",
			"CallSid=CAfuzz&RecordingSid=RE0123456789abcdef0123456789abcdef&RecordingStatus=completed&RecordingDuration=12"),
		"POST /twilio/transcription": s("/twilio/transcription?call=CAfuzz",
			"CallSid=CAfuzz&RecordingSid=RE0123456789abcdef0123456789abcdef&TranscriptionStatus=completed&TranscriptionText=call+me"),

		"POST /internal/v1/apply":          {"/internal/v1/apply", touch},
		"POST /internal/v1/commands":       {"/internal/v1/commands", call},
		"POST /internal/v1/join":           {"/internal/v1/join", join},
		"GET /internal/v1/status":          s("/internal/v1/status", ""),
		"GET /internal/v1/members":         s("/internal/v1/members", ""),
		"POST /internal/v1/members":        {"/internal/v1/members", join},
		"DELETE /internal/v1/members/{id}": s("/internal/v1/members/n2", ""),
		"POST /internal/v1/leader":         s("/internal/v1/leader", `{}`),
		"GET /internal/v1/backup":          s("/internal/v1/backup", ""),
		"POST /internal/v1/sandbox/calls":  s("/internal/v1/sandbox/calls", `{"to":"+14155550101"}`),
		"POST /internal/v1/restore":        {"/internal/v1/restore", backup},
	}
}

// addsANode reports whether a request would really add a node: the fuzz
// node would then wait for a voter that does not exist, and every later
// write would time out. Such requests are left out.
func addsANode(s *Server, method, path, body []byte) bool {
	r, _, _ := s.router.find(method, path)
	if r == nil || r.method != fasthttp.MethodPost ||
		r.pattern != "/v1/cluster/nodes" && r.pattern != "/internal/v1/join" && r.pattern != "/internal/v1/members" {
		return false
	}
	var req cluster.JoinRequest
	return json.Unmarshal(body, &req) == nil && req.ID != "" && req.RaftAddr != "" && req.HTTPAddr != ""
}

// FuzzRouter feeds the server any method, path, Content-Type,
// Authorization, cluster secret and body. Whatever it gets, it must not
// panic, must answer a client's mistake with a 4xx (a 5xx other than 503,
// the cluster being unavailable, is a server fault), and every JSON answer
// must parse, an error's with its message.
func FuzzRouter(f *testing.F) {
	s, backup := startFuzzNode(f)
	seeds := routeSeeds(backup)
	routes := routedRoutes()
	for _, key := range slices.Sorted(maps.Keys(routes)) {
		r := routes[key]
		seed, ok := seeds[key]
		if !ok {
			f.Fatalf("no seed for %s: add one", key)
		}
		auth, trusted := "", false
		switch r.access {
		case adminAccess:
			auth = "Bearer " + fuzzToken
		case exportAccess:
			auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("google:"+fuzzToken))
		case internalAccess:
			trusted = true
		}
		contentType := "application/json"
		switch r.access {
		case visitorAccess:
			contentType = "text/plain;charset=UTF-8"
		case twilioAccess:
			contentType, trusted = "application/x-www-form-urlencoded", true
		}
		f.Add(r.method, seed.path, contentType, auth, trusted, seed.body)
	}
	f.Add("OPTIONS", "/v1/visits", "", "", false, []byte(nil))
	f.Add("PUT", "/v1/pools/pl_fuzz", "application/json", "Bearer "+fuzzToken, false, []byte(`{}`))
	f.Add("GET", "/v1/nothing/../pools?x=%zz", "", "Bearer wrong", true, []byte(nil))

	public, internal := s.Handler(), s.InternalHandler()
	f.Fuzz(func(t *testing.T, method, uri, contentType, authorization string, trusted bool, body []byte) {
		var req fasthttp.Request
		req.Header.SetMethod(method)
		req.SetRequestURI(uri)
		req.Header.SetContentType(contentType)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		handle := public
		if trusted {
			// A trusted request to the internal API comes through the
			// cluster port, which only the cluster's own reach; the same
			// flag signs a Twilio webhook, so the fuzzer reaches the
			// handlers behind the signature.
			if strings.HasPrefix(string(req.URI().Path()), internalPrefix) {
				handle = internal
			}
			form, _ := url.ParseQuery(string(body))
			req.Header.Set("X-Twilio-Signature", standin.Sign(fuzzTwilioToken, fuzzPublicURL+string(req.URI().RequestURI()), form))
		}
		req.SetBody(body)
		if addsANode(s, req.Header.Method(), req.URI().Path(), body) {
			t.Skip("would add a node that does not exist")
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, fuzzRemoteAddr, nil)
		handle(&ctx)

		status := ctx.Response.StatusCode()
		answer := ctx.Response.Body()
		what := func() string {
			return fmt.Sprintf("%s %s (Content-Type %q, Authorization %q, trusted %v, body %q): answered %q",
				req.Header.Method(), req.URI().RequestURI(), contentType, authorization, trusted, firstBytes(body), firstBytes(answer))
		}
		if status >= 500 && status != fasthttp.StatusServiceUnavailable {
			t.Fatalf("HTTP %d for %s", status, what())
		}
		if strings.HasPrefix(string(ctx.Response.Header.ContentType()), "application/json") && !json.Valid(answer) {
			t.Fatalf("an answer that is not JSON for %s", what())
		}
		if status >= 400 {
			var e errorBody
			if json.Unmarshal(answer, &e) != nil || e.Error == "" {
				t.Fatalf("HTTP %d without a JSON error for %s", status, what())
			}
		}
	})
}

func firstBytes(b []byte) []byte {
	const max = 400
	return b[:min(len(b), max)]
}
