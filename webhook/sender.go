package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// Cluster is what the sender needs of the node it runs on.
type Cluster interface {
	State() *allocator.State
	Commit(ctx context.Context, cmd fsm.Command) (fsm.Receipt, error)
	// CatchUp returns once the node's state has every write acknowledged
	// so far: a new leader must not resend what its predecessor recorded
	// as delivered.
	CatchUp(ctx context.Context) error
}

// Defaults of a Sender's settings.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultRetryMin = 10 * time.Second
	DefaultRetryMax = time.Hour
	// DefaultRetryFor is how long an event is retried: a day and an hour,
	// so that a receiver down for a whole day still gets it.
	DefaultRetryFor = 25 * time.Hour
	defaultEvery    = time.Second
	defaultParallel = 8
	// maxAnswer is how much of an endpoint's answer is read (and thrown
	// away) so that its connection can be used again.
	maxAnswer = 64 << 10
)

// Sender delivers the events due in the replicated queue. It runs on the
// leader only (Run is a leader loop); zero settings take the defaults.
type Sender struct {
	// Payload is the body of a delivery's request.
	Payload func(*allocator.State, allocator.DueDelivery) ([]byte, error)
	// Timeout bounds one attempt: connecting, sending, and the answer's
	// status line.
	Timeout time.Duration
	// RetryMin is the wait after the first failed attempt; each failure
	// doubles it, up to RetryMax. An event is retried until RetryFor has
	// passed since it happened; then it is given up (Failed).
	RetryMin, RetryMax, RetryFor time.Duration
	// Every is how often the queue is read; a new event waits at most that.
	Every time.Duration
	// Parallel bounds the attempts in flight at once.
	Parallel int
	Log      *slog.Logger

	client  *http.Client
	metrics *metrics
}

type metrics struct {
	attempts *prometheus.CounterVec
}

var registerOnce sync.Once
var sharedMetrics *metrics

// NewSender returns a sender whose counters are registered with reg (once
// per process).
func NewSender(payload func(*allocator.State, allocator.DueDelivery) ([]byte, error), reg prometheus.Registerer, log *slog.Logger) *Sender {
	registerOnce.Do(func() {
		sharedMetrics = &metrics{attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dni_webhook_attempts_total",
			Help: "Attempts to deliver webhook events, by what became of the delivery: delivered, retry, failed.",
		}, []string{"result"})}
		if reg != nil {
			reg.MustRegister(sharedMetrics.attempts)
		}
	})
	return &Sender{Payload: payload, Log: log, metrics: sharedMetrics}
}

func (s *Sender) defaults() {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&s.Timeout, DefaultTimeout}, {&s.RetryMin, DefaultRetryMin}, {&s.RetryMax, DefaultRetryMax},
		{&s.RetryFor, DefaultRetryFor}, {&s.Every, defaultEvery}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if s.Parallel <= 0 {
		s.Parallel = defaultParallel
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		s.client = &http.Client{
			// A redirect is not followed: the operator registered this URL,
			// and a signed event goes nowhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
				ResponseHeaderTimeout: s.Timeout, TLSHandshakeTimeout: s.Timeout,
			},
		}
	}
}

type deliveryKey struct {
	event    uint64
	endpoint string
}

// Run delivers due events until ctx ends (the node stops leading). It
// waits for the attempts in flight before it returns.
func (s *Sender) Run(ctx context.Context, c Cluster) {
	s.defaults()
	var (
		mu       sync.Mutex
		inFlight = map[deliveryKey]bool{}
		wg       sync.WaitGroup
		slots    = make(chan struct{}, s.Parallel)
	)
	defer wg.Wait()
	caughtUp := false
	for {
		if !caughtUp {
			caughtUp = c.CatchUp(ctx) == nil
		}
		if caughtUp {
			for _, d := range c.State().Due(time.Now(), 4*s.Parallel) {
				k := deliveryKey{d.Event.Seq, d.Endpoint}
				mu.Lock()
				busy := inFlight[k]
				inFlight[k] = true
				mu.Unlock()
				if busy {
					continue
				}
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				wg.Go(func() {
					defer func() {
						<-slots
						mu.Lock()
						delete(inFlight, k)
						mu.Unlock()
					}()
					s.deliver(ctx, c, d)
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.Every):
		}
	}
}

// deliver makes one attempt and records what it gave.
func (s *Sender) deliver(ctx context.Context, c Cluster, d allocator.DueDelivery) {
	now := time.Now()
	status, problem := s.post(ctx, c, d, now)
	if ctx.Err() != nil {
		return // no longer the leader: the next one tries again
	}
	rec := &fsm.RecordAttempt{Event: d.Event.Seq, Endpoint: d.Endpoint, At: now, Status: status, Error: problem,
		Delivered: problem == ""}
	if !rec.Delivered && now.Sub(d.Event.At) < s.RetryFor {
		rec.NextAt = now.Add(s.backoff(d.Attempts + 1))
	}
	r, err := c.Commit(ctx, rec)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		// The attempt happened but is not recorded: the delivery stays
		// queued and is tried again, with the same event id.
		s.Log.Warn("webhook attempt not recorded", "event", d.Event.ID(), "endpoint", d.Endpoint, "err", err)
		return
	}
	result := "delivered"
	switch {
	case !rec.Delivered && rec.NextAt.IsZero():
		result = "failed"
		s.Log.Warn("webhook event given up", "event", d.Event.ID(), "endpoint", d.Endpoint, "tries", d.Attempts+1, "last", problem)
	case !rec.Delivered:
		result = "retry"
		s.Log.Info("webhook attempt failed", "event", d.Event.ID(), "endpoint", d.Endpoint, "try", d.Attempts+1,
			"err", problem, "next", rec.NextAt.Format(time.RFC3339))
	}
	if s.metrics != nil {
		s.metrics.attempts.WithLabelValues(result).Inc()
	}
}

// post sends the event, and returns the endpoint's status and, unless it
// was a 2xx, what went wrong in words.
func (s *Sender) post(ctx context.Context, c Cluster, d allocator.DueDelivery, now time.Time) (int, string) {
	body, err := s.Payload(c.State(), d)
	if err != nil {
		return 0, "no event body: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dni-webhooks/1")
	req.Header.Set(HeaderEventID, d.Event.ID())
	req.Header.Set(HeaderEventType, string(d.Event.Kind))
	req.Header.Set(HeaderSignature, Sign(d.Secret, now, body))
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Sprintf("no answer within %v", s.Timeout)
		}
		return 0, err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// backoff is the wait before try n+1 after n failed tries: RetryMin
// doubled per try, at most RetryMax, with up to a tenth more at random so
// that endpoints that failed together are not retried together.
func (s *Sender) backoff(tries int) time.Duration {
	d := s.RetryMin
	for i := 1; i < tries && d < s.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.RetryMax)
	return d + rand.N(d/10+1)
}
