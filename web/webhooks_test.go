package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/webhook"
)

// webhookJSON is what the tests read of an endpoint through the admin API.
type webhookJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	URL      string `json:"url"`
	Enabled  bool   `json:"enabled"`
	Secret   string `json:"secret"`
	Queued   int    `json:"queued"`
	Attempts []struct {
		Event  string `json:"event"`
		Call   string `json:"call"`
		Status int    `json:"status"`
		Result string `json:"result"`
	} `json:"attempts"`
}

func (n *node) webhooks() []webhookJSON {
	n.t.Helper()
	var out struct{ Webhooks []webhookJSON }
	n.AdminOK("GET", "/v1/webhooks", nil, http.StatusOK, &out)
	return out.Webhooks
}

func (n *node) webhook(id string) webhookJSON {
	n.t.Helper()
	var w webhookJSON
	n.AdminOK("GET", "/v1/webhooks/"+id, nil, http.StatusOK, &w)
	return w
}

// sendWebhooks runs a webhook sender on the node, as dninode does on the
// leader (the test node runs none by itself), retrying soon.
func (n *node) sendWebhooks() {
	s := webhook.NewSender(httpapi.EventBody, nil, testkit.Logger(n.t, "webhooks"))
	s.RetryMin, s.Every = 100*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, n.Node.Node); close(done) }()
	n.t.Cleanup(func() { cancel(); <-done })
}

// endCall records a call to the pool's first number that began a minute
// ago and ends now, answered: an event for every enabled endpoint.
func (n *node) endCall(pl poolJSON, sid, from string) {
	n.t.Helper()
	number := n.Node.Node.State().Pool(pl.ID).Numbers()[0].E164
	began := time.Now().Add(-time.Minute)
	n.Command(&fsm.RecordCall{SID: sid, To: number, From: from, At: began})
	n.Command(&fsm.UpdateCall{SID: sid, Status: allocator.CallCompleted, Duration: 50 * time.Second, AnsweredBy: "+14155550100", At: time.Now()})
}

// crm is a system that takes webhook events: it answers the ith request
// as answer says and keeps each, to check its signature.
type crm struct {
	*httptest.Server
	mu       sync.Mutex
	requests []signedRequest
}

type signedRequest struct {
	signature string
	body      []byte
}

func startCRM(t *testing.T, answer func(i int) int) *crm {
	c := &crm{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		c.mu.Lock()
		i := len(c.requests)
		c.requests = append(c.requests, signedRequest{signature: req.Header.Get(webhook.HeaderSignature), body: body})
		c.mu.Unlock()
		w.WriteHeader(answer(i))
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *crm) got() []signedRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]signedRequest(nil), c.requests...)
}

// wantSignedWith fails the test unless a request verifies with the secret.
func wantSignedWith(t *testing.T, r signedRequest, secret string) {
	t.Helper()
	if err := webhook.Verify(secret, r.signature, r.body, time.Now()); err != nil {
		t.Fatalf("a request signed %q does not verify with the secret the page showed: %v", r.signature, err)
	}
}

func TestAnAdminAddsAWebhookSeesItsSecretOnceAndItsLogShowsARetryThenTheDelivery(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	// The CRM answers 500 first, then holds the retry until the test has
	// seen the log, then answers 200.
	letGo := make(chan struct{})
	receiver := startCRM(t, func(i int) int {
		if i == 0 {
			return http.StatusInternalServerError
		}
		<-letGo
		return http.StatusOK
	})
	var once sync.Once
	release := func() { once.Do(func() { close(letGo) }) }
	t.Cleanup(release) // before the CRM closes, which waits for the request it holds
	n.sendWebhooks()
	tb := newTab(t, n)
	tb.signIn()

	tb.submit(`nav a[href="/admin/webhooks"]`, "#add-webhook")
	tb.waitFor("#no-webhooks")
	tb.shot("webhooks, none yet")

	// A URL that is not http(s) is refused in words naming the field, and
	// nothing is added.
	tb.fill("#webhook-name", "CRM")
	tb.fill("#webhook-url", "ftp://crm.example/hooks")
	tb.submit("#add-webhook-button", "#form-error")
	tb.wantText("#form-error", `^URL: must be an http or https URL without credentials, such as https://crm\.example/hooks/dni; got "ftp://crm\.example/hooks"\. Nothing was added\.$`)
	if got := tb.inputValue("#webhook-name"); got != "CRM" {
		t.Fatalf("after the mistake the name holds %q", got)
	}
	if hooks := n.webhooks(); len(hooks) != 0 {
		t.Fatalf("a refused endpoint was added: %+v", hooks)
	}
	tb.shot("webhooks, a URL that is not http")

	hookURL := receiver.URL + "/hooks/dni"
	tb.fill("#webhook-url", hookURL)
	tb.submit("#add-webhook-button", "#secret")
	secret := tb.inputValue("#secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the page shows the secret %q", secret)
	}
	if !testkit.Eval[bool](tb.Tab, `document.querySelector("#verify").open`) {
		t.Fatal("the recipe to verify a request is closed beside the new secret")
	}
	tb.wantText("#verify", `Dni-Signature`)
	hooks := n.webhooks()
	if len(hooks) != 1 || hooks[0].Name != "CRM" || hooks[0].URL != hookURL || !hooks[0].Enabled {
		t.Fatalf("after the add the endpoints are %+v", hooks)
	}
	id := hooks[0].ID
	tb.shot("webhook added, its secret shown once")

	// The secret is shown once: the endpoint's page does not have it.
	tb.open("/admin/webhooks/" + id)
	tb.waitFor("#log")
	if testkit.Eval[bool](tb.Tab, `document.documentElement.innerHTML.includes(`+strconv.Quote(secret)+`)`) {
		t.Fatal("the endpoint's page shows its secret again")
	}

	// A call ends: the first attempt gets a 500 and is retried.
	n.endCall(pl, "CAhooked", "+12125550101")
	testkit.Eventually(t, "the retry to be under way", func() bool { return len(receiver.got()) >= 2 })
	tb.open("/admin/webhooks/" + id)
	first := "#log tbody tr:last-child"
	tb.wantText(first+" td.result", `^retry$`)
	tb.wantText(first+" td.http-status", `^500$`)
	tb.wantText(first+" td.call", `^CAhooked$`)
	tb.wantText(first+" td.next", ` UTC$`)
	tb.wantText("#waiting td.call", `^CAhooked$`)
	tb.wantText("#waiting td.attempts", `^1$`)
	tb.shot("webhook, a retry after a 500")

	release()
	testkit.Eventually(t, "the event to be delivered", func() bool {
		w := n.webhook(id)
		return len(w.Attempts) > 0 && w.Attempts[0].Result == "delivered"
	})
	tb.open("/admin/webhooks/" + id)
	latest := "#log tbody tr:first-child"
	tb.wantText(latest+" td.result", `^delivered$`)
	tb.wantText(latest+" td.http-status", `^200$`)
	tb.waitFor("#none-waiting")
	tb.shot("webhook, delivered")
	for _, r := range receiver.got() {
		wantSignedWith(t, r, secret)
	}

	// The log's call is a link to the call's page.
	tb.submit(latest+" td.call a", "#call")
	tb.wantText("#call", `\(212\) 555-0101`)
}

func TestAnAdminDisablesAWebhookDroppingWhatWaitedThenReplacesItsSecretAndDeletesIt(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	var down atomic.Bool
	down.Store(true)
	receiver := startCRM(t, func(int) int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	var created webhookJSON
	hookURL := receiver.URL + "/hooks/dni"
	n.AdminOK("POST", "/v1/webhooks", map[string]any{"name": "CRM", "url": hookURL}, http.StatusCreated, &created)
	n.sendWebhooks()
	page := "/admin/webhooks/" + created.ID
	tb := newTab(t, n)
	tb.signIn()

	// The CRM is down: the event waits.
	n.endCall(pl, "CAwaiting", "+12125550101")
	testkit.Eventually(t, "an attempt", func() bool { return len(receiver.got()) > 0 })
	tb.open(page)
	tb.wantText("#waiting td.call", `^CAwaiting$`)
	tb.wantText("#edit-webhook", `the 1 event waiting now is dropped`)
	tb.shot("webhook, an event waiting")

	// A bad URL in the edit form is refused, and nothing is written.
	tb.fill("#webhook-url", "crm.example/hooks")
	tb.submit("#save-webhook", "#form-error")
	tb.wantText("#form-error", `^URL: must be an http or https URL .*; got "crm\.example/hooks"\. Nothing was saved\.$`)
	if w := n.webhook(created.ID); w.URL != hookURL || !w.Enabled {
		t.Fatalf("a refused change was written: %+v", w)
	}
	tb.shot("webhook, a URL without a scheme")

	// Disabling it drops what waited, and queues nothing more.
	tb.fill("#webhook-url", hookURL)
	tb.click("#webhook-enabled")
	tb.submit("#save-webhook", "#disabled-note")
	tb.wantText("#flash", `^Saved\.$`)
	tb.wantText("#webhook-state", `^disabled$`)
	tb.wantText(`#log tr[data-result="dropped"] td.call`, `^CAwaiting$`)
	tb.waitFor("#none-waiting")
	if w := n.webhook(created.ID); w.Enabled || w.Queued != 0 {
		t.Fatalf("after disabling, the endpoint is %+v", w)
	}
	n.endCall(pl, "CAunsent", "+12125550102")
	if w := n.webhook(created.ID); w.Queued != 0 {
		t.Fatalf("a disabled endpoint queued %d events", w.Queued)
	}
	tb.shot("webhook disabled")
	tb.open("/admin/webhooks")
	tb.wantText(`tr[data-webhook="`+created.ID+`"] td.state`, `^disabled$`)
	tb.wantText(`tr[data-webhook="`+created.ID+`"] td.queued`, `^0$`)
	tb.shot("webhooks, one disabled")

	// A new secret, shown once, signs what is sent from then on.
	tb.open(page)
	tb.click("#replace-secret-open")
	tb.submit("#replace-secret-button", "#secret")
	secret := tb.inputValue("#secret")
	if !strings.HasPrefix(secret, "whsec_") || secret == created.Secret {
		t.Fatalf("the new secret is %q, the old one %q", secret, created.Secret)
	}
	tb.shot("webhook, its secret replaced")
	down.Store(false)
	tb.open(page)
	tb.click("#webhook-enabled")
	tb.submit("#save-webhook", "#flash")
	tb.wantText("#webhook-state", `^enabled$`)
	sent := len(receiver.got())
	n.endCall(pl, "CAsigned", "+12125550103")
	testkit.Eventually(t, "the event after the new secret to be delivered", func() bool {
		w := n.webhook(created.ID)
		return len(w.Attempts) > 0 && w.Attempts[0].Result == "delivered" && w.Attempts[0].Call == "CAsigned"
	})
	got := receiver.got()
	wantSignedWith(t, got[len(got)-1], secret)
	if len(got) != sent+1 {
		t.Fatalf("the CRM got %d requests after the endpoint was enabled again, want only the new call's", len(got)-sent)
	}

	// Deleting it asks first.
	tb.open(page)
	tb.submit("#delete-webhook", "#confirm-delete")
	tb.shot("webhook, delete?")
	tb.submit("#confirm-delete", "#flash")
	tb.wantText("#flash", `^Endpoint deleted`)
	if hooks := n.webhooks(); len(hooks) != 0 {
		t.Fatalf("after the delete the endpoints are %+v", hooks)
	}
	tb.shot("webhooks, deleted")
	tb.open(page)
	tb.wantText("p.problem", `^There is no such webhook endpoint`)
}
