package allocator

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Webhooks: the endpoints an operator registers, the events calls make
// (one ended; its outcome changed), and each event's delivery to each
// endpoint. What must be sent, and what every attempt gave, is in the
// replicated state: the leader sends (package webhook) and records each
// attempt with RecordAttempt, so a new leader carries on where the old
// one stopped, and an event is delivered at least once across failover
// and restarts. The few fields here change rarely and are read by the
// API and the sender: one lock guards them.

// EventKind names what happened.
type EventKind string

// The events.
const (
	EventCallEnded   EventKind = "call.ended"   // a recorded call reached a final status
	EventCallOutcome EventKind = "call.outcome" // a call's outcome, value or note changed
)

// Endpoint is a URL events are POSTed to, signed with its secret.
type Endpoint struct {
	ID, Name, URL string
	Secret        string // the HMAC-SHA256 key of the signature
	Enabled       bool   // a disabled endpoint is sent nothing, and queues nothing
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Log is the endpoint's latest attempts, newest first.
	Log []Attempt
}

// Event is one thing that happened to a call. Its ID is the same in every
// attempt to deliver it, so receivers can drop repeats.
type Event struct {
	Seq  uint64
	Kind EventKind
	Call string // the call's SID
	At   time.Time
}

// ID is the event's id, unique in the cluster's history (a restore to an
// earlier state reuses no id: the time is part of it).
func (e *Event) ID() string { return fmt.Sprintf("evt_%x_%d", millis(e.At), e.Seq) }

// Delivery is an event on its way to one endpoint.
type Delivery struct {
	Event    *Event
	Endpoint string
	Attempts int
	NextAt   time.Time // when the next attempt is due
}

// Attempt is what one attempt to deliver an event gave, or why an event
// left the queue without one (Result "dropped").
type Attempt struct {
	Event  string // its ID
	Kind   EventKind
	Call   string
	Try    int // 1 for the first attempt
	At     time.Time
	Status int    // the endpoint's HTTP status; 0 when it gave none
	Error  string // what went wrong, in words, when it did
	Result AttemptResult
	NextAt time.Time // for Result "retry"
}

// AttemptResult is what became of a delivery after an attempt.
type AttemptResult string

// The results.
const (
	Delivered AttemptResult = "delivered" // a 2xx answer: done
	Retrying  AttemptResult = "retry"     // tried again at NextAt
	Failed    AttemptResult = "failed"    // retried for the whole window in vain: given up
	Dropped   AttemptResult = "dropped"   // left the queue unsent (endpoint disabled, queue full)
)

// Limits on webhooks.
const (
	MaxEndpoints         = 20
	MaxEndpointURLLen    = 2048
	MinEndpointSecretLen = 16
	MaxEndpointSecretLen = 128
	MaxEndpointLog       = 50
	// MaxPendingDeliveries bounds the queue: a day of retries to a dead
	// endpoint at a busy call centre's pace. Past it the oldest is dropped.
	MaxPendingDeliveries = 100_000
	maxAttemptErrorLen   = 200
)

// webhooks is the webhook part of the state.
type webhooks struct {
	mu        sync.RWMutex
	endpoints []*Endpoint // by ID
	pending   []*Delivery // oldest event first
	eventSeq  uint64
}

// SetEndpoint registers an endpoint or changes one. A new one needs its
// secret; a change with no secret keeps the endpoint's.
type SetEndpoint struct {
	ID, Name, URL, Secret string
	Enabled               bool
	At                    time.Time
}

// DeleteEndpoint forgets an endpoint and what was queued for it.
type DeleteEndpoint struct {
	ID string
	At time.Time
}

// RecordAttempt is what the leader's attempt to deliver an event gave.
// NextAt is when to try again; zero gives up (Failed) unless Delivered.
type RecordAttempt struct {
	Event     uint64 // the event's Seq
	Endpoint  string
	At        time.Time
	Status    int
	Error     string
	Delivered bool
	NextAt    time.Time
}

// CheckEndpoint checks an endpoint's fields, naming the one at fault.
func CheckEndpoint(c SetEndpoint, isNew bool) error {
	if !validID(c.ID) {
		return invalid("id", "must be 1 to %d letters, digits, - or _", MaxIDLen)
	}
	if len(c.Name) > MaxNameLen*4 || !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > MaxNameLen {
		return invalid("name", "must be at most %d characters", MaxNameLen)
	}
	u, err := url.Parse(c.URL)
	switch {
	case len(c.URL) > MaxEndpointURLLen:
		return invalid("url", "must be at most %d characters", MaxEndpointURLLen)
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" || u.User != nil:
		return invalid("url", "must be an http or https URL without credentials, such as https://crm.example/hooks/dni; got %q", c.URL)
	case u.Fragment != "" || strings.ContainsAny(c.URL, " \t\r\n"):
		return invalid("url", "must have no fragment and no spaces")
	}
	if isNew || c.Secret != "" {
		if len(c.Secret) < MinEndpointSecretLen || len(c.Secret) > MaxEndpointSecretLen || strings.ContainsAny(c.Secret, " \t\r\n") {
			return invalid("secret", "must be %d to %d characters without spaces", MinEndpointSecretLen, MaxEndpointSecretLen)
		}
	}
	return nil
}

// SetEndpoint records an endpoint. Disabling one drops what was queued
// for it.
func (s *State) SetEndpoint(c SetEndpoint) (Endpoint, error) {
	at, err := stamp(c.At)
	if err != nil {
		return Endpoint{}, err
	}
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	i, found := h.find(c.ID)
	if err := CheckEndpoint(c, !found); err != nil {
		return Endpoint{}, err
	}
	if !found {
		if len(h.endpoints) >= MaxEndpoints {
			return Endpoint{}, invalid("url", "a cluster has at most %d webhook endpoints", MaxEndpoints)
		}
		e := &Endpoint{ID: c.ID, CreatedAt: fromMillis(at)}
		h.endpoints = slices.Insert(h.endpoints, i, e)
	}
	e := h.endpoints[i]
	e.Name, e.URL, e.Enabled, e.UpdatedAt = c.Name, c.URL, c.Enabled, fromMillis(at)
	if c.Secret != "" {
		e.Secret = c.Secret
	}
	if !e.Enabled {
		h.dropPending(func(d *Delivery) bool { return d.Endpoint == e.ID }, "endpoint disabled", at)
	}
	return e.copy(), nil
}

// DeleteEndpoint forgets an endpoint, its log and its queue.
func (s *State) DeleteEndpoint(c DeleteEndpoint) (bool, error) {
	if _, err := stamp(c.At); err != nil {
		return false, err
	}
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	i, found := h.find(c.ID)
	if !found {
		return false, nil
	}
	h.endpoints = slices.Delete(h.endpoints, i, i+1)
	h.pending = slices.DeleteFunc(h.pending, func(d *Delivery) bool { return d.Endpoint == c.ID })
	return true, nil
}

// RecordAttempt records an attempt's result. An attempt for a delivery no
// longer queued (delivered by an earlier leader, dropped) changes nothing.
func (s *State) RecordAttempt(c RecordAttempt) (AttemptResult, error) {
	at, err := stamp(c.At)
	if err != nil {
		return "", err
	}
	if c.Status < 0 || c.Status > 999 {
		return "", invalid("status", "must be an HTTP status")
	}
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	// The queue is in the order deliveries were made: by event, then by
	// endpoint.
	i, found := slices.BinarySearchFunc(h.pending, c, func(d *Delivery, c RecordAttempt) int {
		return cmp.Or(cmp.Compare(d.Event.Seq, c.Event), cmp.Compare(d.Endpoint, c.Endpoint))
	})
	if !found {
		return "", nil
	}
	d := h.pending[i]
	d.Attempts++
	a := Attempt{Event: d.Event.ID(), Kind: d.Event.Kind, Call: d.Event.Call, Try: d.Attempts, At: fromMillis(at),
		Status: c.Status, Error: clampString(c.Error, maxAttemptErrorLen)}
	switch {
	case c.Delivered:
		a.Result = Delivered
	case c.NextAt.IsZero():
		a.Result = Failed
	default:
		next, err := stamp(c.NextAt)
		if err != nil {
			return "", err
		}
		a.Result, a.NextAt = Retrying, fromMillis(next)
		d.NextAt = a.NextAt
	}
	if a.Result != Retrying {
		h.pending = slices.Delete(h.pending, i, i+1)
	}
	if j, ok := h.find(c.Endpoint); ok {
		h.endpoints[j].logAttempt(a)
	}
	return a.Result, nil
}

func (h *webhooks) find(id string) (int, bool) {
	return slices.BinarySearchFunc(h.endpoints, id, func(e *Endpoint, id string) int { return cmp.Compare(e.ID, id) })
}

func (e *Endpoint) logAttempt(a Attempt) {
	e.Log = slices.Insert(e.Log, 0, a)
	if len(e.Log) > MaxEndpointLog {
		e.Log = e.Log[:MaxEndpointLog]
	}
}

func (e *Endpoint) copy() Endpoint {
	c := *e
	c.Log = slices.Clone(e.Log)
	return c
}

// dropPending takes the deliveries drop picks out of the queue, noting
// each in its endpoint's log. The lock is held.
func (h *webhooks) dropPending(drop func(*Delivery) bool, why string, at int64) {
	h.pending = slices.DeleteFunc(h.pending, func(d *Delivery) bool {
		if !drop(d) {
			return false
		}
		if j, ok := h.find(d.Endpoint); ok {
			h.endpoints[j].logAttempt(Attempt{Event: d.Event.ID(), Kind: d.Event.Kind, Call: d.Event.Call, Try: d.Attempts,
				At: fromMillis(at), Error: why, Result: Dropped})
		}
		return true
	})
}

// announce queues the events a change of a call makes, for every enabled
// endpoint: it ended (recorded, and its status final), and its worth
// changed. old is the call before the change, nil for a new one.
func (s *State) announce(old, c *Call, at int64) {
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.ContainsFunc(h.endpoints, func(e *Endpoint) bool { return e.Enabled }) {
		return
	}
	ended := func(c *Call) bool { return c != nil && c.Recorded && c.Status.rank() == CallCompleted.rank() }
	if ended(c) && !ended(old) {
		h.queue(EventCallEnded, c.SID, at)
	}
	if old != nil && (old.Outcome != c.Outcome || old.Value != c.Value || old.Note != c.Note) {
		h.queue(EventCallOutcome, c.SID, at)
	}
}

// queue makes an event and a delivery of it to each enabled endpoint. The
// lock is held.
func (h *webhooks) queue(kind EventKind, call string, at int64) {
	h.eventSeq++
	ev := &Event{Seq: h.eventSeq, Kind: kind, Call: call, At: fromMillis(at)}
	for _, e := range h.endpoints {
		if !e.Enabled {
			continue
		}
		if len(h.pending) >= MaxPendingDeliveries {
			oldest := h.pending[0]
			h.dropPending(func(d *Delivery) bool { return d == oldest }, "the queue was full", at)
		}
		h.pending = append(h.pending, &Delivery{Event: ev, Endpoint: e.ID, NextAt: ev.At})
	}
}

// Endpoints returns the endpoints, by ID, with their logs. Safe for any
// goroutine.
func (s *State) Endpoints() []Endpoint {
	h := &s.hooks
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Endpoint, len(h.endpoints))
	for i, e := range h.endpoints {
		out[i] = e.copy()
	}
	return out
}

// Pending returns the deliveries queued for an endpoint ("" for all), the
// oldest event first, at most limit of them. Safe for any goroutine.
func (s *State) Pending(endpoint string, limit int) []Delivery {
	h := &s.hooks
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []Delivery
	for _, d := range h.pending {
		if len(out) == limit {
			break
		}
		if endpoint == "" || d.Endpoint == endpoint {
			out = append(out, *d)
		}
	}
	return out
}

// Due returns up to limit deliveries due at now to enabled endpoints,
// with their endpoints' URLs and secrets, the most overdue first. Safe
// for any goroutine.
func (s *State) Due(now time.Time, limit int) []DueDelivery {
	h := &s.hooks
	h.mu.RLock()
	var out []DueDelivery
	for _, d := range h.pending {
		if d.NextAt.After(now) {
			continue
		}
		if i, ok := h.find(d.Endpoint); ok && h.endpoints[i].Enabled {
			e := h.endpoints[i]
			out = append(out, DueDelivery{Delivery: *d, URL: e.URL, Secret: e.Secret})
		}
	}
	h.mu.RUnlock()
	slices.SortStableFunc(out, func(a, b DueDelivery) int { return a.NextAt.Compare(b.NextAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// DueDelivery is a delivery due now, with where it goes.
type DueDelivery struct {
	Delivery
	URL, Secret string
}

// Queued counts the deliveries waiting, by endpoint. Safe for any
// goroutine.
func (s *State) Queued() map[string]int {
	h := &s.hooks
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[string]int, len(h.endpoints))
	for _, e := range h.endpoints {
		out[e.ID] = 0
	}
	for _, d := range h.pending {
		out[d.Endpoint]++
	}
	return out
}
