package standin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Caller places simulated calls and reads what happened on them: *Server
// in dni's own process, *Client from another one.
type Caller interface {
	PlaceCall(ctx context.Context, to, from string) (callSID string, err error)
	Call(ctx context.Context, sid string) (CallTrace, error)
	WaitCall(ctx context.Context, sid string) (CallTrace, error)
}

var (
	_ Caller = (*Server)(nil)
	_ Caller = (*Client)(nil)
)

// PlaceCall starts a simulated inbound call from from to to, a number the
// account holds, and returns its CallSid at once. The call then runs on
// its own, calling the number's webhooks as Twilio would; ctx bounds only
// the placing, not the call.
func (s *Server) PlaceCall(ctx context.Context, to, from string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !validE164(to) || !validE164(from) {
		return "", fmt.Errorf("call %s from %s: %w", to, from, ErrBadNumber)
	}
	s.mu.Lock()
	rec := s.held.byPhone[to]
	var num Number
	if rec != nil {
		num = rec.Number
	}
	s.mu.Unlock()
	if rec == nil {
		return "", fmt.Errorf("call %s: %w", to, ErrNotOwned)
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return "", ErrClosed
	}
	c := s.newCall(num, from)
	s.running.Add(1)
	s.stats.calls.Add(1)
	go c.run()
	return c.sid, nil
}

// Call returns the trace of a call, ended or not.
func (s *Server) Call(_ context.Context, sid string) (CallTrace, error) {
	e, ok := s.calls.get(sid)
	if !ok {
		return CallTrace{}, fmt.Errorf("call %s: %w", sid, ErrNoCall)
	}
	return s.calls.snapshot(e), nil
}

// WaitCall waits for a call to end, its status callback sent, and returns
// its trace. When ctx ends first it returns the trace so far and ctx's
// error.
func (s *Server) WaitCall(ctx context.Context, sid string) (CallTrace, error) {
	e, ok := s.calls.get(sid)
	if !ok {
		return CallTrace{}, fmt.Errorf("call %s: %w", sid, ErrNoCall)
	}
	select {
	case <-e.done:
		return s.calls.snapshot(e), nil
	case <-ctx.Done():
		return s.calls.snapshot(e), ctx.Err()
	}
}

// newCall registers a call to num and readies it to run.
func (s *Server) newCall(num Number, from string) *call {
	sid := newSID("CA")
	to := num.PhoneNumber
	p := url.Values{
		"CallSid":    {sid},
		"AccountSid": {s.accountSID},
		"From":       {from},
		"To":         {to},
		"Caller":     {from},
		"Called":     {to},
		"ApiVersion": {apiVersion},
		"Direction":  {"inbound"},
	}
	locate(p, from, "From", "Caller")
	locate(p, to, "To", "Called")
	entry := s.calls.add(CallTrace{SID: sid, To: to, From: from, Status: StatusInProgress, StartedAt: time.Now().UTC()})
	return &call{s: s, entry: entry, sid: sid, num: num, from: from, params: p}
}

// locate adds what Twilio knows of where a number is (FromCountry,
// FromState, FromCity and so on) under each prefix.
func locate(p url.Values, e164 string, prefixes ...string) {
	if !strings.HasPrefix(e164, "+1") {
		return
	}
	pl, known := places[e164[2:min(5, len(e164))]]
	for _, prefix := range prefixes {
		p.Set(prefix+"Country", "US")
		if known {
			p.Set(prefix+"State", pl.state)
			p.Set(prefix+"City", strings.ToUpper(pl.city))
		}
	}
}

func (s *Server) placeCallHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, apiError(http.StatusBadRequest, codeInvalidParameter, "Invalid form: %v", err))
		return
	}
	sid, err := s.PlaceCall(r.Context(), r.Form.Get("To"), r.Form.Get("From"))
	switch {
	case errors.Is(err, ErrBadNumber):
		writeError(w, apiError(http.StatusBadRequest, codeBadPhoneNumber, "%v", err))
		return
	case errors.Is(err, ErrNotOwned):
		writeError(w, apiError(http.StatusNotFound, codeNotFound, "%v", err))
		return
	case errors.Is(err, ErrClosed):
		writeError(w, apiError(http.StatusServiceUnavailable, codeUnavailable, "%v", err))
		return
	case err != nil:
		writeError(w, apiError(http.StatusInternalServerError, codeInternal, "%v", err))
		return
	}
	t, err := s.Call(r.Context(), sid)
	if err != nil {
		writeError(w, apiError(http.StatusInternalServerError, codeInternal, "%v", err))
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) callHTTP(w http.ResponseWriter, r *http.Request) {
	t, err := s.Call(r.Context(), jsonSID(r))
	if err != nil {
		writeError(w, errNotFound(r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, t)
}
