package standin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

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
