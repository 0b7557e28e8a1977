package httpapi

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// What calls were worth: marking a call (PATCH /v1/calls/{sid}) and the
// cluster's marketing settings (currency, conversion names). The spend and
// the ROAS report are in spend.go, the ad platforms' files in
// conversions.go.

// markRequest is the body of PATCH /v1/calls/{sid}: every field optional.
// The value may come as a number or a string ("120.50").
type markRequest struct {
	Outcome  *string         `json:"outcome"`
	Value    json.RawMessage `json:"value"`
	Currency *string         `json:"currency"`
	Note     *string         `json:"note"`
}

// mark turns the request into the state machine's mark, checking each
// field it can without the state.
func (r *markRequest) mark(sid string) (allocator.CallMark, error) {
	m := allocator.CallMark{SID: sid, At: time.Now()}
	if r.Outcome != nil {
		m.Set |= allocator.MarkOutcome
		m.Outcome = allocator.CallOutcome(*r.Outcome)
		if !m.Outcome.Valid() {
			return m, &allocator.ValidationError{Field: "outcome", Reason: `must be "lead", "sale" or "none", got "` + *r.Outcome + `"`}
		}
	}
	if len(r.Value) > 0 && string(r.Value) != "null" {
		v, err := jsonAmount("value", r.Value)
		if err != nil {
			return m, err
		}
		m.Set |= allocator.MarkValue
		m.Value = v
	}
	if r.Currency != nil {
		m.Set |= allocator.MarkCurrency
		m.Currency = *r.Currency
	}
	if r.Note != nil {
		m.Set |= allocator.MarkNote
		m.Note = *r.Note
	}
	if m.Set == 0 {
		return m, &allocator.ValidationError{Field: "outcome", Reason: "give at least one of outcome, value, currency and note"}
	}
	return m, nil
}

// jsonAmount reads an amount given as a JSON number or string.
func jsonAmount(field string, raw json.RawMessage) (allocator.Money, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return allocator.MoneyFrom(field, f) // NaN and Inf are refused there
	}
	return allocator.ParseMoney(field, s)
}

func (s *Server) getCall(rc *fasthttp.RequestCtx, p []string) {
	c, err := s.Admin(rc).Call(p[0])
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, c)
}

// markCall sets a call's outcome, value and note. The same request twice
// changes nothing the second time.
func (s *Server) markCall(rc *fasthttp.RequestCtx, p []string) {
	var req markRequest
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	m, err := req.mark(p[0])
	if err != nil {
		writeErr(rc, err)
		return
	}
	ctx, cancel := requestContext()
	defer cancel()
	c, err := s.Admin(rc).MarkCall(ctx, m)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, c)
}

// Call returns the call with the SID, or allocator.ErrUnknownCall.
func (a Admin) Call(sid string) (Call, error) {
	c := a.s.node.State().Call(sid)
	if c == nil {
		return Call{}, allocator.ErrUnknownCall
	}
	return callOut(c), nil
}

// MarkCall records a person's verdict on a call, through the cluster.
func (a Admin) MarkCall(ctx context.Context, m allocator.CallMark) (Call, error) {
	if a.s.node.State().Call(m.SID) == nil {
		return Call{}, allocator.ErrUnknownCall
	}
	if _, err := a.s.commitAndWait(ctx, (*fsm.MarkCall)(&m)); err != nil {
		return Call{}, err
	}
	return a.Call(m.SID)
}

// Marketing is the cluster's marketing settings as the API shows them.
type Marketing struct {
	Currency            string `json:"currency"`
	GoogleConversion    string `json:"google_conversion"`
	MicrosoftConversion string `json:"microsoft_conversion"`
}

type marketingRequest struct {
	Currency            *string `json:"currency"`
	GoogleConversion    *string `json:"google_conversion"`
	MicrosoftConversion *string `json:"microsoft_conversion"`
}

func (s *Server) getMarketing(rc *fasthttp.RequestCtx, _ []string) {
	writeJSON(rc, fasthttp.StatusOK, s.Admin(rc).Marketing())
}

func (s *Server) setMarketing(rc *fasthttp.RequestCtx, _ []string) {
	var req marketingRequest
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	m := s.Admin(rc).Marketing()
	for _, f := range []struct {
		v   *string
		dst *string
	}{{req.Currency, &m.Currency}, {req.GoogleConversion, &m.GoogleConversion}, {req.MicrosoftConversion, &m.MicrosoftConversion}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	ctx, cancel := requestContext()
	defer cancel()
	out, err := s.Admin(rc).SetMarketing(ctx, m)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, out)
}

// Marketing returns the cluster's marketing settings.
func (a Admin) Marketing() Marketing {
	m := a.s.node.State().Marketing()
	return Marketing{Currency: m.Currency, GoogleConversion: m.GoogleConversion, MicrosoftConversion: m.MicrosoftConversion}
}

// SetMarketing replaces the marketing settings, checked.
func (a Admin) SetMarketing(ctx context.Context, m Marketing) (Marketing, error) {
	am := allocator.Marketing{Currency: m.Currency, GoogleConversion: m.GoogleConversion, MicrosoftConversion: m.MicrosoftConversion}
	if err := am.Validate(); err != nil {
		return Marketing{}, err
	}
	if _, err := a.s.commitAndWait(ctx, &fsm.SetMarketing{Marketing: am, At: time.Now()}); err != nil {
		return Marketing{}, err
	}
	return a.Marketing(), nil
}

// worthOut fills a call's answer with what it was worth.
func worthOut(out *Call, w *allocator.Worth) {
	out.Outcome = string(w.Outcome)
	if w.Outcome.Converted() || w.Value != 0 {
		out.Value, out.Currency = ptr(w.Value.Float()), w.Currency
	}
	out.Note = w.Note
	switch {
	case w.Outcome == allocator.OutcomeUnset:
	case w.ByHand:
		out.OutcomeBy = "hand"
	default:
		out.OutcomeBy = "rule"
	}
	if !w.OutcomeAt.IsZero() {
		out.OutcomeAt = ptr(w.OutcomeAt)
	}
}
