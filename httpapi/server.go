// Package httpapi is dni's HTTP surface, served with fasthttp: the snippet
// (dni.js) and the visitor API it calls, the admin API (bearer tokens), the
// internal API nodes use to forward writes and join (served on the node's
// cluster port only, mutual TLS), health checks, Prometheus metrics and the
// OpenAPI description. Handlers
// hold no domain rules: they decode, call the cluster node, and encode.
//
// fasthttp reuses a request's memory once its handler returns, so handlers
// copy whatever they keep (strings built from bytes are copies) and never
// hand a RequestCtx to another goroutine.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/snippet"
)

// Options configure a Server. Zero fields take the defaults.
type Options struct {
	// Secret is the cluster secret: the admin pages sign their sessions
	// with a key derived from it, so that every node accepts them.
	Secret string
	// ClientIPHeader names a header a trusted proxy in front of dni sets to
	// the visitor's address (X-Forwarded-For, X-Real-IP, CF-Connecting-IP).
	// Empty means visitors connect directly. Set it only behind a proxy
	// that overwrites the header: anyone can send it.
	ClientIPHeader string
	// VisitsPerMinute caps new visits per client address, with a burst of
	// as many; 0 means DefaultVisitsPerMinute, negative means no cap.
	VisitsPerMinute int
	// SignInFailures is how many wrong admin tokens (on the admin API or
	// the login form) an address may send before each further one makes
	// it wait, longer and longer; 0 means DefaultSignInFailures, negative
	// means no throttle.
	SignInFailures int
	// MaxConns caps the HTTP port's open connections, and
	// MaxConnsPerAddress those from one address; 0 means the defaults,
	// negative no cap. Behind a proxy (ClientIPHeader), every connection
	// comes from the proxy: there MaxConnsPerAddress 0 means no cap.
	MaxConns           int
	MaxConnsPerAddress int
	// HeartbeatInterval is what the snippet is told (heartbeat_s).
	HeartbeatInterval time.Duration
	// Registry receives the server's metrics; /metrics serves Gatherer.
	// Nil means the Prometheus default registry for both.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
	// Telephony configures the Twilio webhooks and the sandbox.
	Telephony Telephony
	// Started, when set, holds /readyz at 503 until it is closed: the
	// binary closes it once the node's start-up work is done (the admin
	// token it was given recorded and applied, its state caught up with
	// the leader's), so that a request sent the moment /readyz says 200
	// finds both.
	Started <-chan struct{}
	// Pages, when set, serves the admin pages (package web's Handler)
	// under /admin/: New calls it with the server, whose Admin methods are
	// the admin API's Go functions the pages use. The pages check their own
	// sessions.
	Pages func(*Server) fasthttp.RequestHandler
}

// Defaults for Options.
const (
	DefaultVisitsPerMinute   = 60
	DefaultHeartbeatInterval = 60 * time.Second
	// A browser opens a handful of connections; a thousand tabs behind
	// one NAT stay well under the per-address cap.
	DefaultMaxConns           = 16384
	DefaultMaxConnsPerAddress = 512
)

// connCap is a connection cap as fasthttp takes it: 0 there means none.
func connCap(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Server answers HTTP for one node.
type Server struct {
	node    *cluster.Node
	opt     Options
	secret  []byte
	log     *slog.Logger
	srv     *fasthttp.Server // the HTTP port: visitors, the admin API, Twilio
	cluster *fasthttp.Server // the internal API, on the node's cluster port
	router  router
	pages   fasthttp.RequestHandler // under pagesPrefix; nil: none
	limits  *limiter
	metrics *metrics
	// throttle slows down whoever guesses admin tokens.
	throttle *throttle
	// restoring holds a token while a restore runs: one at a time.
	restoring   chan struct{}
	pageUploads map[string]bool // pages paths that take a file (AcceptUploads)
}

// New returns a server for node.
func New(node *cluster.Node, opt Options) *Server {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.VisitsPerMinute == 0 {
		opt.VisitsPerMinute = DefaultVisitsPerMinute
	}
	if opt.HeartbeatInterval == 0 {
		opt.HeartbeatInterval = DefaultHeartbeatInterval
	}
	opt.MaxConns = connCap(opt.MaxConns, DefaultMaxConns)
	if opt.MaxConnsPerAddress == 0 && opt.ClientIPHeader != "" {
		opt.MaxConnsPerAddress = -1
	}
	opt.MaxConnsPerAddress = connCap(opt.MaxConnsPerAddress, DefaultMaxConnsPerAddress)
	if opt.Registry == nil {
		opt.Registry, opt.Gatherer = prometheus.DefaultRegisterer, prometheus.DefaultGatherer
	}
	s := &Server{node: node, opt: opt, secret: []byte(opt.Secret), log: opt.Log, restoring: make(chan struct{}, 1)}
	snippet.Get() // minified now, not on a visitor's first request
	s.limits = newLimiter(opt.VisitsPerMinute)
	s.throttle = newThrottle(opt.SignInFailures)
	s.metrics = newMetrics(opt.Registry, opt.Gatherer, node, s.ready)
	s.routes()
	if opt.Pages != nil {
		s.pages = opt.Pages(s)
	}
	s.srv = &fasthttp.Server{
		Handler:               s.serve,
		HeaderReceived:        requestConfig(s.bodyRule),
		ErrorHandler:          parseError,
		Logger:                connLogger{s.log},
		Name:                  "dni",
		MaxRequestBodySize:    maxAnonymousBody,
		Concurrency:           opt.MaxConns,
		MaxConnsPerIP:         opt.MaxConnsPerAddress,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultDate:         true,
		NoDefaultServerHeader: true,
	}
	s.cluster = &fasthttp.Server{
		Handler:               s.serveInternal,
		HeaderReceived:        requestConfig(s.internalBodyRule),
		StreamRequestBody:     true,
		ErrorHandler:          parseError,
		Logger:                connLogger{s.log},
		Name:                  "dni",
		MaxRequestBodySize:    maxInternalBody,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultDate:         true,
		NoDefaultServerHeader: true,
	}
	return s
}

// Serve answers requests on the HTTP port's listener until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// ServeInternal answers the internal API on the node's cluster port
// (cluster.Node.InternalListener) until Shutdown.
func (s *Server) ServeInternal(ln net.Listener) error { return s.cluster.Serve(ln) }

// Shutdown stops taking requests and waits, until ctx ends, for those under
// way.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.srv.ShutdownWithContext(ctx), s.cluster.ShutdownWithContext(ctx))
}

// Log is where the server logs.
func (s *Server) Log() *slog.Logger { return s.log }

// Handler is the HTTP port's request handler, for serving it some other
// way.
func (s *Server) Handler() fasthttp.RequestHandler { return s.serve }

// InternalHandler is the cluster port's request handler: it trusts its
// caller, so only a connection that proved it belongs to the cluster may
// reach it.
func (s *Server) InternalHandler() fasthttp.RequestHandler { return s.serveInternal }

// pagesPrefix is where the admin pages are.
const pagesPrefix = "/admin/"

// serve routes one request and records its metrics. The admin pages route
// their own requests.
func (s *Server) serve(rc *fasthttp.RequestCtx) {
	start := time.Now()
	defer s.recoverPanic(rc, start)
	if !bodyFits(rc, s.bodyRule(&rc.Request.Header)) {
		s.metrics.request("too large", rc.Response.StatusCode(), time.Since(start))
		return
	}
	if path := rc.Path(); s.pages != nil && (bytes.HasPrefix(path, []byte(pagesPrefix)) || string(path)+"/" == pagesPrefix) {
		if len(path) < len(pagesPrefix) {
			rc.Response.Header.Set("Location", pagesPrefix)
			rc.SetStatusCode(fasthttp.StatusMovedPermanently)
		} else {
			s.pages(rc)
		}
		s.metrics.request(pagesPrefix, rc.Response.StatusCode(), time.Since(start))
		return
	}
	r, params, allowed := s.router.find(rc.Method(), rc.Path())
	if r != nil && r.access == internalAccess || bytes.HasPrefix(rc.Path(), []byte(internalPrefix)) {
		r, allowed = nil, "" // the internal API is on the cluster port only
	}
	name := "unknown"
	switch {
	case r != nil:
		name = r.pattern
		s.handle(rc, r, params)
	case string(rc.Method()) == fasthttp.MethodOptions && strings.Contains(allowed, fasthttp.MethodOptions):
		s.preflight(rc, allowed)
		name = "preflight"
	case allowed != "":
		rc.Response.Header.Set("Allow", allowed)
		writeError(rc, fasthttp.StatusMethodNotAllowed, "method not allowed here; allowed: "+allowed)
	default:
		writeError(rc, fasthttp.StatusNotFound, "no such endpoint")
	}
	s.metrics.request(name, rc.Response.StatusCode(), time.Since(start))
}

func (s *Server) handle(rc *fasthttp.RequestCtx, r *route, params []string) {
	switch r.access {
	case visitorAccess:
		allowAnyOrigin(rc)
	case adminAccess:
		if !s.adminAuthorized(rc, r.role) {
			return
		}
	case twilioAccess:
		if !s.twilioAuthorized(rc) {
			return
		}
	case exportAccess:
		if !s.exportAuthorized(rc) {
			return
		}
	}
	r.handle(rc, params)
}

// internalPrefix is where the internal API's paths start.
const internalPrefix = "/internal/"

// serveInternal routes one request of the internal API. Its connections
// come through the cluster port, each one mutual TLS with a certificate of
// the cluster: that is its authentication.
func (s *Server) serveInternal(rc *fasthttp.RequestCtx) {
	start := time.Now()
	defer s.recoverPanic(rc, start)
	if !bodyFits(rc, s.internalBodyRule(&rc.Request.Header)) {
		s.metrics.request("too large", rc.Response.StatusCode(), time.Since(start))
		return
	}
	r, params, _ := s.router.find(rc.Method(), rc.Path())
	name := "unknown"
	if r != nil && r.access == internalAccess {
		name = r.pattern
		r.handle(rc, params)
	} else {
		writeError(rc, fasthttp.StatusNotFound, "no such internal endpoint")
	}
	s.metrics.request(name, rc.Response.StatusCode(), time.Since(start))
}

// parseError answers a request fasthttp could not read, in JSON like every
// other error.
func parseError(rc *fasthttp.RequestCtx, err error) {
	if bytes.HasPrefix(rc.Request.Header.RequestURI(), []byte("/v1/visits")) {
		allowAnyOrigin(rc) // so the snippet can read why
	}
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(rc, fasthttp.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	writeError(rc, fasthttp.StatusBadRequest, "malformed HTTP request")
}

// allowAnyOrigin lets any website's pages call the visitor API.
func allowAnyOrigin(rc *fasthttp.RequestCtx) {
	rc.Response.Header.Set("Access-Control-Allow-Origin", "*")
	rc.Response.Header.Set("Vary", "Origin")
}

// preflight answers a CORS preflight for a visitor endpoint.
func (s *Server) preflight(rc *fasthttp.RequestCtx, allowed string) {
	allowAnyOrigin(rc)
	h := &rc.Response.Header
	h.Set("Access-Control-Allow-Methods", allowed)
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
	rc.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) healthz(rc *fasthttp.RequestCtx, _ []string) {
	writeJSON(rc, fasthttp.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(rc *fasthttp.RequestCtx, _ []string) {
	if !s.started() {
		writeError(rc, fasthttp.StatusServiceUnavailable, "starting: the admin token and the state are not settled yet")
		return
	}
	if !s.node.Ready() {
		writeError(rc, fasthttp.StatusServiceUnavailable, "no leader known, or the log is not applied yet")
		return
	}
	writeJSON(rc, fasthttp.StatusOK, map[string]string{"status": "ready"})
}

// ready is what /readyz answers 200 to, for the dni_ready metric.
func (s *Server) ready() bool { return s.started() && s.node.Ready() }

// started reports whether the start-up work Options.Started waits for is done.
func (s *Server) started() bool {
	if s.opt.Started == nil {
		return true
	}
	select {
	case <-s.opt.Started:
		return true
	default:
		return false
	}
}

func writeJSON(rc *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = fasthttp.StatusInternalServerError, []byte(`{"error":"cannot encode the response"}`)
	}
	rc.SetStatusCode(status)
	rc.SetContentType("application/json")
	rc.SetBody(append(b, '\n'))
}

// clientIP is the visitor's address: the connection's, or the trusted
// proxy's header's last entry (the address the proxy itself saw).
func (s *Server) clientIP(rc *fasthttp.RequestCtx) string {
	if h := s.opt.ClientIPHeader; h != "" {
		if v := string(rc.Request.Header.Peek(h)); v != "" {
			if i := strings.LastIndexByte(v, ','); i >= 0 {
				v = v[i+1:]
			}
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return rc.RemoteIP().String()
}
