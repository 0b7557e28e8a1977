// Handlers for the cluster: the internal API nodes use to forward writes and
// join, and the cluster endpoints operators reach through the admin API or
// the internal one (routes.go says which is which).

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
)

// requestContext bounds a handler's work; fasthttp's RequestCtx must not
// outlive the handler, so handlers never pass it on.
func requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// clusterError answers an error from the cluster node with its status.
func clusterError(ctx *fasthttp.RequestCtx, err error) {
	var nl *cluster.NotLeaderError
	switch {
	case errors.As(err, &nl):
		writeJSON(ctx, fasthttp.StatusConflict, errorBody{Error: nl.Error(), NotLeader: true, LeaderID: nl.LeaderID, LeaderHTTP: nl.LeaderHTTP})
	case errors.Is(err, context.DeadlineExceeded):
		writeError(ctx, fasthttp.StatusServiceUnavailable, "the cluster did not answer in time")
	case errors.Is(err, fsm.ErrBadCommand), errors.Is(err, fsm.ErrUnknownCommand), errors.Is(err, fsm.ErrBadSnapshot),
		errors.Is(err, allocator.ErrCorruptImage), errors.Is(err, cluster.ErrBadJoin):
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
	case errors.Is(err, cluster.ErrUnknownNode):
		writeError(ctx, fasthttp.StatusNotFound, err.Error())
	case errors.Is(err, cluster.ErrRemoveLeader):
		writeError(ctx, fasthttp.StatusConflict, err.Error())
	case errors.Is(err, cluster.ErrNoOtherVoter):
		writeError(ctx, fasthttp.StatusConflict, err.Error())
	case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, cluster.ErrShuttingDown):
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
	default:
		writeError(ctx, fasthttp.StatusInternalServerError, err.Error())
	}
}

func (s *Server) apply(ctx *fasthttp.RequestCtx, _ []string) {
	c, cancel := requestContext()
	defer cancel()
	entry := bytes.Clone(ctx.PostBody())
	index, receipts, err := s.node.ApplyEntry(c, entry)
	if err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetContentType("application/octet-stream")
	ctx.SetBody(fsm.EncodeReceipts(index, receipts))
}

func (s *Server) command(ctx *fasthttp.RequestCtx, _ []string) {
	cmd, err := fsm.Decode(ctx.PostBody())
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	c, cancel := requestContext()
	defer cancel()
	receipt, index, err := s.node.Apply(c, cmd)
	if err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetContentType("application/octet-stream")
	ctx.SetBody(fsm.EncodeReceipts(index, []fsm.Receipt{receipt}))
}

func (s *Server) join(ctx *fasthttp.RequestCtx, _ []string) {
	var req cluster.JoinRequest
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "join request: "+err.Error())
		return
	}
	c, cancel := requestContext()
	defer cancel()
	if err := s.node.Join(c, req); err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) status(ctx *fasthttp.RequestCtx, _ []string) {
	writeJSON(ctx, fasthttp.StatusOK, s.node.Status())
}

func (s *Server) members(ctx *fasthttp.RequestCtx, _ []string) {
	c, cancel := requestContext()
	defer cancel()
	ms, err := s.Admin(ctx).Members(c)
	if err != nil {
		clusterError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, ms)
}

func (s *Server) remove(ctx *fasthttp.RequestCtx, p []string) {
	id := p[0]
	c, cancel := requestContext()
	defer cancel()
	if err := s.node.Remove(c, id); err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) transfer(ctx *fasthttp.RequestCtx, _ []string) {
	var req struct {
		ID string `json:"id"`
	}
	if body := ctx.PostBody(); len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "leader request: "+err.Error())
			return
		}
	}
	c, cancel := requestContext()
	defer cancel()
	if err := s.node.TransferLeadership(c, req.ID); err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) backup(ctx *fasthttp.RequestCtx, _ []string) {
	c, cancel := requestContext()
	defer cancel()
	var buf bytes.Buffer
	if err := s.node.Backup(c, &buf); err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetContentType("application/octet-stream")
	ctx.SetBody(buf.Bytes())
}

func (s *Server) restore(ctx *fasthttp.RequestCtx, _ []string) {
	c, cancel := requestContext()
	defer cancel()
	if err := s.node.Restore(c, bytes.NewReader(bytes.Clone(ctx.PostBody()))); err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}
