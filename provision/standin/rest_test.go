package standin_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/provision/standin"
)

// rawCall sends one REST request with plain net/http and decodes the JSON
// answer into a map.
func rawCall(t *testing.T, s *standin.Server, user, pass, method, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	var body *strings.Reader
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
		if len(form) > 0 {
			path += "?" + form.Encode()
		}
	}
	req, _ := http.NewRequest(method, s.URL()+path, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: HTTP %d, body not JSON: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, out
}

func TestRefusalsUseTwiliosErrorShape(t *testing.T) {
	s := startStandin(t, standin.Options{})
	other := "AC" + strings.Repeat("0", 32)
	acct := "/2010-04-01/Accounts/" + s.AccountSID()
	tests := []struct {
		name, user, pass, method, path string
		form                           url.Values
		status, code                   int
	}{
		{"wrong token", s.AccountSID(), "nope", "GET", acct + "/IncomingPhoneNumbers.json", nil, 401, 20003},
		{"another account's path", s.AccountSID(), s.AuthToken(), "GET", "/2010-04-01/Accounts/" + other + "/IncomingPhoneNumbers.json", nil, 401, 20003},
		{"unknown number", s.AccountSID(), s.AuthToken(), "GET", acct + "/IncomingPhoneNumbers/PN" + strings.Repeat("a", 32) + ".json", nil, 404, 20404},
		{"unknown resource", s.AccountSID(), s.AuthToken(), "GET", acct + "/Queues.json", nil, 404, 20404},
		{"bad area code", s.AccountSID(), s.AuthToken(), "GET", acct + "/AvailablePhoneNumbers/US/Local.json", url.Values{"AreaCode": {"123"}}, 400, 21451},
		{"buy with no number", s.AccountSID(), s.AuthToken(), "POST", acct + "/IncomingPhoneNumbers.json", url.Values{}, 400, 21421},
		{"buy outside the inventory", s.AccountSID(), s.AuthToken(), "POST", acct + "/IncomingPhoneNumbers.json", url.Values{"PhoneNumber": {"+14155551234"}}, 400, 21422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawCall(t, s, tt.user, tt.pass, tt.method, tt.path, tt.form)
			if status != tt.status || body["code"] != float64(tt.code) || body["status"] != float64(tt.status) ||
				body["more_info"] != "https://www.twilio.com/docs/errors/"+strconv.Itoa(tt.code) || body["message"] == "" {
				t.Errorf("HTTP %d %v, want %d with code %d", status, body, tt.status, tt.code)
			}
		})
	}
}

func TestSearchAnswersLikeTwilio(t *testing.T) {
	s := startStandin(t, standin.Options{})
	acct := "/2010-04-01/Accounts/" + s.AccountSID()
	status, body := rawCall(t, s, s.AccountSID(), s.AuthToken(), "GET", acct+"/AvailablePhoneNumbers/US/Local.json",
		url.Values{"AreaCode": {"415"}, "PageSize": {"3"}, "VoiceEnabled": {"true"}})
	nums, _ := body["available_phone_numbers"].([]any)
	if status != 200 || len(nums) != 3 || body["next_page_uri"] != nil || body["page_size"] != float64(3) {
		t.Fatalf("HTTP %d %v", status, body)
	}
	first := nums[0].(map[string]any)
	for k, want := range map[string]any{
		"phone_number": "+14155550199", "friendly_name": "(415) 555-0199", "locality": "San Francisco",
		"region": "CA", "iso_country": "US", "latitude": "37.774900", "longitude": "-122.419400",
	} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v", k, first[k], want)
		}
	}
	if caps := first["capabilities"].(map[string]any); caps["voice"] != true || caps["SMS"] != true {
		t.Errorf("capabilities %v", caps)
	}

	// An area code the table does not know has numbers but no place, and
	// then no latitude at all rather than an empty one.
	_, body = rawCall(t, s, s.AccountSID(), s.AuthToken(), "GET", acct+"/AvailablePhoneNumbers/US/Local.json", url.Values{"AreaCode": {"989"}})
	nums = body["available_phone_numbers"].([]any)
	if len(nums) != 50 {
		t.Fatalf("%d numbers in 989, want the default page of 50", len(nums))
	}
	if _, ok := nums[0].(map[string]any)["latitude"]; ok {
		t.Errorf("latitude present for an unknown place: %v", nums[0])
	}

	// Nothing left is an empty list, not an error.
	s.SetFaults(standin.Faults{ExhaustAreaCodes: []string{"415"}})
	status, body = rawCall(t, s, s.AccountSID(), s.AuthToken(), "GET", acct+"/AvailablePhoneNumbers/US/Local.json", url.Values{"AreaCode": {"415"}})
	if nums, _ := body["available_phone_numbers"].([]any); status != 200 || len(nums) != 0 {
		t.Errorf("exhausted area code: HTTP %d %v", status, body)
	}
}

func TestBuyByAreaCodeTakesTheFirstNumberForSaleUntilNoneIsLeft(t *testing.T) {
	s := startStandin(t, standin.Options{})
	path := "/2010-04-01/Accounts/" + s.AccountSID() + "/IncomingPhoneNumbers.json"
	status, body := rawCall(t, s, s.AccountSID(), s.AuthToken(), "POST", path, url.Values{"AreaCode": {"512"}})
	if status != 201 || body["phone_number"] != "+15125550199" || !strings.HasPrefix(body["sid"].(string), "PN") ||
		body["voice_method"] != "POST" || body["uri"] != strings.TrimSuffix(path, ".json")+"/"+body["sid"].(string)+".json" {
		t.Fatalf("HTTP %d %v", status, body)
	}
	if _, err := time.Parse(time.RFC1123Z, body["date_created"].(string)); err != nil {
		t.Errorf("date_created: %v", err)
	}
	s.SetFaults(standin.Faults{ExhaustAreaCodes: []string{"512"}})
	if status, body := rawCall(t, s, s.AccountSID(), s.AuthToken(), "POST", path, url.Values{"AreaCode": {"512"}}); status != 400 || body["code"] != float64(21452) {
		t.Errorf("buy in an exhausted area code: HTTP %d %v, want 400 code 21452", status, body)
	}
}

func TestRemoveNumberTakesItOffTheAccountAndPutsItBackOnSale(t *testing.T) {
	s := startStandin(t, standin.Options{})
	buy(t, s, "+13035550142", hooks{})
	got := s.Numbers()
	if len(got) != 1 || got[0].PhoneNumber != "+13035550142" || got[0].FriendlyName != "(303) 555-0142" {
		t.Fatalf("Numbers() = %+v", got)
	}
	if err := s.RemoveNumber(got[0].SID); err != nil {
		t.Fatalf("RemoveNumber: %v", err)
	}
	if err := s.RemoveNumber("+13035550142"); !errors.Is(err, standin.ErrNotOwned) {
		t.Errorf("removing it again: %v, want ErrNotOwned", err)
	}
	if len(s.Numbers()) != 0 {
		t.Errorf("Numbers() = %+v after removal", s.Numbers())
	}
	buy(t, s, "+13035550142", hooks{})
}

func TestMadeUpCredentialsAndNumbersSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	s, err := standin.New(standin.Options{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	buy(t, s, "+12065550100", hooks{voice: "https://dni.example/voice"})
	s.Close()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Errorf("state file: %v, mode %v; want one only its owner reads", err, info.Mode())
	}

	again, err := standin.New(standin.Options{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.AccountSID() != s.AccountSID() || again.AuthToken() != s.AuthToken() {
		t.Error("the restarted stand-in made up new credentials")
	}
	if got := again.Numbers(); len(got) != 1 || got[0] != s.Numbers()[0] {
		t.Errorf("numbers after restart %+v, want %+v", got, s.Numbers())
	}
}

func TestNewRefusesCredentialsTwilioGoCannotSend(t *testing.T) {
	for _, opts := range []standin.Options{
		{AccountSID: "AC123", AuthToken: "abc"},
		{AccountSID: "AC" + strings.Repeat("a", 32), AuthToken: "not-alphanumeric"},
		{AccountSID: "AC" + strings.Repeat("a", 32)},
	} {
		if s, err := standin.New(opts); err == nil {
			s.Close()
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}
