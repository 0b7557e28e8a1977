package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/webhook"
)

const secret = "whsec_test_0123456789abcdef"

// receiver is a CRM's webhook endpoint that verifies each request with
// the documented recipe and answers as answer says for the nth request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	answer   func(n int) int // status; 0 hangs past the sender's timeout
}

type received struct {
	id, kind string
	status   int
	verified error
	call     string
}

func startReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{answer: answer}
	hang := make(chan struct{})
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ev httpapi.Event
		json.Unmarshal(body, &ev)
		r.mu.Lock()
		n := len(r.requests)
		status := r.answer(n)
		r.requests = append(r.requests, received{
			id: req.Header.Get(webhook.HeaderEventID), kind: req.Header.Get(webhook.HeaderEventType), status: status,
			verified: webhook.Verify(secret, req.Header.Get(webhook.HeaderSignature), body, time.Now()), call: ev.Call.SID,
		})
		r.mu.Unlock()
		if status == 0 {
			select {
			case <-hang:
			case <-req.Context().Done():
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(hang); r.Close() })
	return r
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// endedCalls records n calls to a pool's number that end, each an event.
func endedCalls(t *testing.T, n *testkit.Node, count int) []string {
	t.Helper()
	n.CreatePool("p1", 4)
	number := n.Node.State().Pool("p1").Numbers()[0].E164
	var sids []string
	for i := range count {
		sid := "CA" + strings.Repeat("0", 30) + string(rune('a'+i))
		at := time.Now().Add(-11 * time.Second) // it started 11 s ago and ended now
		n.Command(&fsm.RecordCall{SID: sid, To: number, From: "+1212555000" + string(rune('0'+i)), At: at})
		n.Command(&fsm.UpdateCall{SID: sid, Status: allocator.CallCompleted, Duration: 10 * time.Second, At: at.Add(11 * time.Second)})
		sids = append(sids, sid)
	}
	return sids
}

func runSender(t *testing.T, n *testkit.Node, s *webhook.Sender) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, n.Node); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestEventsAreSignedRetriedThroughErrorsAndTimeoutsAndDeliveredWithOneID(t *testing.T) {
	n := testkit.StartNode(t, testkit.Options{})
	// 500 for the first three requests, then no answer for two, then 200.
	r := startReceiver(t, func(i int) int {
		switch {
		case i < 3:
			return http.StatusInternalServerError
		case i < 5:
			return 0
		}
		return http.StatusNoContent
	})
	n.Command(&fsm.SetEndpoint{ID: "crm", URL: r.URL + "/hooks", Secret: secret, Enabled: true, At: time.Now()})
	sids := endedCalls(t, n, 3)

	s := webhook.NewSender(httpapi.EventBody, nil, testkit.Logger(t, "webhooks"))
	s.Timeout, s.RetryMin, s.RetryMax, s.Every = 300*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond, 20*time.Millisecond
	runSender(t, n, s)
	testkit.Eventually(t, "every event delivered", func() bool { return len(n.Node.State().Pending("", 10)) == 0 })

	delivered := map[string]string{} // event id -> call
	for _, g := range r.got() {
		if g.verified != nil {
			t.Errorf("event %s: the signature does not verify: %v", g.id, g.verified)
		}
		if g.kind != "call.ended" || !strings.HasPrefix(g.id, "evt_") {
			t.Errorf("event %q of type %q", g.id, g.kind)
		}
		if c, ok := delivered[g.id]; ok && c != g.call {
			t.Errorf("event %s was sent for two calls, %s and %s", g.id, c, g.call)
		}
		if g.status == http.StatusNoContent || delivered[g.id] == "" {
			delivered[g.id] = g.call
		}
	}
	calls := map[string]bool{}
	for _, c := range delivered {
		calls[c] = true
	}
	if len(delivered) != len(sids) || len(calls) != len(sids) {
		t.Fatalf("events %v for calls %v, want one for each of %v", delivered, calls, sids)
	}
	log := n.Node.State().Endpoints()[0].Log
	results := map[allocator.AttemptResult]int{}
	for _, a := range log {
		results[a.Result]++
	}
	if results[allocator.Delivered] != 3 || results[allocator.Retrying] != 5 {
		t.Errorf("the log has %v, want 3 delivered and 5 retries (3 errors, 2 time-outs): %+v", results, log)
	}
	if len(r.got()) != 8 {
		t.Errorf("the endpoint got %d requests, want 8", len(r.got()))
	}
}

func TestAnEventIsGivenUpOnlyAfterItsRetryWindow(t *testing.T) {
	n := testkit.StartNode(t, testkit.Options{})
	r := startReceiver(t, func(int) int { return http.StatusBadGateway })
	n.Command(&fsm.SetEndpoint{ID: "crm", URL: r.URL, Secret: secret, Enabled: true, At: time.Now()})
	// The window runs from the event, which the call's end makes: start
	// before it, in the whole milliseconds the state keeps times in.
	start := time.Now().Truncate(time.Millisecond)
	endedCalls(t, n, 1)
	s := webhook.NewSender(httpapi.EventBody, nil, testkit.Logger(t, "webhooks"))
	s.RetryMin, s.RetryMax, s.RetryFor, s.Every = 20*time.Millisecond, 40*time.Millisecond, 600*time.Millisecond, 10*time.Millisecond
	runSender(t, n, s)
	testkit.Eventually(t, "the event given up", func() bool { return len(n.Node.State().Pending("", 10)) == 0 })
	log := n.Node.State().Endpoints()[0].Log
	last := log[0]
	if last.Result != allocator.Failed || last.Status != http.StatusBadGateway || last.At.Sub(start) < 600*time.Millisecond {
		t.Fatalf("last attempt %+v, %v after the start; want failed after the 600 ms window", last, last.At.Sub(start))
	}
	if len(log) < 5 {
		t.Errorf("only %d attempts in the window", len(log))
	}
}

func TestARedirectIsNotFollowed(t *testing.T) {
	n := testkit.StartNode(t, testkit.Options{})
	elsewhere := startReceiver(t, func(int) int { return http.StatusOK })
	r := startReceiver(t, func(int) int { return http.StatusOK })
	r.Config.Handler = http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect)
	n.Command(&fsm.SetEndpoint{ID: "crm", URL: r.URL, Secret: secret, Enabled: true, At: time.Now()})
	endedCalls(t, n, 1)
	s := webhook.NewSender(httpapi.EventBody, nil, testkit.Logger(t, "webhooks"))
	s.Every = 10 * time.Millisecond
	runSender(t, n, s)
	testkit.Eventually(t, "an attempt", func() bool { return len(n.Node.State().Endpoints()[0].Log) > 0 })
	if a := n.Node.State().Endpoints()[0].Log[0]; a.Result != allocator.Retrying || a.Status != http.StatusTemporaryRedirect {
		t.Errorf("a redirect: %+v, want a retry with status 307", a)
	}
	if len(elsewhere.got()) != 0 {
		t.Error("the redirect was followed")
	}
}

func TestVerifyRefusesAForgedAChangedOrAStaleRequest(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	now := time.Now()
	h := webhook.Sign(secret, now, body)
	if err := webhook.Verify(secret, h, body, now.Add(time.Minute)); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for _, tc := range []struct {
		what   string
		secret string
		header string
		body   string
		at     time.Time
		want   error
	}{
		{"another secret", "whsec_another_secret_here", h, string(body), now, webhook.ErrBadSignature},
		{"a changed body", secret, h, `{"id":"evt_2"}`, now, webhook.ErrBadSignature},
		{"a replay ten minutes on", secret, h, string(body), now.Add(10 * time.Minute), webhook.ErrStale},
		{"no signature", secret, "", string(body), now, webhook.ErrNoSignature},
		{"garbage", secret, "t=abc,v1=00", string(body), now, webhook.ErrNoSignature},
	} {
		if err := webhook.Verify(tc.secret, tc.header, []byte(tc.body), tc.at); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, err, tc.want)
		}
	}
}
