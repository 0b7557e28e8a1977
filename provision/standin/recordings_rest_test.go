package standin_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	"github.com/twilio/twilio-go/twiml"

	"github.com/dni-dev/dni/provision/standin"
)

// toStandin sends twilio-go's requests, addressed to api.twilio.com, to
// the stand-in.
type toStandin struct{ base *url.URL }

func (r toStandin) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = r.base.Scheme, r.base.Host, ""
	return http.DefaultTransport.RoundTrip(out)
}

// twilioGo returns the real twilio-go client, pointed at the stand-in.
func twilioGo(t *testing.T, s *standin.Server) *api.ApiService {
	t.Helper()
	base, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{
		Credentials: client.NewCredentials(s.AccountSID(), s.AuthToken()),
		HTTPClient:  &http.Client{Transport: toStandin{base}, Timeout: 10 * time.Second},
	}
	c.SetAccountSid(s.AccountSID())
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c}).Api
}

// leaveVoicemail places a call whose caller leaves a message of the given
// length, and returns the call's trace and the recording's SID.
func leaveVoicemail(t *testing.T, seconds int) (*standin.Server, standin.CallTrace, string) {
	t.Helper()
	s, d := voicemailScene(t)
	d.answer("/voice", func(url.Values) string { return response(t, twiml.VoiceRecord{Action: d.url("/voicemail")}) })
	s.SetFaults(standin.Faults{Messages: map[string]standin.Message{"*": {Seconds: seconds}}})
	tr := placeAndWait(t, s, tracked, caller)
	if len(tr.Recordings) != 1 {
		t.Fatalf("recordings %+v, want one", tr.Recordings)
	}
	return s, tr, tr.Recordings[0].SID
}

func TestRecordingIsFetchedThroughTwilioGo(t *testing.T) {
	s, tr, sid := leaveVoicemail(t, 17)
	rec, err := twilioGo(t, s).FetchRecording(sid, nil)
	if err != nil {
		t.Fatalf("FetchRecording: %v", err)
	}
	uri := "/2010-04-01/Accounts/" + s.AccountSID() + "/Recordings/" + sid
	for name, c := range map[string]struct{ got, want string }{
		"sid":          {deref(rec.Sid), sid},
		"account_sid":  {deref(rec.AccountSid), s.AccountSID()},
		"call_sid":     {deref(rec.CallSid), tr.SID},
		"duration":     {deref(rec.Duration), "17"},
		"status":       {deref(rec.Status), "completed"},
		"source":       {deref(rec.Source), "RecordVerb"},
		"uri":          {deref(rec.Uri), uri + ".json"},
		"media_url":    {deref(rec.MediaUrl), s.URL() + uri},
		"channels":     {fmt.Sprint(*rec.Channels), "1"},
		"api_version":  {deref(rec.ApiVersion), "2010-04-01"},
		"date_created": {fmt.Sprint(parses(deref(rec.DateCreated))), "true"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", name, c.got, c.want)
		}
	}
}

func TestRecordingAudioIsAWAVAsLongAsTheRecording(t *testing.T) {
	s, _, sid := leaveVoicemail(t, 9)
	for _, ext := range []string{".wav", ""} {
		t.Run("extension "+ext, func(t *testing.T) {
			status, ctype, body := get(t, s, "/Recordings/"+sid+ext, s.AuthToken())
			if status != http.StatusOK || ctype != "audio/x-wav" {
				t.Fatalf("HTTP %d, Content-Type %q", status, ctype)
			}
			w, err := parseWAV(body)
			if err != nil {
				t.Fatalf("not a WAV: %v", err)
			}
			if w.format != 1 || w.channels != 1 || w.rate != 8000 || w.bits != 16 || w.dataLen != 9*8000*2 {
				t.Errorf("WAV %+v, want 9 s of 8 kHz 16-bit mono PCM", w)
			}
		})
	}
}

func TestRecordingRefusalsUseTwiliosErrorShape(t *testing.T) {
	s, _, sid := leaveVoicemail(t, 5)
	tests := []struct {
		name, path, token string
		status, code      int
	}{
		{"mp3, which the stand-in cannot encode", "/Recordings/" + sid + ".mp3", s.AuthToken(), 404, 20404},
		{"an unknown recording", "/Recordings/RE" + strings.Repeat("0", 32) + ".wav", s.AuthToken(), 404, 20404},
		{"wrong credentials", "/Recordings/" + sid + ".wav", "nope", 401, 20003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, body := get(t, s, tt.path, tt.token)
			var e standin.Error
			if err := json.Unmarshal(body, &e); err != nil || status != tt.status || e.Code != tt.code ||
				!strings.HasPrefix(ctype, "application/json") {
				t.Errorf("HTTP %d %s %s, want %d code %d", status, ctype, body, tt.status, tt.code)
			}
		})
	}
}

func TestDeletedRecordingIsGoneForEveryRepresentation(t *testing.T) {
	s, _, sid := leaveVoicemail(t, 5)
	rest := twilioGo(t, s)
	if err := rest.DeleteRecording(sid, nil); err != nil {
		t.Fatalf("DeleteRecording: %v", err)
	}
	var twErr *client.TwilioRestError
	if _, err := rest.FetchRecording(sid, nil); !errors.As(err, &twErr) || twErr.Status != 404 || twErr.Code != 20404 {
		t.Errorf("fetch after delete: %v, want 404 code 20404", err)
	}
	if err := rest.DeleteRecording(sid, nil); !errors.As(err, &twErr) || twErr.Code != 20404 {
		t.Errorf("second delete: %v, want 404 code 20404", err)
	}
	if status, _, _ := get(t, s, "/Recordings/"+sid+".wav", s.AuthToken()); status != http.StatusNotFound {
		t.Errorf("audio after delete: HTTP %d, want 404", status)
	}
}

// get sends an authenticated GET under the account's path.
func get(t *testing.T, s *standin.Server, path, token string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/2010-04-01/Accounts/"+s.AccountSID()+path, nil)
	req.SetBasicAuth(s.AccountSID(), token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// wavInfo is what a WAV file's header says.
type wavInfo struct {
	format, channels uint16
	rate             uint32
	bits             uint16
	dataLen          uint32
}

// parseWAV reads a canonical 44-byte RIFF/WAVE header and checks that the
// sizes it gives match the file.
func parseWAV(b []byte) (wavInfo, error) {
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		return wavInfo{}, errors.New("no RIFF/WAVE header")
	}
	w := wavInfo{format: le.Uint16(b[20:]), channels: le.Uint16(b[22:]), rate: le.Uint32(b[24:]), bits: le.Uint16(b[34:]), dataLen: le.Uint32(b[40:])}
	switch {
	case int(le.Uint32(b[4:])) != len(b)-8:
		return w, fmt.Errorf("RIFF size %d for %d bytes", le.Uint32(b[4:]), len(b))
	case int(w.dataLen) != len(b)-44:
		return w, fmt.Errorf("data size %d for %d bytes of samples", w.dataLen, len(b)-44)
	case le.Uint32(b[28:]) != w.rate*uint32(w.channels)*uint32(w.bits)/8:
		return w, errors.New("byte rate does not match the format")
	}
	if len(b) > 44 && bytes.Count(b[44:], []byte{0}) == len(b)-44 {
		return w, errors.New("the samples are all zero")
	}
	return w, nil
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func parses(rfc2822 string) bool {
	_, err := time.Parse(time.RFC1123Z, rfc2822)
	return err == nil
}
