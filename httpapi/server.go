// Package httpapi is dni's HTTP surface, served with fasthttp: for now the
// internal API nodes use to forward writes and join, the operator's cluster
// endpoints, health checks and Prometheus metrics (the default registry). Handlers hold no domain rules: they decode,
// call the cluster node, and encode.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/dni-dev/dni/cluster"
)

// Server answers HTTP for one node.
type Server struct {
	node    *cluster.Node
	secret  []byte
	log     *slog.Logger
	srv     *fasthttp.Server
	metrics fasthttp.RequestHandler
}

// SecretHeader carries the cluster secret on internal requests.
const SecretHeader = "X-Dni-Cluster-Secret"

// maxBody caps request bodies; a restore upload is the largest.
const maxBody = 512 << 20

// New returns a server for node. Internal and operator endpoints require the
// cluster secret.
func New(node *cluster.Node, secret string, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		node: node, secret: []byte(secret), log: log,
		metrics: fasthttpadaptor.NewFastHTTPHandler(promhttp.Handler()),
	}
	s.srv = &fasthttp.Server{
		Handler:            s.route,
		Name:               "dni",
		MaxRequestBodySize: maxBody,
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       30 * time.Second,
		IdleTimeout:        time.Minute,
		NoDefaultDate:      true,
	}
	return s
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops taking requests and waits, until ctx ends, for those under
// way.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case path == "/healthz":
		s.healthz(ctx)
	case path == "/readyz":
		s.readyz(ctx)
	case path == "/metrics":
		s.metrics(ctx)
	case strings.HasPrefix(path, "/internal/"):
		if !s.authorized(ctx) {
			writeError(ctx, fasthttp.StatusUnauthorized, "missing or wrong cluster secret")
			return
		}
		s.internal(ctx, strings.TrimPrefix(path, "/internal/v1"))
	default:
		writeError(ctx, fasthttp.StatusNotFound, "no such endpoint")
	}
}

func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	got := ctx.Request.Header.Peek(SecretHeader)
	return len(s.secret) > 0 && subtle.ConstantTimeCompare(got, s.secret) == 1
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	if !s.node.Ready() {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "no leader known, or the log is not applied yet")
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
}

// errorBody is every error response: {"error": "..."}, plus the leader's
// whereabouts when a request needs the leader.
type errorBody struct {
	Error      string `json:"error"`
	NotLeader  bool   `json:"not_leader,omitempty"`
	LeaderID   string `json:"leader_id,omitempty"`
	LeaderHTTP string `json:"leader_http,omitempty"`
}

func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, errorBody{Error: msg})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = fasthttp.StatusInternalServerError, []byte(`{"error":"cannot encode the response"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}
