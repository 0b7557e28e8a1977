package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
)

// The internal API, under /internal/v1, all behind the cluster secret:
//
//	POST   /apply          an encoded log entry, from a follower; leader only
//	POST   /commands       an encoded command, committed through this node
//	POST   /join           a node asks to be added; leader only
//	GET    /status         this node's view of the cluster
//	GET    /members        every node, its role and status
//	POST   /members        add a node (voter or not); leader only
//	DELETE /members/{id}   remove a node; leader only
//	POST   /leader         hand leadership over ({"id": ...} or to anyone)
//	GET    /backup         a snapshot of the state
//	POST   /restore        replace the state with a snapshot; leader only
func (s *Server) internal(ctx *fasthttp.RequestCtx, path string) {
	method := string(ctx.Method())
	switch {
	case method == "POST" && path == "/apply":
		s.apply(ctx)
	case method == "POST" && path == "/commands":
		s.command(ctx)
	case method == "POST" && (path == "/join" || path == "/members"):
		s.join(ctx)
	case method == "GET" && path == "/status":
		writeJSON(ctx, fasthttp.StatusOK, s.node.Status())
	case method == "GET" && path == "/members":
		s.members(ctx)
	case method == "DELETE" && strings.HasPrefix(path, "/members/"):
		s.remove(ctx, strings.TrimPrefix(path, "/members/"))
	case method == "POST" && path == "/leader":
		s.transfer(ctx)
	case method == "GET" && path == "/backup":
		s.backup(ctx)
	case method == "POST" && path == "/restore":
		s.restore(ctx)
	default:
		writeError(ctx, fasthttp.StatusNotFound, "no such internal endpoint")
	}
}

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
	case errors.Is(err, fsm.ErrBadCommand), errors.Is(err, fsm.ErrUnknownCommand), errors.Is(err, fsm.ErrBadSnapshot):
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
	case errors.Is(err, cluster.ErrNoOtherVoter):
		writeError(ctx, fasthttp.StatusConflict, err.Error())
	case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, cluster.ErrShuttingDown):
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
	default:
		writeError(ctx, fasthttp.StatusInternalServerError, err.Error())
	}
}

func (s *Server) apply(ctx *fasthttp.RequestCtx) {
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

func (s *Server) command(ctx *fasthttp.RequestCtx) {
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

func (s *Server) join(ctx *fasthttp.RequestCtx) {
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

func (s *Server) members(ctx *fasthttp.RequestCtx) {
	c, cancel := requestContext()
	defer cancel()
	ms, err := s.node.Members(c)
	if err != nil {
		clusterError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, ms)
}

func (s *Server) remove(ctx *fasthttp.RequestCtx, id string) {
	c, cancel := requestContext()
	defer cancel()
	if err := s.node.Remove(c, id); err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) transfer(ctx *fasthttp.RequestCtx) {
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

func (s *Server) backup(ctx *fasthttp.RequestCtx) {
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

func (s *Server) restore(ctx *fasthttp.RequestCtx) {
	c, cancel := requestContext()
	defer cancel()
	if err := s.node.Restore(c, bytes.NewReader(bytes.Clone(ctx.PostBody()))); err != nil {
		clusterError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}
