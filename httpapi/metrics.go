package httpapi

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
)

// metrics are what /metrics shows beside raft's own (exported by
// cluster.ExportRaftMetrics) and the Go runtime's.
type metrics struct {
	requests   *prometheus.CounterVec   // route, code
	latency    *prometheus.HistogramVec // route
	visits     *prometheus.CounterVec   // pool, outcome
	heartbeats *prometheus.CounterVec   // result
	// heartbeatResults are the heartbeats' children, made at the start:
	// read-only afterwards, so a heartbeat finds its own without a lock.
	heartbeatResults map[string]prometheus.Counter
	bots             prometheus.Counter
	rateLimited      prometheus.Counter
	panics           prometheus.Counter
	outboxed         prometheus.Counter
	handler          fasthttp.RequestHandler

	routes     sync.Map // route name → *routeMetrics
	poolVisits sync.Map // visitKey → prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, gather prometheus.Gatherer, node *cluster.Node, ready func() bool) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dni_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dni_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		visits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dni_visits_total",
			Help: "New visits by pool and outcome: fresh, recycled, sticky, or why no number (pool_full, over_budget, not_a_Google_Ads_click, bot, pool_deleted, origin_refused).",
		}, []string{"pool", "outcome"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dni_heartbeats_total", Help: "Visitor heartbeats by result: ok, renumbered, waiting (no free number), expired, origin_refused.",
		}, []string{"result"}),
		bots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dni_bot_visits_total", Help: "New visits refused a number because the user agent is a crawler's.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dni_rate_limited_visits_total", Help: "New visits refused because their address asked too often.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dni_http_panics_total", Help: "Requests whose handler panicked, answered 500; each is logged with its stack.",
		}),
		outboxed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dni_call_writes_outboxed_total",
			Help: "Call records and updates the cluster did not take in time, kept in the node's outbox.",
		}),
		handler: fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(gather, promhttp.HandlerOpts{})),
	}
	m.requests = register(reg, m.requests)
	m.latency = register(reg, m.latency)
	m.visits = register(reg, m.visits)
	m.heartbeats = register(reg, m.heartbeats)
	m.heartbeatResults = map[string]prometheus.Counter{}
	for _, r := range []string{heartbeatOK, heartbeatRenumbered, heartbeatWaiting, heartbeatExpired, heartbeatOriginRefused} {
		m.heartbeatResults[r] = m.heartbeats.WithLabelValues(r)
	}
	m.bots = register(reg, m.bots)
	m.rateLimited = register(reg, m.rateLimited)
	m.panics = register(reg, m.panics)
	m.outboxed = register(reg, m.outboxed)
	register(reg, prometheus.Collector(&stateCollector{node: node, ready: ready}))
	if reg != prometheus.DefaultRegisterer {
		register(reg, collectors.NewGoCollector())
	}
	return m
}

// register registers c, or returns the collector already registered in its
// place (a second server on one registry shares the first's counters).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
			return c
		}
		panic(err)
	}
	return c
}

// request counts an answered request and its time. Every request records
// these, so each route's children are looked up once and kept (routeOf):
// a request then finds them without hashing its labels or taking the
// vectors' locks.
func (m *metrics) request(route string, code int, took time.Duration) {
	r := m.routeOf(route)
	r.counter(code).Inc()
	r.latency.Observe(took.Seconds())
}

// routeMetrics are one route's children of the request metrics.
type routeMetrics struct {
	route    string
	requests *prometheus.CounterVec
	latency  prometheus.Observer
	// codes holds a counter per status code seen, as a short list that a
	// new code replaces whole (a route answers a handful of codes).
	codes atomic.Pointer[[]codeCounter]
	mu    sync.Mutex // serialises adding a code
}

type codeCounter struct {
	code int
	c    prometheus.Counter
}

func (m *metrics) routeOf(route string) *routeMetrics {
	if r, ok := m.routes.Load(route); ok {
		return r.(*routeMetrics)
	}
	r, _ := m.routes.LoadOrStore(route, &routeMetrics{
		route: route, requests: m.requests, latency: m.latency.WithLabelValues(route),
	})
	return r.(*routeMetrics)
}

func (r *routeMetrics) counter(code int) prometheus.Counter {
	if codes := r.codes.Load(); codes != nil {
		for _, cc := range *codes {
			if cc.code == code {
				return cc.c
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var codes []codeCounter
	if old := r.codes.Load(); old != nil {
		for _, cc := range *old {
			if cc.code == code {
				return cc.c
			}
		}
		codes = append(codes, *old...)
	}
	c := r.requests.WithLabelValues(r.route, strconv.Itoa(code))
	codes = append(codes, codeCounter{code, c})
	r.codes.Store(&codes)
	return c
}

// The results a heartbeat is counted by.
const (
	heartbeatOK            = "ok"
	heartbeatRenumbered    = "renumbered"
	heartbeatWaiting       = "waiting"
	heartbeatExpired       = "expired"
	heartbeatOriginRefused = "origin_refused"
)

// heartbeat counts a heartbeat by its result, one of the constants above.
func (m *metrics) heartbeat(result string) { m.heartbeatResults[result].Inc() }

// visit counts a new visit by pool and outcome, with the counter kept per
// pool and outcome after its first use.
func (m *metrics) visit(pool, outcome string) {
	key := visitKey{pool, outcome}
	if c, ok := m.poolVisits.Load(key); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c, _ := m.poolVisits.LoadOrStore(key, m.visits.WithLabelValues(pool, outcome))
	c.(prometheus.Counter).Inc()
}

type visitKey struct{ pool, outcome string }

func (s *Server) serveMetrics(rc *fasthttp.RequestCtx, _ []string) { s.metrics.handler(rc) }

// stateCollector reads the pools' gauges from the state when scraped, and
// whether the node is ready as /readyz says.
type stateCollector struct {
	node  *cluster.Node
	ready func() bool
}

var (
	liveDesc = prometheus.NewDesc("dni_pool_live_visits", "Live visits of a pool, with or without a number.", []string{"pool"}, nil)
	freeDesc = prometheus.NewDesc("dni_pool_free_numbers", "Numbers of a pool in service and free.", []string{"pool"}, nil)
	utilDesc = prometheus.NewDesc("dni_pool_utilisation", "Share of a pool's numbers in service that a visit holds.", []string{"pool"}, nil)
	waitDesc = prometheus.NewDesc("dni_pool_waiting_visits", "Live visits of a pool that lost their number and wait for one.", []string{"pool"}, nil)
	// The pool's size, and the pool-size advisor's (allocator/usage.go).
	poolSizeDesc = prometheus.NewDesc("dni_pool_size", "Numbers a pool is set to have: its size, by hand or by the autoscaler.", []string{"pool"}, nil)
	sizeDesc     = prometheus.NewDesc("dni_pool_recommended_size", "Numbers that would keep a pool's busiest hour of the last 30 days at or below 75 % utilisation, within 4..50.", []string{"pool"}, nil)
	peakDesc     = prometheus.NewDesc("dni_pool_peak_utilisation", "Live visits over numbers in service in a pool's busiest hour of the window.", []string{"pool", "window"}, nil)
	callDesc     = prometheus.NewDesc("dni_calls_total", "Calls recorded, by how they matched a visit.", []string{"match"}, nil)
	idxDesc      = prometheus.NewDesc("dni_applied_index", "Index of the last log entry this node's state includes.", nil, nil)
	outDesc      = prometheus.NewDesc("dni_outbox_writes", "Writes waiting in this node's outbox for the cluster to take them.", nil, nil)
	hookDesc     = prometheus.NewDesc("dni_webhook_queued_events", "Call events waiting to be delivered to a webhook endpoint.", []string{"endpoint"}, nil)
	// A cluster with no node at 1 has no leader: the alert operators need
	// most, and the one raft's own counters cannot say.
	leadDesc  = prometheus.NewDesc("dni_leader", "1 if this node is the cluster's leader, else 0.", nil, nil)
	readyDesc = prometheus.NewDesc("dni_ready", "1 if /readyz answers 200: the node's start-up work is done, it knows a leader and has applied the log; else 0.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{liveDesc, freeDesc, utilDesc, waitDesc, poolSizeDesc, sizeDesc, peakDesc, callDesc, idxDesc, outDesc, hookDesc, leadDesc, readyDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.node.State()
	now := time.Now()
	for _, p := range s.Pools() {
		if p.Deleted() {
			continue
		}
		n := p.Counts()
		util := 0.0
		if n.Active > 0 {
			util = float64(n.Active-n.Free) / float64(n.Active)
		}
		ch <- prometheus.MustNewConstMetric(liveDesc, prometheus.GaugeValue, float64(n.Live), p.ID)
		ch <- prometheus.MustNewConstMetric(freeDesc, prometheus.GaugeValue, float64(n.Free), p.ID)
		ch <- prometheus.MustNewConstMetric(utilDesc, prometheus.GaugeValue, util, p.ID)
		ch <- prometheus.MustNewConstMetric(waitDesc, prometheus.GaugeValue, float64(n.Numberless), p.ID)
		ch <- prometheus.MustNewConstMetric(poolSizeDesc, prometheus.GaugeValue, float64(p.Settings().Size), p.ID)
		for _, w := range allocator.UsageWindows {
			u := p.Usage(now, w.Length)
			ch <- prometheus.MustNewConstMetric(peakDesc, prometheus.GaugeValue, u.PeakUtilisation(), p.ID, w.Name)
			if w.Length == allocator.UsageHistory {
				size := allocator.Advise(u, p.Settings().Size).Size
				ch <- prometheus.MustNewConstMetric(sizeDesc, prometheus.GaugeValue, float64(size), p.ID)
			}
		}
	}
	for kind, n := range s.CallsMatched() {
		ch <- prometheus.MustNewConstMetric(callDesc, prometheus.CounterValue, float64(n), string(kind))
	}
	for endpoint, n := range s.Queued() {
		ch <- prometheus.MustNewConstMetric(hookDesc, prometheus.GaugeValue, float64(n), endpoint)
	}
	ch <- prometheus.MustNewConstMetric(idxDesc, prometheus.GaugeValue, float64(c.node.FSM().AppliedIndex()))
	ch <- prometheus.MustNewConstMetric(outDesc, prometheus.GaugeValue, float64(c.node.OutboxLen()))
	ch <- prometheus.MustNewConstMetric(leadDesc, prometheus.GaugeValue, one(c.node.IsLeader()))
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, one(c.ready()))
}

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
