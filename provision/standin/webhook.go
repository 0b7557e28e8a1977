package standin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Twilio's error codes for a webhook that fails.
const (
	codeHTTPRetrieval = 11200 // no answer, or not 2xx
	codeParseFailure  = 12100 // the answer is not TwiML
)

// hookError is why a webhook failed, with Twilio's code for it.
type hookError struct {
	code int
	err  error
}

func (e *hookError) Error() string { return fmt.Sprintf("%d: %v", e.code, e.err) }

// maxTraceBody is how much of an answer a trace keeps.
const maxTraceBody = 4 << 10

// webhook makes one signed request to dni, as Twilio does, and returns
// its record for the trace and the answer's body. The error is a
// *hookError.
func (s *Server) webhook(ctx context.Context, kind, method, rawURL string, params url.Values) (Webhook, []byte, error) {
	h := Webhook{Kind: kind, URL: rawURL}
	fail := func(err error) (Webhook, []byte, error) {
		h.Error = err.Error()
		return h, nil, &hookError{codeHTTPRetrieval, err}
	}
	req, err := s.hookRequest(ctx, method, rawURL, params)
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	resp, err := s.hooks.Do(req)
	if err != nil {
		h.Latency = time.Since(start)
		return fail(err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTwiML+1))
	resp.Body.Close()
	h.Latency = time.Since(start)
	h.StatusCode = resp.StatusCode
	h.Body = string(body[:min(len(body), maxTraceBody)])
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	return h, body, nil
}

// hookRequest builds a webhook request: a signed form POST, or for GET
// the parameters added to the URL's query and the whole URL signed.
func (s *Server) hookRequest(ctx context.Context, method, rawURL string, params url.Values) (*http.Request, error) {
	var (
		req *http.Request
		err error
	)
	if method == http.MethodGet {
		u, perr := url.Parse(rawURL)
		if perr != nil {
			return nil, perr
		}
		q := u.Query()
		for k, vs := range params {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
		full := u.String()
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, full, nil); err != nil {
			return nil, err
		}
		req.Header.Set("X-Twilio-Signature", Sign(s.authToken, full, nil))
	} else {
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(params.Encode())); err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", Sign(s.authToken, rawURL, params))
	}
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("Accept", "*/*")
	return req, nil
}

// resolve returns ref, a URL in TwiML, made absolute against the URL of
// the document it came from, as Twilio does. An absolute ref is kept as
// written, since it is what gets signed.
func resolve(base, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", fmt.Errorf("empty URL in TwiML")
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	if r.IsAbs() {
		return ref, nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

// methodOf reads a TwiML method attribute: GET, or POST by default.
func methodOf(attr string) string {
	if strings.EqualFold(strings.TrimSpace(attr), http.MethodGet) {
		return http.MethodGet
	}
	return http.MethodPost
}
