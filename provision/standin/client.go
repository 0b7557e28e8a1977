package standin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client drives a stand-in running in another process through its
// sandbox endpoints.
type Client struct {
	URL        string // the stand-in's base URL, such as http://127.0.0.1:1234
	AccountSID string
	AuthToken  string
	HTTP       *http.Client // nil means one with a 30 s timeout
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// PlaceCall starts a simulated inbound call and returns its CallSid.
func (c *Client) PlaceCall(ctx context.Context, to, from string) (string, error) {
	form := url.Values{"To": {to}, "From": {from}}
	var t CallTrace
	err := c.do(ctx, http.MethodPost, c.accountPath()+"/Calls.json", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), &t)
	var e *Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusNotFound:
		return "", fmt.Errorf("call %s: %w: %w", to, ErrNotOwned, err)
	case errors.As(err, &e) && e.Code == codeBadPhoneNumber:
		return "", fmt.Errorf("call %s from %s: %w: %w", to, from, ErrBadNumber, err)
	case err != nil:
		return "", fmt.Errorf("call %s: %w", to, err)
	}
	return t.SID, nil
}

// Call returns the trace of a call, ended or not.
func (c *Client) Call(ctx context.Context, sid string) (CallTrace, error) {
	var t CallTrace
	err := c.do(ctx, http.MethodGet, c.accountPath()+"/Calls/"+url.PathEscape(sid)+".json", "", nil, &t)
	var e *Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusNotFound:
		return CallTrace{}, fmt.Errorf("call %s: %w: %w", sid, ErrNoCall, err)
	case err != nil:
		return CallTrace{}, fmt.Errorf("call %s: %w", sid, err)
	}
	return t, nil
}

// WaitCall polls until the call ends and returns its trace. When ctx ends
// first it returns the last trace read and ctx's error.
func (c *Client) WaitCall(ctx context.Context, sid string) (CallTrace, error) {
	wait := 10 * time.Millisecond
	for {
		t, err := c.Call(ctx, sid)
		if err != nil || t.Ended() {
			return t, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return t, ctx.Err()
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}

// SetFaults replaces the faults in force.
func (c *Client) SetFaults(ctx context.Context, f Faults) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, "/sandbox/faults", "application/json", bytes.NewReader(b), nil); err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	return nil
}

func (c *Client) accountPath() string {
	return "/sandbox/Accounts/" + url.PathEscape(c.AccountSID)
}

// do sends one request and decodes a 2xx answer into out; any other
// answer is returned as the *Error the stand-in sent.
func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.AccountSID, c.AuthToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{}
		if json.Unmarshal(b, e) != nil || e.Code == 0 {
			e = &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}
