package provision_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/provision"
	"github.com/dni-dev/dni/provision/standin"
)

// Fixed credentials, alphanumeric as twilio-go demands.
const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
)

// startStandin runs a stand-in for the test's account on a local port.
func startStandin(t *testing.T, opts standin.Options) *standin.Server {
	t.Helper()
	if opts.AccountSID == "" {
		opts.AccountSID, opts.AuthToken = accountSID, authToken
	}
	s, err := standin.New(opts)
	if err != nil {
		t.Fatalf("standin.New: %v", err)
	}
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// twilioAt returns a provider that reaches the stand-in through twilio-go.
func twilioAt(t *testing.T, apiURL string, cfg provision.TwilioConfig) *provision.Twilio {
	t.Helper()
	if cfg.AccountSID == "" {
		cfg.AccountSID, cfg.AuthToken = accountSID, authToken
	}
	cfg.APIURL = apiURL
	p, err := provision.NewTwilio(cfg)
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	return p
}

func hooksFor(pool string) provision.NumberConfig {
	return provision.NumberConfig{
		FriendlyName:   "dni:" + pool,
		VoiceURL:       "https://dni.example/twilio/voice?pool=" + pool,
		FallbackURL:    "https://dni.example/twilio/fallback",
		StatusCallback: "https://dni.example/twilio/status",
	}
}

func TestSearchByAreaCodeFindsNumbersThere(t *testing.T) {
	s := startStandin(t, standin.Options{})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{})
	found, err := p.Search(context.Background(), provision.Query{AreaCode: "415", Limit: 5})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(found) != 5 {
		t.Fatalf("%d numbers, want 5", len(found))
	}
	for _, a := range found {
		if a.AreaCode() != "415" || a.Locality != "San Francisco" || a.Region != "CA" {
			t.Errorf("found %+v", a)
		}
	}
	if got := s.Stats().Searches; got != 1 {
		t.Errorf("%d searches reached the stand-in, want 1", got)
	}
}

func TestSearchNearNumberWidensToNearbyAreaCodesNearestFirst(t *testing.T) {
	s := startStandin(t, standin.Options{})
	s.SetFaults(standin.Faults{ExhaustAreaCodes: []string{"415", "628"}})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{})
	tests := []struct {
		name  string
		query provision.Query
		want  []string // area codes, in the order found
	}{
		{"25 miles by default", provision.Query{NearNumber: "+14155550100", Limit: 1000}, []string{"510", "650"}},
		{"50 miles", provision.Query{NearNumber: "+14155550100", Distance: 50, Limit: 1000}, []string{"510", "650", "408"}},
		{"an area code with no known place", provision.Query{NearNumber: "+19895550100", Limit: 1000}, []string{"989"}},
		{"within one area code", provision.Query{NearNumber: "+14155550100", AreaCode: "650", Limit: 1000}, []string{"650"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, err := p.Search(context.Background(), tt.query)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			var codes []string
			for _, a := range found {
				if len(codes) == 0 || codes[len(codes)-1] != a.AreaCode() {
					codes = append(codes, a.AreaCode())
				}
			}
			if !slices.Equal(codes, tt.want) || len(found) != 100*len(tt.want) {
				t.Errorf("%d numbers in %v, want 100 in each of %v", len(found), codes, tt.want)
			}
		})
	}
}

func TestNumberIsBoughtListedUpdatedAndReleasedOnce(t *testing.T) {
	s := startStandin(t, standin.Options{})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{})
	ctx := context.Background()

	bought, err := p.Buy(ctx, "+14155550123", hooksFor("p1"))
	if err != nil {
		t.Fatalf("Buy: %v", err)
	}
	if bought.E164 != "+14155550123" || !strings.HasPrefix(bought.SID, "PN") || len(bought.SID) != 34 || bought.Config() != hooksFor("p1") {
		t.Fatalf("bought %+v", bought)
	}

	listed, err := p.List(ctx)
	if err != nil || len(listed) != 1 || listed[0] != bought {
		t.Fatalf("List = %+v, %v; want just %+v", listed, err, bought)
	}

	updated, err := p.Update(ctx, bought.SID, hooksFor("p2"))
	if err != nil || updated.Config() != hooksFor("p2") || updated.SID != bought.SID {
		t.Fatalf("Update = %+v, %v", updated, err)
	}
	if listed, _ := p.List(ctx); len(listed) != 1 || listed[0] != updated {
		t.Errorf("after update List = %+v", listed)
	}
	n := s.Numbers()[0]
	if n.VoiceMethod != "POST" || n.VoiceFallbackMethod != "POST" || n.StatusCallbackMethod != "POST" {
		t.Errorf("hooks not all POST: %+v", n)
	}

	if err := p.Release(ctx, bought.SID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := p.Release(ctx, bought.SID); !errors.Is(err, provision.ErrNotFound) {
		t.Errorf("second Release: %v, want ErrNotFound", err)
	}
	if _, err := p.Update(ctx, bought.SID, hooksFor("p1")); !errors.Is(err, provision.ErrNotFound) {
		t.Errorf("Update after release: %v, want ErrNotFound", err)
	}
	if listed, _ := p.List(ctx); len(listed) != 0 {
		t.Errorf("after release List = %+v", listed)
	}
	st := s.Stats()
	if st.Buys != 1 || st.Updates != 2 || st.Releases != 2 || st.Lists != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestListReadsEveryPage(t *testing.T) {
	s := startStandin(t, standin.Options{})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{PageSize: 50})
	ctx := context.Background()
	var want []string
	for i := range 120 {
		e164 := fmt.Sprintf("+1415555%04d", 100+i)
		if i >= 100 {
			e164 = fmt.Sprintf("+1510555%04d", i)
		}
		if _, err := p.Buy(ctx, e164, hooksFor("p1")); err != nil {
			t.Fatalf("Buy %s: %v", e164, err)
		}
		want = append(want, e164)
	}
	before := s.Stats().Lists
	listed, err := p.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var got []string
	for _, o := range listed {
		got = append(got, o.E164)
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %d numbers, want the 120 bought, in order", len(got))
	}
	if pages := s.Stats().Lists - before; pages != 3 {
		t.Errorf("%d pages read, want 3", pages)
	}
}

func TestEveryFaultMapsToItsSentinel(t *testing.T) {
	ctx := context.Background()
	search415 := func(p *provision.Twilio) error {
		_, err := p.Search(ctx, provision.Query{AreaCode: "415"})
		return err
	}
	tests := []struct {
		name   string
		faults standin.Faults
		cfg    provision.TwilioConfig
		op     func(*provision.Twilio) error
		want   error
		code   string // Twilio's code, kept in the message
	}{
		{"wrong token", standin.Faults{}, provision.TwilioConfig{AccountSID: accountSID, AuthToken: "wrong"},
			func(p *provision.Twilio) error { _, err := p.List(ctx); return err }, provision.ErrAuth, "20003"},
		{"sold between search and buy", standin.Faults{TakeOnBuy: 1}, provision.TwilioConfig{},
			func(p *provision.Twilio) error { _, err := p.Buy(ctx, "+14155550100", hooksFor("p1")); return err }, provision.ErrNumberTaken, "21422"},
		{"nothing left", standin.Faults{ExhaustAreaCodes: []string{"415"}}, provision.TwilioConfig{},
			search415, provision.ErrNoNumbers, ""},
		{"invalid area code", standin.Faults{}, provision.TwilioConfig{},
			func(p *provision.Twilio) error { _, err := p.Search(ctx, provision.Query{AreaCode: "123"}); return err }, provision.ErrBadAreaCode, "21451"},
		{"area code that is not a number", standin.Faults{}, provision.TwilioConfig{},
			func(p *provision.Twilio) error { _, err := p.Search(ctx, provision.Query{AreaCode: "4l5"}); return err }, provision.ErrBadAreaCode, ""},
		{"rate limited", standin.Faults{RateLimitNext: 1}, provision.TwilioConfig{}, search415, provision.ErrRateLimited, "20429"},
		{"server error", standin.Faults{FailNext: 1}, provision.TwilioConfig{}, search415, provision.ErrUnavailable, "20500"},
		{"slower than the timeout", standin.Faults{Latency: time.Second}, provision.TwilioConfig{Timeout: 50 * time.Millisecond},
			search415, provision.ErrUnavailable, ""},
		{"unknown number", standin.Faults{}, provision.TwilioConfig{},
			func(p *provision.Twilio) error { return p.Release(ctx, "PN"+strings.Repeat("0", 32)) }, provision.ErrNotFound, "20404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startStandin(t, standin.Options{})
			s.SetFaults(tt.faults)
			err := tt.op(twilioAt(t, s.URL(), tt.cfg))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "twilio: ") || !strings.Contains(err.Error(), tt.code) {
				t.Errorf("message %q does not keep Twilio's code %s", err, tt.code)
			}
		})
	}
}

func TestNumberTakenOnBuyIsNoLongerForSale(t *testing.T) {
	s := startStandin(t, standin.Options{})
	s.SetFaults(standin.Faults{TakeOnBuy: 1})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{})
	ctx := context.Background()
	if _, err := p.Buy(ctx, "+14155550199", hooksFor("p1")); !errors.Is(err, provision.ErrNumberTaken) {
		t.Fatalf("Buy: %v, want ErrNumberTaken", err)
	}
	found, err := p.Search(ctx, provision.Query{AreaCode: "415", Limit: 1})
	if err != nil || len(found) != 1 || found[0].E164 != "+14155550198" {
		t.Errorf("Search = %+v, %v; want the next number", found, err)
	}
	if _, err := p.Buy(ctx, "+14155550199", hooksFor("p1")); !errors.Is(err, provision.ErrNumberTaken) {
		t.Errorf("buying the taken number again: %v, want ErrNumberTaken", err)
	}
	if _, err := p.Buy(ctx, "+14155550198", hooksFor("p1")); err != nil {
		t.Errorf("Buy of the next number: %v", err)
	}
}

func TestUnreachableOrCancelledRequestsAreUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	p := twilioAt(t, closed, provision.TwilioConfig{})
	if _, err := p.List(context.Background()); !errors.Is(err, provision.ErrUnavailable) {
		t.Errorf("List from a closed port: %v, want ErrUnavailable", err)
	}

	s := startStandin(t, standin.Options{})
	s.SetFaults(standin.Faults{Latency: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = twilioAt(t, s.URL(), provision.TwilioConfig{}).List(ctx)
	if !errors.Is(err, provision.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("List past the context's deadline: %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

func TestNumbersSurviveARestartOfTheStandin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	ctx := context.Background()
	first, err := standin.New(standin.Options{AccountSID: accountSID, AuthToken: authToken, StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	url, err := first.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := twilioAt(t, url, provision.TwilioConfig{})
	var bought []provision.Owned
	for _, e164 := range []string{"+12125550100", "+13125550150"} {
		o, err := p.Buy(ctx, e164, hooksFor("p1"))
		if err != nil {
			t.Fatalf("Buy: %v", err)
		}
		bought = append(bought, o)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := startStandin(t, standin.Options{StatePath: path})
	listed, err := twilioAt(t, second.URL(), provision.TwilioConfig{}).List(ctx)
	if err != nil || !slices.Equal(listed, bought) {
		t.Errorf("after restart List = %+v, %v; want %+v", listed, err, bought)
	}
	if _, err := twilioAt(t, second.URL(), provision.TwilioConfig{}).Buy(ctx, "+12125550100", hooksFor("p1")); !errors.Is(err, provision.ErrNumberTaken) {
		t.Errorf("buying a number held before the restart: %v, want ErrNumberTaken", err)
	}
}

func TestAPIURLMayHaveAPathPrefix(t *testing.T) {
	s := startStandin(t, standin.Options{})
	proxy := httptest.NewServer(http.StripPrefix("/twilio", s.Handler()))
	defer proxy.Close()
	p := twilioAt(t, proxy.URL+"/twilio/", provision.TwilioConfig{})
	if _, err := p.Search(context.Background(), provision.Query{AreaCode: "303", Limit: 1}); err != nil {
		t.Errorf("Search through a path prefix: %v", err)
	}
}

func TestNewTwilioRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		cfg  provision.TwilioConfig
	}{
		{"short SID", provision.TwilioConfig{AccountSID: "AC123", AuthToken: authToken}},
		{"SID not an account", provision.TwilioConfig{AccountSID: "PN" + accountSID[2:], AuthToken: authToken}},
		{"no token", provision.TwilioConfig{AccountSID: accountSID}},
		{"token with symbols", provision.TwilioConfig{AccountSID: accountSID, AuthToken: "abc-123"}},
		{"API URL not http", provision.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, APIURL: "ftp://x"}},
		{"negative timeout", provision.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, Timeout: -time.Second}},
		{"page too large", provision.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, PageSize: 1001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := provision.NewTwilio(tt.cfg); err == nil {
				t.Errorf("NewTwilio(%+v) accepted", tt.cfg)
			}
		})
	}
	p, err := provision.NewTwilio(provision.TwilioConfig{AccountSID: accountSID, AuthToken: authToken})
	if err != nil || p.AccountSID() != accountSID || p.AuthToken() != authToken {
		t.Errorf("NewTwilio with good credentials: %v", err)
	}
}
