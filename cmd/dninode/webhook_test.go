package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/webhook"
)

// crm is a receiver of dni's webhooks, as a CRM would run one: it checks
// each request's signature with the documented recipe, and answers as its
// mode says: 500, no answer at all, or 200.
type crm struct {
	srv    *httptest.Server
	secret string

	mu       sync.Mutex
	mode     string
	requests []crmRequest
}

type crmRequest struct {
	id, call, mode string
	verified       error
}

func startCRM(t *testing.T, secret string) *crm {
	c := &crm{secret: secret, mode: "fail"}
	stop := make(chan struct{})
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev httpapi.Event
		json.Unmarshal(body, &ev)
		c.mu.Lock()
		mode := c.mode
		c.requests = append(c.requests, crmRequest{
			id: r.Header.Get(webhook.HeaderEventID), call: ev.Call.SID, mode: mode,
			verified: webhook.Verify(c.secret, r.Header.Get(webhook.HeaderSignature), body, time.Now()),
		})
		c.mu.Unlock()
		switch mode {
		case "fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(func() { close(stop); c.srv.Close() })
	return c
}

func (c *crm) set(mode string) {
	c.mu.Lock()
	c.mode = mode
	c.mu.Unlock()
}

// seen counts the requests answered in a mode.
func (c *crm) seen(mode string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.requests {
		if r.mode == mode {
			n++
		}
	}
	return n
}

func (c *crm) all() []crmRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]crmRequest(nil), c.requests...)
}

func TestWebhookEventsArriveThroughErrorsTimeoutsAndKilledLeaders(t *testing.T) {
	const secret = "whsec_crm_0123456789abcdef"
	receiver := startCRM(t, secret)
	c := testkit.StartProcessCluster(t, 3, func(int) []string {
		return []string{"--webhook-timeout", "300ms", "--webhook-retry-min", "100ms", "--webhook-retry-max", "400ms"}
	})
	c.Command(c.Nodes[0], &fsm.SetEndpoint{ID: "crm", Name: "the CRM", URL: receiver.srv.URL + "/dni", Secret: secret, Enabled: true, At: time.Now()})
	_, cmds := testkit.PoolCommands("calls", 4)
	for _, cmd := range cmds {
		c.Command(c.Nodes[0], cmd)
	}
	number := cmds[1].(*fsm.AddNumber).E164
	var calls []string
	call := func(via []*testkit.Process) {
		sid := fmt.Sprintf("CA%030d", len(calls)+1)
		at := time.Now().Add(-40 * time.Second)
		for _, cmd := range []fsm.Command{
			&fsm.RecordCall{SID: sid, To: number, From: fmt.Sprintf("+1212555%04d", len(calls)), At: at},
			&fsm.UpdateCall{SID: sid, Status: allocator.CallCompleted, Duration: 40 * time.Second, AnsweredBy: "+14155550100", At: time.Now()},
		} {
			if r, err := c.RetryCommand(via, cmd, time.Now().Add(testkit.Patience)); err != nil || r.Err != nil {
				t.Fatalf("%T: %v %v", cmd, err, r.Err)
			}
		}
		calls = append(calls, sid)
	}
	for range 4 {
		call(c.Nodes)
	}

	// The endpoint fails; the leader is killed between attempts.
	testkit.Eventually(t, "attempts answered 500", func() bool { return receiver.seen("fail") >= 6 })
	first := c.Leader()
	first.Kill()
	t.Logf("killed the leader %s after %d failed attempts", first.Name, receiver.seen("fail"))
	call(c.Running())
	call(c.Running())

	// Then it answers nothing; the new leader is killed too.
	receiver.set("hang")
	testkit.Eventually(t, "attempts timed out", func() bool { return receiver.seen("hang") >= 3 })
	second := c.Leader()
	first.Start() // back, so that the two left make a quorum
	first.WaitReady()
	second.Kill()
	t.Logf("killed the leader %s after %d timed-out attempts", second.Name, receiver.seen("hang"))

	// Then it answers; every event arrives.
	receiver.set("ok")
	second.Start()
	second.WaitReady()
	c.WaitMembers(3)
	testkit.Eventually(t, "every event delivered and the queue empty", func() bool {
		return len(c.SameState(c.Nodes).Pending("", 100)) == 0
	})

	idsOfCall := map[string]map[string]bool{}
	deliveredTimes := map[string]int{}
	for _, r := range receiver.all() {
		if r.verified != nil {
			t.Errorf("event %s: the signature does not verify: %v", r.id, r.verified)
		}
		if idsOfCall[r.call] == nil {
			idsOfCall[r.call] = map[string]bool{}
		}
		idsOfCall[r.call][r.id] = true
		if r.mode == "ok" {
			deliveredTimes[r.id]++
		}
	}
	for _, sid := range calls {
		ids := idsOfCall[sid]
		if len(ids) != 1 {
			t.Errorf("call %s came with event ids %v, want one id in every attempt", sid, ids)
		}
		for id := range ids {
			if deliveredTimes[id] == 0 {
				t.Errorf("call %s: its event %s was never answered 200", sid, id)
			}
		}
	}
	repeats := 0
	for _, n := range deliveredTimes {
		repeats += n - 1
	}
	t.Logf("%d events, %d requests (%d answered 500, %d timed out, %d answered 200; %d of those repeats)",
		len(calls), len(receiver.all()), receiver.seen("fail"), receiver.seen("hang"), receiver.seen("ok"), repeats)
}
