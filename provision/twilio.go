package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TwilioConfig says which Twilio account to use and where to reach it.
type TwilioConfig struct {
	AccountSID string // "AC" and 32 letters or digits
	AuthToken  string // letters and digits
	// APIURL is where the REST API lives: "" for https://api.twilio.com,
	// else the base URL of a stand-in such as http://127.0.0.1:1234.
	APIURL string
	// Timeout bounds each HTTP request; 0 means 10 s.
	Timeout time.Duration
	// PageSize is how many numbers List asks for per page; 0 means 1000,
	// the most Twilio gives.
	PageSize int
}

// Twilio is a Provider backed by a Twilio account, through the official
// twilio-go client.
type Twilio struct {
	cfg    TwilioConfig
	target *url.URL // nil: api.twilio.com itself
}

var (
	_ Provider   = (*Twilio)(nil)
	_ Recordings = (*Twilio)(nil)
)

const (
	defaultTimeout = 10 * time.Second
	maxPageSize    = 1000 // Twilio's most per page
)

// NewTwilio checks cfg and returns a provider for the account. It sends no
// request: wrong credentials show as ErrAuth on the first call.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	if !validAccountSID(cfg.AccountSID) {
		return nil, fmt.Errorf("twilio: account SID %q is not \"AC\" followed by 32 letters or digits", cfg.AccountSID)
	}
	if cfg.AuthToken == "" || !alphanumeric(cfg.AuthToken) {
		return nil, errors.New("twilio: the auth token must be letters and digits, and not empty")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("twilio: timeout %s is negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.PageSize < 0 || cfg.PageSize > maxPageSize {
		return nil, fmt.Errorf("twilio: page size %d is not between 1 and %d", cfg.PageSize, maxPageSize)
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = maxPageSize
	}
	t := &Twilio{cfg: cfg}
	if cfg.APIURL != "" {
		u, err := url.Parse(cfg.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("twilio: API URL %q is not an http or https URL", cfg.APIURL)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		t.target = u
	}
	return t, nil
}

// AccountSID returns the account the provider acts for.
func (t *Twilio) AccountSID() string { return t.cfg.AccountSID }

// AuthToken returns the account's token, which also signs the webhooks
// Twilio sends (X-Twilio-Signature).
func (t *Twilio) AuthToken() string { return t.cfg.AuthToken }

// rest returns Twilio's v2010 REST API bound to ctx. twilio-go takes no
// context, so each call gets a client whose transport carries ctx into
// every request, including the ones that follow next_page_uri.
func (t *Twilio) rest(ctx context.Context) *api.ApiService {
	c := &client.Client{
		Credentials: client.NewCredentials(t.cfg.AccountSID, t.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport: &rewriter{base: http.DefaultTransport, target: t.target, ctx: ctx},
			Timeout:   t.cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	c.SetAccountSid(t.cfg.AccountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c}).Api
}

// rewriter sends twilio-go's requests, all addressed to api.twilio.com, to
// the configured API URL, under the caller's context and the client's
// timeout both.
type rewriter struct {
	base   http.RoundTripper
	target *url.URL
	ctx    context.Context
}

func (r *rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := r.ctx, context.CancelFunc(func() {})
	if deadline, ok := req.Context().Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	out := req.Clone(ctx)
	if r.target != nil {
		out.URL.Scheme = r.target.Scheme
		out.URL.Host = r.target.Host
		out.URL.Path = r.target.Path + out.URL.Path
		out.URL.RawPath = ""
		out.Host = ""
	}
	resp, err := r.base.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends a request's context once its answer has been read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Search lists numbers for sale. An empty answer is ErrNoNumbers.
func (t *Twilio) Search(ctx context.Context, q Query) ([]Available, error) {
	country := q.Country
	if country == "" {
		country = "US"
	}
	op := "search " + describe(q)
	p := &api.ListAvailablePhoneNumberLocalParams{}
	p.SetVoiceEnabled(true)
	if q.AreaCode != "" {
		n, err := strconv.Atoi(q.AreaCode)
		if err != nil || len(q.AreaCode) != 3 {
			return nil, fmt.Errorf("twilio: %s: %w", op, ErrBadAreaCode)
		}
		p.SetAreaCode(n)
	}
	if q.Contains != "" {
		p.SetContains(q.Contains)
	}
	if q.NearNumber != "" {
		p.SetNearNumber(q.NearNumber)
		if q.Distance > 0 {
			p.SetDistance(q.Distance)
		}
	}
	if q.Limit > 0 {
		p.SetPageSize(min(q.Limit, maxPageSize))
		p.SetLimit(q.Limit)
	}
	var out []Available
	if q.Mobile {
		found, err := t.rest(ctx).ListAvailablePhoneNumberMobile(country, mobileParams(p))
		if err != nil {
			return nil, fail(op, err)
		}
		for _, a := range found {
			out = append(out, Available{E164: deref(a.PhoneNumber), Locality: deref(a.Locality), Region: deref(a.Region)})
		}
	} else {
		found, err := t.rest(ctx).ListAvailablePhoneNumberLocal(country, p)
		if err != nil {
			return nil, fail(op, err)
		}
		for _, a := range found {
			out = append(out, Available{E164: deref(a.PhoneNumber), Locality: deref(a.Locality), Region: deref(a.Region)})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("twilio: %s: %w", op, ErrNoNumbers)
	}
	return out, nil
}

// mobileParams asks the mobile numbers' search what p asks the local one.
func mobileParams(p *api.ListAvailablePhoneNumberLocalParams) *api.ListAvailablePhoneNumberMobileParams {
	m := &api.ListAvailablePhoneNumberMobileParams{}
	m.SetVoiceEnabled(true)
	if p.Contains != nil {
		m.SetContains(*p.Contains)
	}
	if p.PageSize != nil {
		m.SetPageSize(*p.PageSize)
	}
	if p.Limit != nil {
		m.SetLimit(*p.Limit)
	}
	return m
}

// describe names a query in errors: "area code 415 near +14155550100".
func describe(q Query) string {
	var parts []string
	if q.AreaCode != "" {
		parts = append(parts, "area code "+q.AreaCode)
	}
	if q.NearNumber != "" {
		parts = append(parts, "near "+q.NearNumber)
	}
	if q.Contains != "" {
		parts = append(parts, "containing "+q.Contains)
	}
	if q.Country != "" && q.Country != "US" {
		parts = append(parts, "in "+q.Country)
	}
	if q.Mobile {
		parts = append(parts, "(mobile)")
	}
	if len(parts) == 0 {
		return "any number"
	}
	return strings.Join(parts, " ")
}

// Buy buys e164 with every hook pointed as cfg says, all called with POST.
func (t *Twilio) Buy(ctx context.Context, e164 string, cfg NumberConfig) (Owned, error) {
	p := &api.CreateIncomingPhoneNumberParams{}
	p.SetPhoneNumber(e164)
	if cfg.FriendlyName != "" {
		p.SetFriendlyName(cfg.FriendlyName)
	}
	p.SetVoiceUrl(cfg.VoiceURL)
	p.SetVoiceMethod(http.MethodPost)
	p.SetVoiceFallbackUrl(cfg.FallbackURL)
	p.SetVoiceFallbackMethod(http.MethodPost)
	p.SetStatusCallback(cfg.StatusCallback)
	p.SetStatusCallbackMethod(http.MethodPost)
	n, err := t.rest(ctx).CreateIncomingPhoneNumber(p)
	if err != nil {
		return Owned{}, fail("buy "+e164, err)
	}
	return owned(n), nil
}

// List returns every number on the account, reading all pages.
func (t *Twilio) List(ctx context.Context) ([]Owned, error) {
	p := &api.ListIncomingPhoneNumberParams{}
	p.SetPageSize(t.cfg.PageSize)
	found, err := t.rest(ctx).ListIncomingPhoneNumber(p)
	if err != nil {
		return nil, fail("list numbers", err)
	}
	out := make([]Owned, 0, len(found))
	for i := range found {
		out = append(out, owned(&found[i]))
	}
	return out, nil
}

// Update sets the number's name and hooks to cfg, empty ones included.
func (t *Twilio) Update(ctx context.Context, sid string, cfg NumberConfig) (Owned, error) {
	p := &api.UpdateIncomingPhoneNumberParams{}
	p.SetFriendlyName(cfg.FriendlyName)
	p.SetVoiceUrl(cfg.VoiceURL)
	p.SetVoiceMethod(http.MethodPost)
	p.SetVoiceFallbackUrl(cfg.FallbackURL)
	p.SetVoiceFallbackMethod(http.MethodPost)
	p.SetStatusCallback(cfg.StatusCallback)
	p.SetStatusCallbackMethod(http.MethodPost)
	n, err := t.rest(ctx).UpdateIncomingPhoneNumber(sid, p)
	if err != nil {
		return Owned{}, fail("update "+sid, err)
	}
	return owned(n), nil
}

// Release gives the number back to Twilio.
func (t *Twilio) Release(ctx context.Context, sid string) error {
	if err := t.rest(ctx).DeleteIncomingPhoneNumber(sid, nil); err != nil {
		return fail("release "+sid, err)
	}
	return nil
}

// RecordingAudio fetches a recording as WAV, which Twilio serves for
// every recording. twilio-go has no call for a recording's media, so this
// is a plain GET with the account's credentials, sent where twilio-go's
// requests go. The timeout bounds the wait for the answer, not the
// reading of the audio, which ctx alone bounds: an hour's recording is
// 58 MB.
func (t *Twilio) RecordingAudio(ctx context.Context, sid string) (io.ReadCloser, string, error) {
	op := "fetch recording " + sid
	if !validRecordingSID(sid) {
		return nil, "", badRecordingSID(op, sid)
	}
	ctx, cancel := context.WithCancel(ctx)
	u := "https://api.twilio.com/2010-04-01/Accounts/" + t.cfg.AccountSID + "/Recordings/" + sid + ".wav"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, "", fmt.Errorf("twilio: %s: %w", op, err)
	}
	req.SetBasicAuth(t.cfg.AccountSID, t.cfg.AuthToken)
	hc := &http.Client{Transport: &rewriter{base: http.DefaultTransport, target: t.target, ctx: ctx}}
	timer := time.AfterFunc(t.cfg.Timeout, cancel)
	resp, err := hc.Do(req)
	if !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, "", fmt.Errorf("twilio: %s: %w: no answer within %s", op, ErrUnavailable, t.cfg.Timeout)
	}
	if err != nil {
		cancel()
		return nil, "", fail(op, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		return nil, "", fail(op, restError(resp))
	}
	return &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, resp.Header.Get("Content-Type"), nil
}

// restError reads Twilio's JSON error from a failed answer, or makes one
// from its status when the body is something else, such as a proxy's page.
func restError(resp *http.Response) *client.TwilioRestError {
	var e client.TwilioRestError
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e); err != nil || e.Status == 0 {
		return &client.TwilioRestError{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
	}
	return &e
}

// DeleteRecording deletes a recording at Twilio.
func (t *Twilio) DeleteRecording(ctx context.Context, sid string) error {
	op := "delete recording " + sid
	if !validRecordingSID(sid) {
		return badRecordingSID(op, sid)
	}
	if err := t.rest(ctx).DeleteRecording(sid, nil); err != nil {
		return fail(op, err)
	}
	return nil
}

// validRecordingSID keeps a SID from reaching a URL path unless it has
// the shape of Twilio's.
func validRecordingSID(s string) bool {
	return len(s) == 34 && strings.HasPrefix(s, "RE") && alphanumeric(s)
}

func badRecordingSID(op, sid string) error {
	return fmt.Errorf("twilio: %s: recording SID %q is not \"RE\" followed by 32 letters or digits", op, sid)
}

func owned(n *api.ApiV2010IncomingPhoneNumber) Owned {
	return Owned{
		SID:            deref(n.Sid),
		E164:           deref(n.PhoneNumber),
		FriendlyName:   deref(n.FriendlyName),
		VoiceURL:       deref(n.VoiceUrl),
		FallbackURL:    deref(n.VoiceFallbackUrl),
		StatusCallback: deref(n.StatusCallback),
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func validAccountSID(s string) bool {
	return len(s) == 34 && strings.HasPrefix(s, "AC") && alphanumeric(s)
}

// alphanumeric is twilio-go's own rule for credentials, which it checks
// before sending anything.
func alphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
