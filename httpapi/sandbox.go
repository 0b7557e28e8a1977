package httpapi

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/provision/standin"
)

// Sandbox places simulated calls through the Twilio stand-in, which drives
// the webhooks exactly as Twilio would.
type Sandbox = standin.Caller

// sandboxWait bounds how long a simulated call may take: its rings and
// talk are simulated, so only our own webhooks take real time.
const sandboxWait = 15 * time.Second

// sandboxCall places a simulated call to a tracking number and answers once
// it is over, with what the caller and the agent heard and the call as dni
// recorded it: a newcomer sees a call attributed without a Twilio account.
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
	if req.From == "" {
		req.From = "+12125550199"
	}
	switch n := s.node.State().Number(req.To); {
	case !allocator.ValidE164(req.To):
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: "to: must be a tracking number in E.164 form, such as +14155550123", Field: "to"})
		return
	case !allocator.ValidE164(req.From):
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: "from: must be the caller's number in E.164 form", Field: "from"})
		return
	case n == nil || n.State() != allocator.NumberActive:
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: "to: " + req.To + " is not a tracking number in service", Field: "to"})
		return
	}
	c, cancel := context.WithTimeout(context.Background(), sandboxWait)
	defer cancel()
	sid, err := sb.PlaceCall(c, req.To, req.From)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadGateway, "the sandbox could not place the call: "+err.Error())
		return
	}
	trace, err := sb.WaitCall(c, sid)
	if err != nil {
		writeError(ctx, fasthttp.StatusGatewayTimeout, "the simulated call "+sid+" did not end in time: "+err.Error())
		return
	}
	out := map[string]any{"sid": sid, "trace": trace}
	if err := s.node.CatchUp(c); err == nil {
		if call := s.node.State().Call(sid); call != nil {
			out["call"] = callOut(call)
		}
	}
	writeJSON(ctx, fasthttp.StatusCreated, out)
}
