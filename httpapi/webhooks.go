package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// Webhook endpoints (/v1/webhooks): where call events are POSTed, signed
// (package webhook sends them), and each endpoint's delivery log.

// Webhook is an endpoint as the API shows it. Its secret is shown once,
// when it is made (or replaced).
type Webhook struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Enabled   bool      `json:"enabled"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Queued    int       `json:"queued"` // events waiting to be delivered
	// Attempts are the latest attempts, newest first; Pending the events
	// waiting, with their next try. Only for one endpoint.
	Attempts []WebhookAttempt `json:"attempts,omitempty"`
	Pending  []WebhookPending `json:"pending,omitempty"`
}

// WebhookAttempt is one attempt in an endpoint's delivery log.
type WebhookAttempt struct {
	Event  string     `json:"event"`
	Type   string     `json:"type"`
	Call   string     `json:"call"`
	Try    int        `json:"try"`
	At     time.Time  `json:"at"`
	Status int        `json:"status,omitempty"`
	Error  string     `json:"error,omitempty"`
	Result string     `json:"result"` // delivered, retry, failed, dropped
	NextAt *time.Time `json:"next_at,omitempty"`
}

// WebhookPending is an event waiting for an endpoint.
type WebhookPending struct {
	Event    string    `json:"event"`
	Type     string    `json:"type"`
	Call     string    `json:"call"`
	Attempts int       `json:"attempts"`
	NextAt   time.Time `json:"next_at"`
}

// maxPendingShown is how many waiting events an endpoint's page lists.
const maxPendingShown = 100

type webhookRequest struct {
	Name    *string `json:"name"`
	URL     *string `json:"url"`
	Enabled *bool   `json:"enabled"`
	Secret  *string `json:"secret"`
}

func webhookOut(e allocator.Endpoint, queued int) Webhook {
	return Webhook{ID: e.ID, Name: e.Name, URL: e.URL, Enabled: e.Enabled, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Queued: queued}
}

func (s *Server) listWebhooks(rc *fasthttp.RequestCtx, _ []string) {
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"webhooks": s.Admin(rc).Webhooks()})
}

func (s *Server) getWebhook(rc *fasthttp.RequestCtx, p []string) {
	w, err := s.Admin(rc).Webhook(p[0])
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, w)
}

func (s *Server) createWebhook(rc *fasthttp.RequestCtx, _ []string) {
	var req webhookRequest
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	c := allocator.SetEndpoint{Enabled: true}
	req.apply(&c)
	ctx, cancel := requestContext()
	defer cancel()
	w, err := s.Admin(rc).SetWebhook(ctx, c, true)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusCreated, w)
}

func (s *Server) updateWebhook(rc *fasthttp.RequestCtx, p []string) {
	a := s.Admin(rc)
	old, err := a.Webhook(p[0])
	if err != nil {
		writeErr(rc, err)
		return
	}
	var req webhookRequest
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	c := allocator.SetEndpoint{ID: old.ID, Name: old.Name, URL: old.URL, Enabled: old.Enabled}
	req.apply(&c)
	ctx, cancel := requestContext()
	defer cancel()
	w, err := a.SetWebhook(ctx, c, false)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, w)
}

func (r *webhookRequest) apply(c *allocator.SetEndpoint) {
	if r.Name != nil {
		c.Name = *r.Name
	}
	if r.URL != nil {
		c.URL = *r.URL
	}
	if r.Enabled != nil {
		c.Enabled = *r.Enabled
	}
	if r.Secret != nil {
		c.Secret = *r.Secret
	}
}

func (s *Server) deleteWebhook(rc *fasthttp.RequestCtx, p []string) {
	ctx, cancel := requestContext()
	defer cancel()
	if err := s.Admin(rc).DeleteWebhook(ctx, p[0]); err != nil {
		writeErr(rc, err)
		return
	}
	rc.SetStatusCode(fasthttp.StatusNoContent)
}

// ErrUnknownWebhook: no endpoint has the id.
var ErrUnknownWebhook = errors.New("no such webhook endpoint")

// Webhooks lists the endpoints, without their secrets.
func (a Admin) Webhooks() []Webhook {
	state := a.s.node.State()
	queued := state.Queued()
	out := []Webhook{}
	for _, e := range state.Endpoints() {
		out = append(out, webhookOut(e, queued[e.ID]))
	}
	return out
}

// Webhook returns an endpoint with its delivery log and what waits for it.
func (a Admin) Webhook(id string) (Webhook, error) {
	state := a.s.node.State()
	for _, e := range state.Endpoints() {
		if e.ID != id {
			continue
		}
		pending := state.Pending(id, allocator.MaxPendingDeliveries)
		w := webhookOut(e, len(pending))
		w.Attempts = []WebhookAttempt{}
		for _, at := range e.Log {
			wa := WebhookAttempt{Event: at.Event, Type: string(at.Kind), Call: at.Call, Try: at.Try, At: at.At,
				Status: at.Status, Error: at.Error, Result: string(at.Result)}
			if !at.NextAt.IsZero() {
				wa.NextAt = ptr(at.NextAt)
			}
			w.Attempts = append(w.Attempts, wa)
		}
		w.Pending = []WebhookPending{}
		for _, d := range pending[:min(len(pending), maxPendingShown)] {
			w.Pending = append(w.Pending, WebhookPending{Event: d.Event.ID(), Type: string(d.Event.Kind), Call: d.Event.Call,
				Attempts: d.Attempts, NextAt: d.NextAt})
		}
		return w, nil
	}
	return Webhook{}, ErrUnknownWebhook
}

// SetWebhook records an endpoint: a new one (isNew) gets an id and, unless
// c gives one, a secret. The answer shows the secret when it was set.
func (a Admin) SetWebhook(ctx context.Context, c allocator.SetEndpoint, isNew bool) (Webhook, error) {
	if isNew {
		c.ID = randomID("wh_")
		if c.Secret == "" {
			c.Secret = newWebhookSecret()
		}
	}
	c.At = time.Now()
	if err := allocator.CheckEndpoint(c, isNew); err != nil {
		return Webhook{}, err
	}
	if _, err := a.s.commitAndWait(ctx, (*fsm.SetEndpoint)(&c)); err != nil {
		return Webhook{}, err
	}
	w, err := a.Webhook(c.ID)
	w.Secret = c.Secret
	w.Attempts, w.Pending = nil, nil
	return w, err
}

// ReplaceWebhookSecret gives an endpoint a new secret, and shows it.
func (a Admin) ReplaceWebhookSecret(ctx context.Context, id string) (Webhook, error) {
	w, err := a.Webhook(id)
	if err != nil {
		return Webhook{}, err
	}
	return a.SetWebhook(ctx, allocator.SetEndpoint{ID: w.ID, Name: w.Name, URL: w.URL, Enabled: w.Enabled, Secret: newWebhookSecret()}, false)
}

// newWebhookSecret draws an endpoint's secret: 192 random bits.
func newWebhookSecret() string {
	var b [24]byte
	rand.Read(b[:])
	return "whsec_" + hex.EncodeToString(b[:])
}

// DeleteWebhook forgets an endpoint and what waits for it.
func (a Admin) DeleteWebhook(ctx context.Context, id string) error {
	if _, err := a.Webhook(id); err != nil {
		return err
	}
	_, err := a.s.commitAndWait(ctx, &fsm.DeleteEndpoint{ID: id, At: time.Now()})
	return err
}

// Event is the body of a webhook request: the event and the call as dni
// knows it when the request is sent (so a retry carries the latest).
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Call      Call      `json:"call"`
}

// EventBody is a delivery's request body: webhook.Sender's Payload.
func EventBody(state *allocator.State, d allocator.DueDelivery) ([]byte, error) {
	c := state.Call(d.Event.Call)
	if c == nil {
		return nil, fmt.Errorf("call %s is not recorded", d.Event.Call)
	}
	return json.Marshal(Event{ID: d.Event.ID(), Type: string(d.Event.Kind), CreatedAt: d.Event.At, Call: callOut(c)})
}
