package httpapi

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
)

// Sandbox places simulated calls through the local Twilio stand-in, which
// then drives the webhooks exactly as Twilio would.
type Sandbox interface {
	PlaceCall(ctx context.Context, to, from string) (sid string, err error)
}

// sandboxCall places a simulated call to a tracking number, so a newcomer
// sees a call attributed without a Twilio account.
func (s *Server) sandboxCall(ctx *fasthttp.RequestCtx, _ []string) {
	sb := s.opt.Telephony.Sandbox
	if sb == nil {
		writeError(ctx, fasthttp.StatusNotFound, "simulated calls exist only in the sandbox (a node started without Twilio credentials)")
		return
	}
	var req struct {
		To   string `json:"to"`
		From string `json:"from"`
	}
	if err := decodeBody(ctx, &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if !allocator.ValidE164(req.To) {
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: "to: must be a tracking number in E.164 form, such as +14155550123", Field: "to"})
		return
	}
	if req.From == "" {
		req.From = "+12125550199"
	}
	if !allocator.ValidE164(req.From) {
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: "from: must be the caller's number in E.164 form", Field: "from"})
		return
	}
	if n := s.node.State().Number(req.To); n == nil || n.State() != allocator.NumberActive {
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: "to: " + req.To + " is not a tracking number in service", Field: "to"})
		return
	}
	c, cancel := requestContext()
	defer cancel()
	sid, err := sb.PlaceCall(c, req.To, req.From)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadGateway, "the sandbox could not place the call: "+err.Error())
		return
	}
	writeJSON(ctx, fasthttp.StatusCreated, map[string]string{"sid": sid, "to": req.To, "from": req.From})
}
