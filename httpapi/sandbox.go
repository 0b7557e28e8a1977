package httpapi

import (
	"context"
	"errors"
	"fmt"
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

// DefaultSandboxCaller is who a simulated call comes from unless it says.
const DefaultSandboxCaller = "+12125550199"

// Why a simulated call could not be had, beside a bad request.
var (
	ErrNoSandbox       = errors.New("simulated calls exist only in the sandbox (a node started without Twilio credentials)")
	ErrSandboxRefused  = errors.New("the sandbox could not place the call")
	ErrSandboxTimedOut = errors.New("the simulated call did not end in time")
)

// sandboxCall places a simulated call to a tracking number and answers once
// it is over, with what the caller and the agent heard and the call as dni
// recorded it: a newcomer sees a call attributed without a Twilio account.
func (s *Server) sandboxCall(rc *fasthttp.RequestCtx, _ []string) {
	var req struct {
		To   string `json:"to"`
		From string `json:"from"`
	}
	if s.opt.Telephony.Sandbox != nil {
		if err := decodeBody(rc, &req); err != nil {
			writeError(rc, fasthttp.StatusBadRequest, err.Error())
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), sandboxWait)
	defer cancel()
	out, err := s.Admin(rc).SandboxCall(ctx, req.To, req.From)
	switch {
	case errors.Is(err, ErrNoSandbox):
		writeError(rc, fasthttp.StatusNotFound, err.Error())
	case errors.Is(err, ErrSandboxRefused):
		writeError(rc, fasthttp.StatusBadGateway, err.Error())
	case errors.Is(err, ErrSandboxTimedOut):
		writeError(rc, fasthttp.StatusGatewayTimeout, err.Error())
	case err != nil:
		writeErr(rc, err)
	default:
		writeJSON(rc, fasthttp.StatusCreated, out)
	}
}

// Sandboxed reports whether the node runs the sandbox, which places
// simulated calls.
func (a Admin) Sandboxed() bool { return a.s.opt.Telephony.Sandbox != nil }

// SandboxCall places a simulated call from from (DefaultSandboxCaller if
// empty) to a tracking number in service, and returns once the call is
// over, with the call as dni recorded it. ctx bounds the wait.
func (a Admin) SandboxCall(ctx context.Context, to, from string) (SandboxCall, error) {
	sb := a.s.opt.Telephony.Sandbox
	if sb == nil {
		return SandboxCall{}, ErrNoSandbox
	}
	if from == "" {
		from = DefaultSandboxCaller
	}
	switch n := a.s.node.State().Number(to); {
	case !allocator.ValidE164(to):
		return SandboxCall{}, &allocator.ValidationError{Field: "to", Reason: "must be a tracking number in E.164 form, such as +14155550123"}
	case !allocator.ValidE164(from):
		return SandboxCall{}, &allocator.ValidationError{Field: "from", Reason: "must be the caller's number in E.164 form"}
	case n == nil || n.State() != allocator.NumberActive:
		return SandboxCall{}, &allocator.ValidationError{Field: "to", Reason: to + " is not a tracking number in service"}
	}
	sid, err := sb.PlaceCall(ctx, to, from)
	if err != nil {
		return SandboxCall{}, fmt.Errorf("%w: %v", ErrSandboxRefused, err)
	}
	trace, err := sb.WaitCall(ctx, sid)
	if err != nil {
		return SandboxCall{}, fmt.Errorf("%w: call %s: %v", ErrSandboxTimedOut, sid, err)
	}
	out := SandboxCall{SID: sid, Trace: trace}
	if err := a.s.node.CatchUp(ctx); err == nil {
		if call := a.s.node.State().Call(sid); call != nil {
			c := callOut(call)
			out.Call = &c
		}
	}
	return out, nil
}
