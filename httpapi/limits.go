package httpapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/valyala/fasthttp"
)

// Body caps. A request is held to the small ones until its headers say
// who sends it: nobody makes a node read, or reserve memory for, a large
// body before it has authenticated.
const (
	maxAnonymousBody = 8 << 10  // before authentication, and public routes
	maxVisitorBody   = 8 << 10  // a visit or a heartbeat
	maxWebhookBody   = 64 << 10 // a Twilio webhook's form, which its signature covers
	maxPageBody      = 64 << 10 // an admin page's form
	MaxPageUpload    = 1 << 20  // a file uploaded on an admin page (AcceptUploads) by a browser with a cookie
	maxAdminBody     = 1 << 20  // an authenticated admin request
	maxAPIRestore    = 1 << 30  // a restore through the admin API, held in memory
	maxInternalBody  = 64 << 20 // a forwarded batch, from a node of the cluster
	maxRestoreBody   = 16 << 30 // a restore on the cluster port, streamed
	maxBackupBody    = maxRestoreBody
)

// bodyRule is what a request may send: at most limit bytes held in
// memory, or, for a restore on the cluster port, a body streamed as it is
// read.
type bodyRule struct {
	limit  int
	stream bool
}

// bodyRule decides, from the headers alone, how much body a request to the
// HTTP port may send.
func (s *Server) bodyRule(h *fasthttp.RequestHeader) bodyRule {
	path := h.RequestURI()
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if s.pages != nil && bytes.HasPrefix(path, []byte(pagesPrefix)) {
		// The pages check their session cookie themselves; a browser
		// without one cannot be signed in, and sends no file.
		if s.pageUploads[string(path)] && h.IsPost() && len(h.Peek("Cookie")) > 0 {
			return bodyRule{limit: MaxPageUpload}
		}
		return bodyRule{limit: maxPageBody}
	}
	r, _, _ := s.router.find(h.Method(), path)
	if r == nil {
		return bodyRule{limit: maxAnonymousBody}
	}
	switch r.access {
	case visitorAccess:
		return bodyRule{limit: maxVisitorBody}
	case twilioAccess:
		return bodyRule{limit: maxWebhookBody}
	case adminAccess:
		// Only a token whose role may use the route sends it a body: a
		// reporting token's restore upload is refused unread.
		if t, ok := s.tokenFor(h.Peek("Authorization")); ok && t.Role.Allows(r.role) {
			if r.bigBody {
				return bodyRule{limit: maxAPIRestore}
			}
			return bodyRule{limit: maxAdminBody}
		}
	}
	return bodyRule{limit: maxAnonymousBody}
}

// internalBodyRule is bodyRule for the cluster port, whose every client
// proved it belongs to the cluster.
func (s *Server) internalBodyRule(h *fasthttp.RequestHeader) bodyRule {
	if r, _, _ := s.router.find(h.Method(), h.RequestURI()); r != nil && r.bigBody {
		return bodyRule{limit: maxAnonymousBody, stream: true}
	}
	return bodyRule{limit: maxInternalBody}
}

// requestConfig tells fasthttp, once a request's headers are in, how much
// body it may send: the rule's limit. On the HTTP port fasthttp answers a
// larger declared body 413 at once, before reading any of it; on the
// cluster port, which streams bodies, a larger body is left unread and
// bodyFits turns it away unless the rule streams it.
func requestConfig(rule func(*fasthttp.RequestHeader) bodyRule) func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
	return func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		return fasthttp.RequestConfig{MaxRequestBodySize: rule(h).limit}
	}
}

// bodyFits reports whether the request's body keeps to its rule, and
// answers it (413, or 411 for a body of unknown length) when not. A body
// over the limit has not been read, and never is.
func bodyFits(rc *fasthttp.RequestCtx, rule bodyRule) bool {
	n := rc.Request.Header.ContentLength() // -1: chunked, -2: none
	switch {
	case rule.stream, n <= rule.limit && n != -1:
		return true
	case n == -1: // chunked: its length is unknown until read
		rc.SetConnectionClose()
		writeError(rc, fasthttp.StatusLengthRequired, "send the body with a Content-Length")
	default:
		rc.SetConnectionClose()
		writeError(rc, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: at most %d bytes here", rule.limit))
	}
	return false
}

// recoverPanic answers a request whose handler panicked with a 500, and
// counts and logs it: one bad request must not take the node down.
func (s *Server) recoverPanic(rc *fasthttp.RequestCtx, start time.Time) {
	v := recover()
	if v == nil {
		return
	}
	s.metrics.panics.Inc()
	s.log.Error("a handler panicked", "method", string(rc.Method()), "path", string(rc.Path()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	rc.Response.Reset()
	rc.SetConnectionClose()
	writeError(rc, fasthttp.StatusInternalServerError, "the server failed on this request; it is logged")
	s.metrics.request("panic", fasthttp.StatusInternalServerError, time.Since(start))
}

// connLogger takes fasthttp's own messages, about connections it could
// not serve (a body too large, a malformed request: each answered in
// JSON already), at debug level: an attacker must not fill the log.
type connLogger struct{ log *slog.Logger }

func (l connLogger) Printf(format string, args ...any) {
	l.log.Debug("http connection", "msg", fmt.Sprintf(format, args...))
}

// AcceptUploads lets a page's form at path send a file of up to
// MaxPageUpload bytes. The pages call it as Options.Pages builds them,
// before the server serves.
func (s *Server) AcceptUploads(path string) {
	if s.pageUploads == nil {
		s.pageUploads = map[string]bool{}
	}
	s.pageUploads[path] = true
}
