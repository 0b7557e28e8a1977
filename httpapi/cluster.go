// Handlers for the cluster: the internal API nodes use to forward writes and
// join, and the cluster endpoints operators reach through the admin API or
// the internal one (routes.go says which is which).

package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
)

// requestContext bounds a handler's work; fasthttp's RequestCtx must not
// outlive the handler, so handlers never pass it on.
func requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

func (s *Server) apply(rc *fasthttp.RequestCtx, _ []string) {
	ctx, cancel := requestContext()
	defer cancel()
	entry := bytes.Clone(rc.PostBody())
	receipts, err := s.node.CommitForwarded(ctx, entry)
	if err != nil {
		writeErr(rc, err)
		return
	}
	rc.SetContentType("application/octet-stream")
	rc.SetBody(fsm.EncodeReceipts(receipts))
}

func (s *Server) command(rc *fasthttp.RequestCtx, _ []string) {
	cmd, err := fsm.Decode(rc.PostBody())
	if err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := requestContext()
	defer cancel()
	receipt, err := s.node.Commit(ctx, cmd)
	if err != nil {
		writeErr(rc, err)
		return
	}
	rc.SetContentType("application/octet-stream")
	rc.SetBody(fsm.EncodeReceipts([]fsm.Receipt{receipt}))
}

func (s *Server) join(rc *fasthttp.RequestCtx, _ []string) {
	var req cluster.JoinRequest
	if err := json.Unmarshal(rc.PostBody(), &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, "join request: "+err.Error())
		return
	}
	ctx, cancel := requestContext()
	defer cancel()
	if err := s.node.Join(ctx, req); err != nil {
		writeErr(rc, err)
		return
	}
	rc.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) status(rc *fasthttp.RequestCtx, _ []string) {
	writeJSON(rc, fasthttp.StatusOK, s.node.Status())
}

func (s *Server) members(rc *fasthttp.RequestCtx, _ []string) {
	ctx, cancel := requestContext()
	defer cancel()
	ms, err := s.Admin(rc).Members(ctx)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, ms)
}

func (s *Server) remove(rc *fasthttp.RequestCtx, p []string) {
	id := p[0]
	ctx, cancel := requestContext()
	defer cancel()
	if err := s.node.Remove(ctx, id); err != nil {
		writeErr(rc, err)
		return
	}
	rc.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) transfer(rc *fasthttp.RequestCtx, _ []string) {
	var req struct {
		ID string `json:"id"`
	}
	if body := rc.PostBody(); len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(rc, fasthttp.StatusBadRequest, "leader request: "+err.Error())
			return
		}
	}
	ctx, cancel := requestContext()
	defer cancel()
	if err := s.node.TransferLeadership(ctx, req.ID); err != nil {
		writeErr(rc, err)
		return
	}
	rc.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) backup(rc *fasthttp.RequestCtx, _ []string) {
	ctx, cancel := requestContext()
	defer cancel()
	var buf bytes.Buffer
	if err := s.node.Backup(ctx, &buf); err != nil {
		writeErr(rc, err)
		return
	}
	rc.SetContentType("application/octet-stream")
	rc.SetBody(buf.Bytes())
}

// restore replaces the cluster's state with the backup in the request's
// body, one restore at a time. On the cluster port the body is a stream,
// decoded as it arrives rather than held in memory whole; the cluster
// writes the snapshot Raft installs to a file.
func (s *Server) restore(rc *fasthttp.RequestCtx, _ []string) {
	select {
	case s.restoring <- struct{}{}:
		defer func() { <-s.restoring }()
	default:
		writeError(rc, fasthttp.StatusConflict, "a restore is under way on this node; try again when it is done")
		return
	}
	var body io.Reader = rc.RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(rc.PostBody())
	}
	// Through the admin API, the token that asks keeps access (see
	// fsm.Image.RestoreTokens).
	var by []fsm.Token
	if t, ok := s.tokenFor(rc.Request.Header.Peek("Authorization")); ok {
		by = append(by, t)
	}
	ctx, cancel := requestContext()
	defer cancel()
	if err := s.node.Restore(ctx, bufio.NewReader(io.LimitReader(body, maxRestoreBody)), by...); err != nil {
		writeErr(rc, err)
		return
	}
	rc.SetStatusCode(fasthttp.StatusNoContent)
}
