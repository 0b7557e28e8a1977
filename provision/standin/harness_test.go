package standin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"

	"github.com/dni-dev/dni/provision/standin"
)

// startStandin runs a stand-in on a free local port until the test ends.
func startStandin(t testing.TB, opts standin.Options) *standin.Server {
	t.Helper()
	s, err := standin.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hit is one webhook request dni received.
type hit struct {
	path   string
	query  url.Values
	form   url.Values // the POST parameters
	signed bool       // twilio-go's validator accepts X-Twilio-Signature
	agent  string
	ctype  string
}

// fakeDNI plays dni's part: it answers webhooks with TwiML and records
// every request, checking its signature with twilio-go's validator.
type fakeDNI struct {
	srv       *httptest.Server
	validator client.RequestValidator

	mu      sync.Mutex
	answers map[string]func(url.Values) (int, string)
	hits    []hit
}

func newFakeDNI(t testing.TB, authToken string) *fakeDNI {
	t.Helper()
	d := &fakeDNI{validator: client.NewRequestValidator(authToken), answers: map[string]func(url.Values) (int, string){}}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *fakeDNI) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	params := map[string]string{}
	for k, v := range r.PostForm {
		params[k] = v[0]
	}
	fullURL := "http://" + r.Host + r.URL.RequestURI()
	h := hit{
		path: r.URL.Path, query: r.URL.Query(), form: r.PostForm, agent: r.UserAgent(), ctype: r.Header.Get("Content-Type"),
		signed: d.validator.Validate(fullURL, params, r.Header.Get("X-Twilio-Signature")),
	}
	d.mu.Lock()
	d.hits = append(d.hits, h)
	answer := d.answers[r.URL.Path]
	d.mu.Unlock()
	if answer == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	status, body := answer(r.PostForm)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// answer makes path answer with the TwiML that respond builds.
func (d *fakeDNI) answer(path string, respond func(url.Values) string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answers[path] = func(f url.Values) (int, string) { return http.StatusOK, respond(f) }
}

// fail makes path answer with an HTTP error.
func (d *fakeDNI) fail(path string, status int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answers[path] = func(url.Values) (int, string) { return status, "oops" }
}

func (d *fakeDNI) url(path string) string { return d.srv.URL + path }

// hitsOn returns the requests made to path, in order.
func (d *fakeDNI) hitsOn(path string) []hit {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []hit
	for _, h := range d.hits {
		if h.path == path {
			out = append(out, h)
		}
	}
	return out
}

// hooks are a number's webhooks, as form fields of a buy.
type hooks struct {
	voice, voiceMethod, fallback, status string
}

// buy buys phone over the REST API with plain net/http.
func buy(t testing.TB, s *standin.Server, phone string, h hooks) {
	t.Helper()
	form := url.Values{"PhoneNumber": {phone}, "VoiceUrl": {h.voice}, "VoiceFallbackUrl": {h.fallback}, "StatusCallback": {h.status}}
	if h.voiceMethod != "" {
		form.Set("VoiceMethod", h.voiceMethod)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+s.AccountSID()+"/IncomingPhoneNumbers.json",
		strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AccountSID(), s.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("buy %s: %v", phone, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("buy %s: HTTP %d", phone, resp.StatusCode)
	}
}

// response builds TwiML with twilio-go, as dni does.
func response(t testing.TB, verbs ...twiml.Element) string {
	t.Helper()
	doc, err := twiml.Voice(verbs)
	if err != nil {
		t.Fatalf("build TwiML: %v", err)
	}
	return doc
}

// placeAndWait places a call and waits for it to end.
func placeAndWait(t testing.TB, c standin.Caller, to, from string) standin.CallTrace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sid, err := c.PlaceCall(ctx, to, from)
	if err != nil {
		t.Fatalf("PlaceCall: %v", err)
	}
	trace, err := c.WaitCall(ctx, sid)
	if err != nil {
		t.Fatalf("WaitCall: %v", err)
	}
	return trace
}

// kinds lists the kinds of a trace's requests, in order.
func kinds(tr standin.CallTrace) []string {
	var out []string
	for _, r := range tr.Requests {
		out = append(out, r.Kind)
	}
	return out
}
