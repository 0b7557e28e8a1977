package standin_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/dni-dev/dni/provision/standin"
)

const (
	tracked = "+14155550100" // the tracking number called
	caller  = "+12125550123"
	agent1  = "+15105550001"
	agent2  = "+15105550002"
)

// whisperScene is a tracking number whose call is forwarded with a
// whisper, as dni forwards calls.
func whisperScene(t testing.TB) (*standin.Server, *fakeDNI) {
	t.Helper()
	s := startStandin(t, standin.Options{})
	d := newFakeDNI(t, s.AuthToken())
	buy(t, s, tracked, hooks{voice: d.url("/voice?pool=p1"), fallback: d.url("/fallback"), status: d.url("/status")})
	d.answer("/voice", func(url.Values) string {
		return response(t, twiml.VoiceDial{
			Timeout: "30", Action: d.url("/action"), AnswerOnBridge: "true",
			InnerElements: []twiml.Element{twiml.VoiceNumber{PhoneNumber: agent1, Url: d.url("/whisper")}},
		})
	})
	d.answer("/whisper", func(url.Values) string {
		return response(t, twiml.VoiceSay{Message: "Call from Google Ads, spring campaign"})
	})
	d.answer("/action", func(url.Values) string { return response(t, twiml.VoiceHangup{}) })
	return s, d
}

func TestCallIsForwardedWithASignedWhisperAndTheActionHearsItCompleted(t *testing.T) {
	s, d := whisperScene(t)
	tr := placeAndWait(t, s, tracked, caller)

	if tr.Status != standin.StatusCompleted || tr.AnsweredBy != agent1 {
		t.Fatalf("status %q answered by %q, want completed by %s", tr.Status, tr.AnsweredBy, agent1)
	}
	if want := []string{"voice", "whisper", "action", "status"}; !slices.Equal(kinds(tr), want) {
		t.Fatalf("requests %v, want %v", kinds(tr), want)
	}
	if !slices.Equal(tr.Whisper, []string{"Call from Google Ads, spring campaign"}) || len(tr.Said) != 0 {
		t.Errorf("whisper %q, said %q", tr.Whisper, tr.Said)
	}
	if !slices.Equal(tr.Dialed, []string{agent1}) || !slices.Equal(tr.DialTimeouts, []int{30}) {
		t.Errorf("dialed %v with timeouts %v", tr.Dialed, tr.DialTimeouts)
	}

	voice := d.hitsOn("/voice")[0]
	if !voice.signed || voice.agent != "TwilioProxy/1.1" || voice.ctype != "application/x-www-form-urlencoded" {
		t.Errorf("voice request: signed %v, agent %q, type %q", voice.signed, voice.agent, voice.ctype)
	}
	for k, want := range map[string]string{
		"CallSid": tr.SID, "AccountSid": s.AccountSID(), "From": caller, "To": tracked, "Caller": caller,
		"Called": tracked, "CallStatus": "ringing", "ApiVersion": "2010-04-01", "Direction": "inbound",
		"FromCountry": "US", "ToCountry": "US", "FromState": "NY", "ToState": "CA",
	} {
		if got := voice.form.Get(k); got != want {
			t.Errorf("voice %s = %q, want %q", k, got, want)
		}
	}

	whisper := d.hitsOn("/whisper")[0]
	if !whisper.signed || whisper.form.Get("ParentCallSid") != tr.SID || whisper.form.Get("Direction") != "outbound-dial" ||
		whisper.form.Get("To") != agent1 || whisper.form.Get("From") != caller || whisper.form.Get("CallStatus") != "in-progress" {
		t.Errorf("whisper request: signed %v, form %v", whisper.signed, whisper.form)
	}
	child := whisper.form.Get("CallSid")
	if len(child) != 34 || child[:2] != "CA" || child == tr.SID {
		t.Errorf("child leg CallSid %q", child)
	}

	action := d.hitsOn("/action")[0]
	for k, want := range map[string]string{
		"DialCallStatus": "completed", "DialCallSid": child, "DialBridged": "true",
		"DialCallDuration": "42", "CallStatus": "in-progress", "CallSid": tr.SID,
	} {
		if got := action.form.Get(k); got != want {
			t.Errorf("action %s = %q, want %q", k, got, want)
		}
	}
	if !action.signed {
		t.Error("action request is not signed")
	}
}

func TestStatusCallbackCarriesTheOutcomeAndSimulatedDuration(t *testing.T) {
	s, d := whisperScene(t)
	tr := placeAndWait(t, s, tracked, caller)

	st := d.hitsOn("/status")
	if len(st) != 1 || !st[0].signed {
		t.Fatalf("%d status callbacks (signed: %v), want one signed", len(st), len(st) == 1 && st[0].signed)
	}
	f := st[0].form
	if f.Get("CallStatus") != "completed" || f.Get("CallbackSource") != "call-progress-events" ||
		f.Get("SequenceNumber") != "0" || f.Get("CallSid") != tr.SID || f.Get("To") != tracked {
		t.Errorf("status callback form %v", f)
	}
	if d, err := strconv.Atoi(f.Get("CallDuration")); err != nil || d < 6+42 || d != tr.DurationS {
		t.Errorf("CallDuration %q, trace says %d; want the ring, whisper and 42 s of talk", f.Get("CallDuration"), tr.DurationS)
	}
	if _, err := time.Parse(time.RFC1123Z, f.Get("Timestamp")); err != nil {
		t.Errorf("Timestamp %q: %v", f.Get("Timestamp"), err)
	}
}

func TestActionHandlerHuntsToTheNextNumberWhenTheFirstDoesNotAnswer(t *testing.T) {
	s, d := whisperScene(t)
	s.SetFaults(standin.Faults{Callees: map[string]standin.Callee{
		agent1: {Answer: standin.CalleeNoAnswer},
		agent2: {AfterRings: 2, TalkSeconds: 10},
	}})
	d.answer("/action", func(f url.Values) string {
		if f.Get("DialCallStatus") == "completed" {
			return response(t, twiml.VoiceHangup{})
		}
		return response(t, twiml.VoiceDial{
			Timeout: "18", Action: d.url("/action"), AnswerOnBridge: "true",
			InnerElements: []twiml.Element{twiml.VoiceNumber{PhoneNumber: agent2, Url: d.url("/whisper")}},
		})
	})
	tr := placeAndWait(t, s, tracked, caller)

	if tr.Status != standin.StatusCompleted || tr.AnsweredBy != agent2 {
		t.Fatalf("status %q answered by %q, want completed by %s", tr.Status, tr.AnsweredBy, agent2)
	}
	if !slices.Equal(tr.Dialed, []string{agent1, agent2}) || !slices.Equal(tr.DialTimeouts, []int{30, 18}) {
		t.Errorf("dialed %v with timeouts %v", tr.Dialed, tr.DialTimeouts)
	}
	var statuses []string
	for _, h := range d.hitsOn("/action") {
		statuses = append(statuses, h.form.Get("DialCallStatus")+"/"+h.form.Get("DialBridged"))
	}
	if want := []string{"no-answer/false", "completed/true"}; !slices.Equal(statuses, want) {
		t.Errorf("action heard %v, want %v", statuses, want)
	}
	if got := d.hitsOn("/whisper"); len(got) != 1 || got[0].form.Get("To") != agent2 {
		t.Errorf("whispers %v, want one to %s", got, agent2)
	}
	if want := 30 + 12 + 10; tr.DurationS < want {
		t.Errorf("duration %d s, want at least %d", tr.DurationS, want)
	}
}

func TestUnansweredCallKeptRingingByAnswerOnBridgeEndsAsTheDialDid(t *testing.T) {
	tests := []struct {
		name   string
		callee standin.Callee
		want   string
	}{
		{"rings out", standin.Callee{Answer: standin.CalleeNoAnswer}, standin.StatusNoAnswer},
		{"answers after the timeout", standin.Callee{AfterRings: 6}, standin.StatusNoAnswer},
		{"busy", standin.Callee{Answer: standin.CalleeBusy}, standin.StatusBusy},
		{"fails", standin.Callee{Answer: standin.CalleeFails}, standin.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := whisperScene(t)
			s.SetFaults(standin.Faults{Callees: map[string]standin.Callee{agent1: tt.callee}})
			tr := placeAndWait(t, s, tracked, caller)
			if tr.Status != tt.want || tr.AnsweredBy != "" || tr.DurationS != 0 {
				t.Errorf("status %q, answered by %q, %d s; want %q, no one, 0 s", tr.Status, tr.AnsweredBy, tr.DurationS, tt.want)
			}
			if got := d.hitsOn("/action")[0].form.Get("DialCallStatus"); got != tt.want {
				t.Errorf("DialCallStatus %q, want %q", got, tt.want)
			}
			if got := d.hitsOn("/status")[0].form; got.Get("CallStatus") != tt.want || got.Get("CallDuration") != "0" {
				t.Errorf("status callback %s after %s s", got.Get("CallStatus"), got.Get("CallDuration"))
			}
			if len(d.hitsOn("/whisper")) != 0 {
				t.Error("a whisper ran though no one answered")
			}
		})
	}
}

func TestWhisperThatHangsUpRefusesTheCall(t *testing.T) {
	s, d := whisperScene(t)
	d.answer("/whisper", func(url.Values) string {
		return response(t, twiml.VoiceSay{Message: "Press nothing"}, twiml.VoiceHangup{})
	})
	tr := placeAndWait(t, s, tracked, caller)
	if tr.AnsweredBy != "" || tr.Status != standin.StatusNoAnswer {
		t.Errorf("status %q answered by %q; want no-answer, no one", tr.Status, tr.AnsweredBy)
	}
	if got := d.hitsOn("/action")[0].form; got.Get("DialCallStatus") != "no-answer" || got.Get("DialBridged") != "false" {
		t.Errorf("action heard %s bridged %s", got.Get("DialCallStatus"), got.Get("DialBridged"))
	}
}

func TestDialWithoutActionGoesOnToTheNextVerbs(t *testing.T) {
	s, d := whisperScene(t)
	d.answer("/voice", func(url.Values) string {
		return response(t,
			twiml.VoiceSay{Message: "Connecting you"},
			twiml.VoiceDial{Number: agent1, Timeout: "20"},
			twiml.VoiceSay{Message: "Goodbye"},
		)
	})
	tr := placeAndWait(t, s, tracked, caller)
	if !slices.Equal(tr.Said, []string{"Connecting you", "Goodbye"}) || tr.AnsweredBy != agent1 || tr.Status != "completed" {
		t.Errorf("said %q, answered by %q, status %q", tr.Said, tr.AnsweredBy, tr.Status)
	}
	if len(d.hitsOn("/action")) != 0 {
		t.Error("an action was called though the Dial has none")
	}
}

func TestFallbackURLIsCalledWhenTheVoiceURLFails(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(d *fakeDNI)
		code   string
	}{
		{"HTTP 500", func(d *fakeDNI) { d.fail("/voice", http.StatusInternalServerError) }, "11200"},
		{"not TwiML", func(d *fakeDNI) { d.answer("/voice", func(url.Values) string { return "<html>oops" }) }, "12100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := whisperScene(t)
			tt.break_(d)
			d.answer("/fallback", func(url.Values) string {
				return response(t, twiml.VoiceSay{Message: "Sorry, please call back"})
			})
			tr := placeAndWait(t, s, tracked, caller)
			if want := []string{"voice", "fallback", "status"}; !slices.Equal(kinds(tr), want) {
				t.Fatalf("requests %v, want %v", kinds(tr), want)
			}
			fb := d.hitsOn("/fallback")[0]
			if !fb.signed || fb.form.Get("ErrorCode") != tt.code || fb.form.Get("ErrorUrl") != d.url("/voice?pool=p1") ||
				fb.form.Get("CallSid") != tr.SID {
				t.Errorf("fallback request: signed %v, form %v", fb.signed, fb.form)
			}
			if !slices.Equal(tr.Said, []string{"Sorry, please call back"}) || tr.Status != "completed" {
				t.Errorf("said %q, status %q", tr.Said, tr.Status)
			}
		})
	}
}

func TestCallFailsWhenVoiceAndFallbackURLsBothFail(t *testing.T) {
	s, d := whisperScene(t)
	d.fail("/voice", http.StatusBadGateway)
	d.fail("/fallback", http.StatusInternalServerError)
	tr := placeAndWait(t, s, tracked, caller)
	if tr.Status != standin.StatusFailed || tr.Error == "" {
		t.Errorf("status %q, error %q; want failed with a reason", tr.Status, tr.Error)
	}
	if got := d.hitsOn("/status"); len(got) != 1 || got[0].form.Get("CallStatus") != "failed" {
		t.Errorf("status callbacks %v, want one saying failed", got)
	}
	if r := tr.Requests[0]; r.StatusCode != http.StatusBadGateway || r.Body != "oops" || r.Latency <= 0 {
		t.Errorf("voice request recorded as %+v", r)
	}
}

func TestRedirectLoopStopsAfterTwentyDocuments(t *testing.T) {
	s, d := whisperScene(t)
	d.answer("/voice", func(url.Values) string { return response(t, twiml.VoiceRedirect{Url: "/voice"}) })
	tr := placeAndWait(t, s, tracked, caller)
	if n := len(d.hitsOn("/voice")); n != 20 {
		t.Errorf("%d voice documents fetched, want 20", n)
	}
	if tr.Error == "" || tr.Requests[1].Kind != "redirect" {
		t.Errorf("error %q, second request %q", tr.Error, tr.Requests[1].Kind)
	}
}

func TestPlaceCallRefusesNumbersTheAccountDoesNotHold(t *testing.T) {
	s, _ := whisperScene(t)
	ctx := context.Background()
	if _, err := s.PlaceCall(ctx, "+14155550199", caller); !errors.Is(err, standin.ErrNotOwned) {
		t.Errorf("call to a number not held: %v, want ErrNotOwned", err)
	}
	if _, err := s.PlaceCall(ctx, tracked, "anonymous"); !errors.Is(err, standin.ErrBadNumber) {
		t.Errorf("call from %q: %v, want ErrBadNumber", "anonymous", err)
	}
	if _, err := s.Call(ctx, "CA0000"); !errors.Is(err, standin.ErrNoCall) {
		t.Errorf("Call of an unknown SID: %v, want ErrNoCall", err)
	}
}

func TestTwoHundredSimultaneousCallsAllComplete(t *testing.T) {
	s, d := whisperScene(t)
	const calls = 200
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	traces := make([]standin.CallTrace, calls)
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() {
			sid, err := s.PlaceCall(ctx, tracked, "+1212555"+strconv.Itoa(1000+i))
			if err != nil {
				errs[i] = err
				return
			}
			traces[i], errs[i] = s.WaitCall(ctx, sid)
		})
	}
	wg.Wait()
	sids := map[string]bool{}
	for i, tr := range traces {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if tr.Status != standin.StatusCompleted || tr.AnsweredBy != agent1 || len(tr.Requests) != 4 {
			t.Fatalf("call %d: status %q, answered by %q, %d requests", i, tr.Status, tr.AnsweredBy, len(tr.Requests))
		}
		sids[tr.SID] = true
	}
	if len(sids) != calls || len(d.hitsOn("/voice")) != calls || len(d.hitsOn("/status")) != calls {
		t.Errorf("%d distinct SIDs, %d voice and %d status requests; want %d of each",
			len(sids), len(d.hitsOn("/voice")), len(d.hitsOn("/status")), calls)
	}
	if got := s.Stats().Calls; got != calls {
		t.Errorf("Stats().Calls = %d, want %d", got, calls)
	}
}
