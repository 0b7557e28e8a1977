package httpapi_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision/standin"
)

// phoneLine is a cluster wired to Twilio as in production, with the
// stand-in in Twilio's place: the leader's reconciler buys numbers through
// the real twilio-go client, and the stand-in sends each call's webhooks,
// signed, to the public URL: a load balancer in front of the nodes.
type phoneLine struct {
	*testkit.Cluster
	lb *balancer
}

// startPhoneLine starts size nodes on one Twilio stand-in, behind the
// balancer, with opt besides.
func startPhoneLine(t testing.TB, size int, opt testkit.Options) *phoneLine {
	t.Helper()
	lb := startBalancer(t)
	opt.Sandbox, opt.PublicURL = true, lb.url
	pl := &phoneLine{testkit.StartCluster(t, size, opt), lb}
	for _, n := range pl.Running() {
		lb.add(n.URL)
	}
	return pl
}

// activePool creates a pool and waits until the reconciler has bought its
// numbers.
func (pl *phoneLine) activePool(a *testAPI, fields map[string]any) poolReply {
	pl.T.Helper()
	p := a.createPool(fields)
	testkit.Eventually(pl.T, "the pool to get its numbers", func() bool { return a.pool(p.ID).Status == "active" })
	return a.pool(p.ID)
}

// call places a call through the stand-in and waits until it is over.
func (pl *phoneLine) call(to, from string) standin.CallTrace {
	pl.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Patience)
	defer cancel()
	sid, err := pl.Sandbox.PlaceCall(ctx, to, from)
	if err != nil {
		pl.T.Fatalf("place a call to %s: %v", to, err)
	}
	trace, err := pl.Sandbox.WaitCall(ctx, sid)
	if err != nil {
		pl.T.Fatalf("call %s: %v", sid, err)
	}
	return trace
}

// balancer stands for the load balancer at the public URL: it sends each
// request to the next node that takes the connection, keeping the Host
// header, as a TCP or HTTP balancer in front of the cluster would.
type balancer struct {
	url      string
	mu       sync.Mutex
	backends []string
	next     atomic.Int64
}

func startBalancer(t testing.TB) *balancer {
	b := &balancer{}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *balancer) add(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, backend)
}

func (b *balancer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	backends := slices.Clone(b.backends)
	b.mu.Unlock()
	start := int(b.next.Add(1))
	for i := range backends {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, backends[(start+i)%len(backends)]+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		req.Host = r.Host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // that node is down: the next one
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return
	}
	http.Error(w, "no node answers", http.StatusBadGateway)
}

// wantWellFormedTwiML checks that every answer dni gave the call is XML.
func wantWellFormedTwiML(t testing.TB, trace standin.CallTrace) {
	t.Helper()
	for _, h := range trace.Requests {
		if h.StatusCode != http.StatusOK {
			t.Errorf("%s webhook answered HTTP %d: %s", h.Kind, h.StatusCode, h.Body)
			continue
		}
		d := xml.NewDecoder(strings.NewReader(h.Body))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Errorf("%s webhook answered malformed TwiML: %v: %s", h.Kind, err, h.Body)
				break
			}
		}
	}
}

func TestACallIsForwardedAfterTheRingsWithAWhisperAndListedWithItsCampaign(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	p := pl.activePool(a, map[string]any{
		"area_code": "415", "rings": 3, "whisper": true, "forward_to": []string{"+14155550100", "+14155550111"},
	})
	r := a.Admin("GET", "/v1/pools/"+p.ID+"/numbers", nil)
	wantStatus(t, r, http.StatusOK)
	if bytes.Count(r.Body, []byte(`"number":"+1415`)) != p.Size {
		t.Fatalf("the pool's numbers are not all in area code 415: %s", r.Body)
	}
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=" + adClick})

	trace := pl.call(v.Number, "+12125550123")
	wantWellFormedTwiML(t, trace)
	if trace.Status != standin.StatusCompleted || trace.AnsweredBy != "+14155550100" {
		t.Fatalf("call ended %s, answered by %q; want completed by the first forwarding number: %+v", trace.Status, trace.AnsweredBy, trace)
	}
	if !slices.Equal(trace.DialTimeouts, []int{18}) {
		t.Errorf("dial timeouts %v, want [18] (3 rings of 6 s)", trace.DialTimeouts)
	}
	if !slices.Equal(trace.Whisper, []string{"Call from Google Ads"}) {
		t.Errorf("the agent heard %q, want [Call from Google Ads]", trace.Whisper)
	}
	var kinds []string
	for _, h := range trace.Requests {
		kinds = append(kinds, h.Kind)
		if h.Latency > time.Second {
			t.Errorf("the %s webhook took %v", h.Kind, h.Latency)
		}
	}
	if !slices.Equal(kinds, []string{"voice", "whisper", "action", "status"}) {
		t.Errorf("webhooks called: %v", kinds)
	}

	var call callReply
	testkit.Eventually(t, "the call to be completed in its record", func() bool {
		calls := a.calls("").Calls
		if len(calls) == 1 {
			call = calls[0]
		}
		return call.Status == "completed"
	})
	if call.SID != trace.SID || call.Match != "live" || call.Visit != v.Visit || call.Pool != p.ID ||
		call.Attribution["utm_campaign"] != "spring" || call.Attribution["gclid"] != adClick ||
		call.From != "+12125550123" || call.AnsweredBy != "+14155550100" || call.DurationS != trace.DurationS ||
		call.Whisper != "Call from Google Ads" {
		t.Fatalf("recorded call %+v does not match the call made (%+v) from visit %s", call, trace, v.Visit)
	}
}

func TestAnUnansweredForwardingNumberHandsTheCallToTheNext(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	p := pl.activePool(a, map[string]any{"rings": 2, "whisper": false, "forward_to": []string{"+14155550100", "+14155550111"}})
	pl.Sandbox.SetFaults(standin.Faults{Callees: map[string]standin.Callee{"+14155550100": {Answer: standin.CalleeNoAnswer}}})
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example/?utm_source=facebook&utm_medium=social"})

	trace := pl.call(v.Number, "+12125550124")
	wantWellFormedTwiML(t, trace)
	if !slices.Equal(trace.Dialed, []string{"+14155550100", "+14155550111"}) || trace.AnsweredBy != "+14155550111" {
		t.Fatalf("dialed %v, answered by %q; want both, the second answering", trace.Dialed, trace.AnsweredBy)
	}
	if !slices.Equal(trace.DialTimeouts, []int{12, 12}) {
		t.Errorf("dial timeouts %v, want [12 12]", trace.DialTimeouts)
	}
	if len(trace.Whisper) != 0 {
		t.Errorf("a pool without whisper whispered %q", trace.Whisper)
	}
	testkit.Eventually(t, "the call to be recorded as answered by the second number", func() bool {
		calls := a.calls("").Calls
		return len(calls) == 1 && calls[0].AnsweredBy == "+14155550111" && calls[0].Channel == "Facebook Organic"
	})
}

func TestWhatAVisitorSentIsNeverMarkupInTheWhisper(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	p := pl.activePool(a, map[string]any{"whisper": true})
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example/?utm_source=%3CPlay%3Ehttp://evil/x.mp3%3C/Play%3E&utm_campaign=%3Cscript%3Ealert(1)%3C/script%3E"})

	trace := pl.call(v.Number, "+12125550125")
	wantWellFormedTwiML(t, trace)
	for _, h := range trace.Requests {
		if strings.Contains(h.Body, "<Play") || strings.Contains(h.Body, "<script") {
			t.Fatalf("the %s webhook's TwiML carries the visitor's markup: %s", h.Kind, h.Body)
		}
	}
	if len(trace.Whisper) != 1 || !strings.HasPrefix(trace.Whisper[0], "Call from ") || strings.ContainsAny(trace.Whisper[0], "<>/:") {
		t.Fatalf("the agent heard %q", trace.Whisper)
	}
}

func TestAWebhookWithoutAValidTwilioSignatureIsRefused(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	p := pl.activePool(a, nil)
	r := a.Admin("GET", "/v1/pools/"+p.ID+"/numbers", nil)
	var numbers struct {
		Numbers []struct {
			Number string `json:"number"`
		} `json:"numbers"`
	}
	r.Decode(t, &numbers)
	form := url.Values{"CallSid": {"CA0123456789abcdef0123456789abcdef"}, "From": {"+12125550126"}, "To": {numbers.Numbers[0].Number}, "CallStatus": {"ringing"}}
	body := form.Encode()
	token := pl.Sandbox.AuthToken()
	for _, path := range []string{"/twilio/voice", "/twilio/fallback", "/twilio/dial?step=0", "/twilio/whisper?call=CA1&to=%2B14155550100", "/twilio/status"} {
		for _, c := range []struct {
			name, signature string
		}{
			{"no signature", ""},
			{"a made-up signature", "c2lnbmF0dXJl"},
			{"signed for another URL", standin.Sign(token, "https://elsewhere.example"+path, form)},
			{"signed with another token", standin.Sign("0000000000000000ffffffffffffffff", pl.lb.url+path, form)},
			{"signed over other parameters", standin.Sign(token, pl.lb.url+path, url.Values{"CallSid": {"CA2"}})},
		} {
			r := a.Send("POST", path, body, "Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", c.signature)
			wantProblem(t, r, http.StatusForbidden, "")
		}
	}
	// The same request, signed for the public URL, is answered.
	r = a.Send("POST", "/twilio/voice", body, "Content-Type", "application/x-www-form-urlencoded",
		"X-Twilio-Signature", standin.Sign(token, pl.lb.url+"/twilio/voice", form))
	wantStatus(t, r, http.StatusOK)
	if !bytes.Contains(r.Body, []byte("<Dial")) {
		t.Fatalf("a signed call was not forwarded: %s", r.Body)
	}
}

func TestCallsDuringALeaderElectionAreAnsweredAndRecorded(t *testing.T) {
	pl := startPhoneLine(t, 3, testkit.Options{})
	leader, followers := api(t, pl.Leader()), pl.Followers()
	p := pl.activePool(leader, map[string]any{"size": 10})
	var visits []visitReply
	for range 10 {
		visits = append(visits, leader.visit(p.Key, map[string]any{"url": "https://shop.example/?utm_campaign=election&gclid=" + adClick}))
	}
	pl.EnsureSame()

	// Calls keep coming while the leader dies and the others elect a new one.
	var traces []standin.CallTrace
	for i := range 30 {
		if i == 5 {
			pl.Kill(leader.ID)
		}
		traces = append(traces, pl.call(visits[i%len(visits)].Number, "+12125550200"))
		time.Sleep(20 * time.Millisecond)
	}
	for _, trace := range traces {
		wantWellFormedTwiML(t, trace)
		if trace.Status != standin.StatusCompleted || trace.AnsweredBy != "+14155550100" {
			t.Errorf("call %s during the election ended %s, answered by %q: %+v", trace.SID, trace.Status, trace.AnsweredBy, trace.Requests)
		}
		for _, h := range trace.Requests {
			if h.Latency > time.Second {
				t.Errorf("call %s: the %s webhook took %v", trace.SID, h.Kind, h.Latency)
			}
		}
	}
	// Every call is recorded, with its visit, on both nodes left.
	for _, n := range followers {
		a := api(t, n)
		testkit.Eventually(t, "every call to be recorded on "+a.ID, func() bool {
			done := 0
			for _, c := range a.calls("").Calls {
				if c.Status == "completed" && c.Match == "live" && c.Attribution["utm_campaign"] == "election" {
					done++
				}
			}
			return done == len(traces)
		})
	}
}

// BenchmarkCallWebhooks places simulated calls through the stand-in, 32 at a
// time, against three nodes behind the balancer, and reports how fast dni
// answers Twilio: every webhook of every call (voice, whisper, dial
// action, status), as calls per second and latency percentiles.
func BenchmarkCallWebhooks(b *testing.B) {
	pl := startPhoneLine(b, 3, testkit.Options{Config: asInProduction, Unchecked: true})
	leader := api(b, pl.Leader())
	p := pl.activePool(leader, map[string]any{"size": 50, "whisper": true})
	var numbers []string
	for i := range 50 {
		numbers = append(numbers, leader.visit(p.Key, map[string]any{"url": fmt.Sprintf("https://shop.example/?utm_campaign=c%d&gclid=%s%03d", i%5, adClick[:80], i)}).Number)
	}
	pl.EnsureSame()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		voice     []time.Duration
		failed    atomic.Int64
		next      atomic.Int64
	)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			ctx := context.Background()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				sid, err := pl.Sandbox.PlaceCall(ctx, numbers[i%int64(len(numbers))], "+12125550300")
				if err != nil {
					failed.Add(1)
					continue
				}
				trace, err := pl.Sandbox.WaitCall(ctx, sid)
				if err != nil || trace.Status != standin.StatusCompleted {
					failed.Add(1)
					continue
				}
				mu.Lock()
				for _, h := range trace.Requests {
					latencies = append(latencies, h.Latency)
					if h.Kind == "voice" {
						voice = append(voice, h.Latency)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d calls failed", failed.Load(), b.N)
	}
	slices.Sort(latencies)
	slices.Sort(voice)
	pct := func(d []time.Duration, q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(pct(latencies, 0.50), "webhook-p50-ms")
	b.ReportMetric(pct(latencies, 0.99), "webhook-p99-ms")
	b.ReportMetric(pct(voice, 0.99), "voice-p99-ms")
}
