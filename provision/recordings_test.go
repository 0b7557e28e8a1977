package provision_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/provision"
	"github.com/dni-dev/dni/provision/standin"
)

// voicemail has a caller leave a message of the given length on a number
// bought through p, and returns the recording's SID.
func voicemail(t *testing.T, s *standin.Server, p *provision.Twilio, seconds int) string {
	t.Helper()
	ctx := context.Background()
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		if r.URL.Path == "/voice" {
			w.Write([]byte(`<Response><Record action="/done"/></Response>`))
			return
		}
		w.Write([]byte(`<Response/>`))
	}))
	t.Cleanup(hooks.Close)
	cfg := hooksFor("p1")
	cfg.VoiceURL = hooks.URL + "/voice"
	o, err := p.Buy(ctx, "+14155550100", cfg)
	if err != nil {
		t.Fatalf("Buy: %v", err)
	}
	s.SetFaults(standin.Faults{Messages: map[string]standin.Message{"*": {Seconds: seconds}}})
	sid, err := s.PlaceCall(ctx, o.E164, "+12125550123")
	if err != nil {
		t.Fatalf("PlaceCall: %v", err)
	}
	tr, err := s.WaitCall(ctx, sid)
	if err != nil || len(tr.Recordings) != 1 {
		t.Fatalf("WaitCall: %v, recordings %+v", err, tr.Recordings)
	}
	return tr.Recordings[0].SID
}

func TestRecordingAudioIsAWAVOfTheRecordingsLength(t *testing.T) {
	s := startStandin(t, standin.Options{})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{})
	sid := voicemail(t, s, p, 7)

	body, ctype, err := p.RecordingAudio(context.Background(), sid)
	if err != nil {
		t.Fatalf("RecordingAudio: %v", err)
	}
	defer body.Close()
	wav, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read the audio: %v", err)
	}
	if ctype != "audio/x-wav" {
		t.Errorf("Content-Type %q, want audio/x-wav", ctype)
	}
	le := binary.LittleEndian
	if len(wav) < 44 || string(wav[:4]) != "RIFF" || string(wav[8:12]) != "WAVE" || string(wav[36:40]) != "data" {
		t.Fatalf("%d bytes without a RIFF/WAVE header", len(wav))
	}
	if rate, bits, data := le.Uint32(wav[24:]), le.Uint16(wav[34:]), le.Uint32(wav[40:]); rate != 8000 || bits != 16 ||
		data != 7*8000*2 || int(data) != len(wav)-44 {
		t.Errorf("%d Hz, %d bits, %d bytes of data in %d; want 7 s of 8 kHz 16-bit", rate, bits, data, len(wav)-44)
	}
}

func TestDeletedRecordingIsNotFound(t *testing.T) {
	s := startStandin(t, standin.Options{})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{})
	sid := voicemail(t, s, p, 5)
	ctx := context.Background()

	if err := p.DeleteRecording(ctx, sid); err != nil {
		t.Fatalf("DeleteRecording: %v", err)
	}
	if _, _, err := p.RecordingAudio(ctx, sid); !errors.Is(err, provision.ErrNotFound) {
		t.Errorf("audio of a deleted recording: %v, want ErrNotFound", err)
	}
	if err := p.DeleteRecording(ctx, sid); !errors.Is(err, provision.ErrNotFound) {
		t.Errorf("deleting it again: %v, want ErrNotFound", err)
	}
}

func TestRecordingMethodsMapRefusalsToSentinels(t *testing.T) {
	s := startStandin(t, standin.Options{})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{})
	sid := voicemail(t, s, p, 5)
	ctx := context.Background()

	wrong := twilioAt(t, s.URL(), provision.TwilioConfig{AccountSID: accountSID, AuthToken: "wrong"})
	if _, _, err := wrong.RecordingAudio(ctx, sid); !errors.Is(err, provision.ErrAuth) {
		t.Errorf("audio with wrong credentials: %v, want ErrAuth", err)
	}
	if err := wrong.DeleteRecording(ctx, sid); !errors.Is(err, provision.ErrAuth) {
		t.Errorf("delete with wrong credentials: %v, want ErrAuth", err)
	}

	s.SetFaults(standin.Faults{FailNext: 1})
	if _, _, err := p.RecordingAudio(ctx, sid); !errors.Is(err, provision.ErrUnavailable) {
		t.Errorf("audio when Twilio fails: %v, want ErrUnavailable", err)
	}

	s.SetFaults(standin.Faults{Latency: time.Second})
	slow := twilioAt(t, s.URL(), provision.TwilioConfig{Timeout: 20 * time.Millisecond})
	if _, _, err := slow.RecordingAudio(ctx, sid); !errors.Is(err, provision.ErrUnavailable) {
		t.Errorf("audio past the timeout: %v, want ErrUnavailable", err)
	}
}

func TestRecordingMethodsRefuseMalformedSIDsWithoutAsking(t *testing.T) {
	s := startStandin(t, standin.Options{})
	p := twilioAt(t, s.URL(), provision.TwilioConfig{})
	ctx := context.Background()
	for _, sid := range []string{"", "RE123", "PN" + strings.Repeat("a", 32), "RE" + strings.Repeat("a", 30) + "/.", "RE" + strings.Repeat("a", 33)} {
		if _, _, err := p.RecordingAudio(ctx, sid); err == nil || !strings.Contains(err.Error(), `"RE" followed by 32`) {
			t.Errorf("RecordingAudio(%q): %v", sid, err)
		}
		if err := p.DeleteRecording(ctx, sid); err == nil || !strings.Contains(err.Error(), `"RE" followed by 32`) {
			t.Errorf("DeleteRecording(%q): %v", sid, err)
		}
	}
	if n := s.Stats().Recordings; n != 0 {
		t.Errorf("%d requests reached the stand-in, want none", n)
	}
}
