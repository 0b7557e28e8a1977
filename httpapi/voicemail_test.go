package httpapi_test

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision/standin"
)

// recordedCall is a call with its recordings, as the admin API shows it.
type recordedCall struct {
	SID        string `json:"sid"`
	Status     string `json:"status"`
	Outcome    string `json:"outcome"`
	AnsweredBy string `json:"answered_by"`
	Match      string `json:"match"`
	Visit      string `json:"visit"`
	Recordings []struct {
		SID              string `json:"sid"`
		Kind             string `json:"kind"`
		Status           string `json:"status"`
		DurationS        int    `json:"duration_s"`
		Transcript       string `json:"transcript"`
		TranscriptStatus string `json:"transcript_status"`
		AudioURL         string `json:"audio_url"`
	} `json:"recordings"`
}

func (a *testAPI) recordedCall(sid string) recordedCall {
	a.t.Helper()
	var c recordedCall
	a.AdminOK("GET", "/v1/calls/"+sid, nil, http.StatusOK, &c)
	return c
}

// testClock is the clock business hours are read by, set by the test.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) set(t time.Time) { c.ms.Store(t.UnixMilli()) }
func (c *testClock) now() time.Time  { return time.UnixMilli(c.ms.Load()) }
func newYork(t testing.TB) *time.Location {
	t.Helper()
	l, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// wantWAV checks that body is a WAV file of about secs seconds.
func wantWAV(t testing.TB, r testkit.Reply, secs int) {
	t.Helper()
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "audio/x-wav" || len(r.Body) < 44 ||
		!bytes.Equal(r.Body[:4], []byte("RIFF")) || !bytes.Equal(r.Body[8:12], []byte("WAVE")) {
		t.Fatalf("the recording did not play as WAV: %d %s, %d bytes", r.Status, r.Header.Get("Content-Type"), len(r.Body))
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("the audio may be cached: Cache-Control %q", cc)
	}
	rate := binary.LittleEndian.Uint32(r.Body[28:32]) // bytes a second
	if got := (len(r.Body) - 44) / int(rate); got != secs {
		t.Errorf("the audio lasts %d s, want %d", got, secs)
	}
}

func TestAnUnansweredCallReachesVoicemailAndTheMessagePlaysForASignedInUserOnly(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	p := pl.activePool(a, map[string]any{
		"rings": 2, "forward_to": []string{"+14155550100"},
		"voicemail": map[string]any{"on": true, "greeting": "Acme here. Leave a message.", "max_length_s": 60, "transcribe": true},
	})
	pl.Sandbox.SetFaults(standin.Faults{
		Callees:  map[string]standin.Callee{"+14155550100": {Answer: standin.CalleeNoAnswer}},
		Messages: map[string]standin.Message{"*": {Seconds: 9, Words: "This is Dana, please call me back about the boiler."}},
	})
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&gclid=" + adClick})

	trace := pl.call(v.Number, "+12125550140")
	wantWellFormedTwiML(t, trace)
	if !slices.Equal(trace.Dialed, []string{"+14155550100"}) || trace.AnsweredBy != "" {
		t.Fatalf("dialed %v, answered by %q; want the forwarding number, unanswered", trace.Dialed, trace.AnsweredBy)
	}
	if !slices.Contains(trace.Said, "Acme here. Leave a message.") || len(trace.Recordings) != 1 || trace.Recordings[0].DurationS != 9 {
		t.Fatalf("the caller heard %q and left %+v; want the greeting and a 9 s message", trace.Said, trace.Recordings)
	}
	rec := trace.Recordings[0]

	var c recordedCall
	testkit.Eventually(t, "the message and its transcript on the call", func() bool {
		c = a.recordedCall(trace.SID)
		return len(c.Recordings) == 1 && c.Recordings[0].Transcript != "" && c.Recordings[0].Status == "completed"
	})
	got := c.Recordings[0]
	if got.SID != rec.SID || got.Kind != "voicemail" || got.DurationS != 9 || got.TranscriptStatus != "completed" ||
		got.Transcript != "This is Dana, please call me back about the boiler." {
		t.Fatalf("the call's recording is %+v; the stand-in recorded %+v", got, rec)
	}
	if c.Outcome != "voicemail" || c.Match != "live" || c.Visit != v.Visit {
		t.Errorf("the call: outcome %q, match %q, visit %s; want voicemail, attributed to %s", c.Outcome, c.Match, c.Visit, v.Visit)
	}
	if got.AudioURL != httpapi.RecordingAudioPath(trace.SID, rec.SID) {
		t.Fatalf("audio_url %q", got.AudioURL)
	}

	wantWAV(t, a.Admin("GET", got.AudioURL, nil), 9)
	n := pl.Node("n1")
	if r := n.Send("GET", got.AudioURL, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("anyone may play the message: %s", r)
	}
	if r := n.Send("GET", got.AudioURL, nil, "Authorization", "Bearer not-a-token"); r.Status != http.StatusUnauthorized {
		t.Errorf("a wrong token plays the message: %s", r)
	}
	reporting := a.makeToken("listener", "reporting").Token
	wantWAV(t, a.as(reporting).Admin("GET", got.AudioURL, nil), 9)
	if r := a.as(reporting).Admin("DELETE", "/v1/calls/"+trace.SID+"/recordings/"+rec.SID, nil); r.Status != http.StatusForbidden {
		t.Errorf("a reporting token deleted a recording: %s", r)
	}

	var after recordedCall
	a.AdminOK("DELETE", "/v1/calls/"+trace.SID+"/recordings/"+rec.SID, nil, http.StatusOK, &after)
	if r := after.Recordings[0]; r.Status != "deleted" || r.Transcript != "" || r.AudioURL != "" {
		t.Errorf("after the delete the recording is %+v", r)
	}
	if r := a.Admin("GET", got.AudioURL, nil); r.Status != http.StatusGone {
		t.Errorf("a deleted recording still plays: %s", r)
	}
	req, _ := http.NewRequest("GET", pl.Sandbox.URL()+"/2010-04-01/Accounts/"+pl.Sandbox.AccountSID()+"/Recordings/"+rec.SID+".json", nil)
	req.SetBasicAuth(pl.Sandbox.AccountSID(), pl.Sandbox.AuthToken())
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("after the delete Twilio answers %v, %v for the recording; want 404", res.Status, err)
	} else {
		res.Body.Close()
	}
	if r := a.Admin("GET", "/v1/calls/"+trace.SID+"/recordings/RE00000000000000000000000000000000/audio", nil); r.Status != http.StatusNotFound {
		t.Errorf("a recording the call does not have: %s", r)
	}
}

func TestOutsideBusinessHoursACallGoesStraightToVoicemail(t *testing.T) {
	clock := &testClock{}
	ny := newYork(t)
	clock.set(time.Date(2026, 12, 6, 3, 0, 0, 0, ny)) // a Sunday night
	pl := startPhoneLine(t, 1, testkit.Options{HTTP: httpapi.Options{Telephony: httpapi.Telephony{Now: clock.now}}})
	a := api(t, pl.Node("n1"))
	week := map[string]any{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		week[d] = []string{"09:00-17:00"}
	}
	p := pl.activePool(a, map[string]any{
		"forward_to": []string{"+14155550100"}, "whisper": true,
		"voicemail": map[string]any{"on": true},
		"hours":     map[string]any{"on": true, "time_zone": "America/New_York", "week": week, "holidays": []string{"2026-12-25"}},
	})
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&gclid=" + adClick})

	night := pl.call(v.Number, "+12125550141")
	wantWellFormedTwiML(t, night)
	if len(night.Dialed) != 0 || len(night.Recordings) != 1 || !slices.Contains(night.Said, "Sorry, no one can take your call right now. Please leave a message after the tone.") {
		t.Fatalf("a call on Sunday night dialed %v, heard %q, left %+v; want voicemail without a dial", night.Dialed, night.Said, night.Recordings)
	}
	testkit.Eventually(t, "the night call attributed, with its message", func() bool {
		c := a.recordedCall(night.SID)
		return c.Match == "live" && c.Visit == v.Visit && len(c.Recordings) == 1 && c.Outcome == "voicemail"
	})

	clock.set(time.Date(2026, 12, 7, 10, 0, 0, 0, ny)) // Monday morning
	day := pl.call(v.Number, "+12125550142")
	if !slices.Equal(day.Dialed, []string{"+14155550100"}) || day.AnsweredBy != "+14155550100" ||
		!slices.Equal(day.Whisper, []string{"Call from Google Ads"}) || len(day.Recordings) != 0 {
		t.Fatalf("a call on Monday morning dialed %v, answered by %q, whispered %q; want the forwarding number with the whisper",
			day.Dialed, day.AnsweredBy, day.Whisper)
	}

	clock.set(time.Date(2026, 12, 25, 10, 0, 0, 0, ny)) // a holiday, after hours with an after-hours number
	a.AdminOK("PATCH", "/v1/pools/"+p.ID, map[string]any{"hours": map[string]any{"after_hours_forward_to": "+14155550177"}}, http.StatusOK, nil)
	holiday := pl.call(v.Number, "+12125550143")
	if !slices.Equal(holiday.Dialed, []string{"+14155550177"}) || holiday.AnsweredBy != "+14155550177" ||
		!slices.Equal(holiday.Whisper, []string{"Call from Google Ads"}) {
		t.Fatalf("a call on a holiday dialed %v, answered by %q, whispered %q; want the after-hours number with the whisper",
			holiday.Dialed, holiday.AnsweredBy, holiday.Whisper)
	}
}

func TestARecordedPoolSaysItsNoticeBeforeTheDialAndKeepsTheConversation(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	p := pl.activePool(a, map[string]any{"forward_to": []string{"+14155550100"}, "recording": map[string]any{"on": true}})
	var got poolWithAnswering
	a.AdminOK("GET", "/v1/pools/"+p.ID, nil, http.StatusOK, &got)
	if !got.Recording.On || got.Recording.Notice != "This call may be recorded." || got.Voicemail.On {
		t.Fatalf("the pool's recording is %+v, voicemail %+v; want on with the default notice, voicemail off", got.Recording, got.Voicemail)
	}
	pl.Sandbox.SetFaults(standin.Faults{Callees: map[string]standin.Callee{"+14155550100": {TalkSeconds: 75}}})
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example/"})

	trace := pl.call(v.Number, "+12125550144")
	wantWellFormedTwiML(t, trace)
	if len(trace.Said) == 0 || trace.Said[0] != "This call may be recorded." || trace.AnsweredBy != "+14155550100" {
		t.Fatalf("the caller heard %q, answered by %q; want the notice first, then the dial", trace.Said, trace.AnsweredBy)
	}
	if len(trace.Recordings) != 1 || trace.Recordings[0].Source != standin.SourceDialVerb || trace.Recordings[0].DurationS != 75 || trace.Recordings[0].Channels != 2 {
		t.Fatalf("recordings %+v; want the 75 s conversation, two channels", trace.Recordings)
	}
	testkit.Eventually(t, "the conversation on the call", func() bool {
		c := a.recordedCall(trace.SID)
		return len(c.Recordings) == 1 && c.Recordings[0].Kind == "conversation" && c.Recordings[0].Status == "completed" &&
			c.Recordings[0].DurationS == 75 && c.Outcome != "voicemail"
	})
	wantWAV(t, a.Admin("GET", httpapi.RecordingAudioPath(trace.SID, trace.Recordings[0].SID), nil), 75)

	a.AdminOK("PATCH", "/v1/pools/"+p.ID, map[string]any{"recording": map[string]any{"on": false}}, http.StatusOK, nil)
	plain := pl.call(v.Number, "+12125550145")
	if len(plain.Said) != 0 || len(plain.Recordings) != 0 {
		t.Errorf("with recording off the caller heard %q and %d recordings were made", plain.Said, len(plain.Recordings))
	}
}

// poolWithAnswering is a pool's call answering as the admin API shows it.
type poolWithAnswering struct {
	Voicemail httpapi.Voicemail `json:"voicemail"`
	Hours     httpapi.Hours     `json:"hours"`
	Recording httpapi.Recording `json:"recording"`
	Autoscale httpapi.Autoscale `json:"autoscale"`
}

func TestBadCallAnsweringSettingsAreRefusedNamingTheField(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	p := a.createPool(nil)
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"voicemail": map[string]any{"on": true}, "hours": map[string]any{"on": true, "time_zone": "America/New_York",
			"week": map[string]any{"mon": []string{"09:00-12:00", "11:00-17:00"}}}}, "hours.week.mon"},
		{map[string]any{"voicemail": map[string]any{"on": true}, "hours": map[string]any{"on": true, "time_zone": "America/New_York",
			"week": map[string]any{"tue": []string{"17:00-09:00"}}}}, "hours.week.tue"},
		{map[string]any{"voicemail": map[string]any{"on": true}, "hours": map[string]any{"on": true, "time_zone": "America/New_York",
			"week": map[string]any{"wed": []string{"9 to 5"}}}}, "hours.week.wed"},
		{map[string]any{"voicemail": map[string]any{"on": true}, "hours": map[string]any{"on": true, "time_zone": "Mars/Olympus"}}, "hours.time_zone"},
		{map[string]any{"hours": map[string]any{"on": true, "time_zone": "Europe/London", "week": map[string]any{"someday": []string{}}}}, "hours.week"},
		{map[string]any{"voicemail": map[string]any{"use_default": false}, "hours": map[string]any{"on": true, "time_zone": "Europe/London"}},
			"hours.after_hours_forward_to"},
		{map[string]any{"autoscale": map[string]any{"min_size": 20, "max_size": 8}}, "autoscale.min_size"},
		{map[string]any{"voicemail": map[string]any{"greeting": strings.Repeat("Please hold. ", 50)}}, "voicemail.greeting"},
		{map[string]any{"voicemail": map[string]any{"colour": "blue"}}, "voicemail"},
		{map[string]any{"voicemail": "on"}, "voicemail"},
		{map[string]any{"recording": map[string]any{"on": "yes"}}, "recording"},
	} {
		wantProblem(t, a.Admin("PATCH", "/v1/pools/"+p.ID, tc.body), http.StatusBadRequest, tc.field)
		if r := a.Admin("POST", "/v1/pools", poolRequest(tc.body)); r.Status != http.StatusBadRequest {
			t.Errorf("a new pool with %v: %s", tc.body, r)
		}
	}
	var got poolWithAnswering
	a.AdminOK("GET", "/v1/pools/"+p.ID, nil, http.StatusOK, &got)
	if got.Voicemail.On || got.Hours.On || got.Recording.On || got.Autoscale != (httpapi.Autoscale{}) {
		t.Errorf("a refused change changed the pool: %+v", got)
	}
	// A change names only what it changes.
	a.AdminOK("PATCH", "/v1/pools/"+p.ID, map[string]any{"voicemail": map[string]any{"greeting": "Leave a message."}}, http.StatusOK, nil)
	a.AdminOK("PATCH", "/v1/pools/"+p.ID, map[string]any{"voicemail": map[string]any{"on": true}}, http.StatusOK, &got)
	if !got.Voicemail.On || got.Voicemail.Greeting != "Leave a message." || got.Voicemail.MaxLengthS != 120 || got.Voicemail.Language != "en-US" {
		t.Errorf("voicemail after two changes: %+v", got.Voicemail)
	}
}

func TestAPoolOnTheClustersVoicemailGreetsWithItUntilItHasItsOwn(t *testing.T) {
	pl := startPhoneLine(t, 1, testkit.Options{})
	a := api(t, pl.Node("n1"))
	var vm httpapi.Voicemail
	a.AdminOK("PATCH", "/v1/settings/voicemail", map[string]any{"on": true, "greeting": "You have reached Acme. Leave a message."}, http.StatusOK, &vm)
	if !vm.On || vm.Greeting != "You have reached Acme. Leave a message." || vm.MaxLengthS != 120 || vm.UseDefault {
		t.Fatalf("the cluster's voicemail is %+v", vm)
	}
	wantProblem(t, a.Admin("PATCH", "/v1/settings/voicemail", map[string]any{"use_default": true}), http.StatusBadRequest, "voicemail.use_default")
	wantProblem(t, a.Admin("PATCH", "/v1/settings/voicemail", map[string]any{"max_length_s": 9999}), http.StatusBadRequest, "voicemail.max_length_s")
	reporting := a.makeToken("reader", "reporting").Token
	if r := a.as(reporting).Admin("PATCH", "/v1/settings/voicemail", map[string]any{"on": false}); r.Status != http.StatusForbidden {
		t.Errorf("a reporting token changed the cluster's voicemail: %s", r)
	}

	p := pl.activePool(a, map[string]any{"rings": 1, "forward_to": []string{"+14155550100"}})
	var got poolWithAnswering
	a.AdminOK("GET", "/v1/pools/"+p.ID, nil, http.StatusOK, &got)
	if !got.Voicemail.UseDefault {
		t.Fatalf("a new pool does not use the cluster's voicemail: %+v", got.Voicemail)
	}
	pl.Sandbox.SetFaults(standin.Faults{Callees: map[string]standin.Callee{"+14155550100": {Answer: standin.CalleeNoAnswer}}})
	v := a.visit(p.Key, map[string]any{"url": "https://shop.example/"})
	trace := pl.call(v.Number, "+12125550150")
	if !slices.Contains(trace.Said, "You have reached Acme. Leave a message.") || len(trace.Recordings) != 1 {
		t.Fatalf("the caller heard %q and left %d messages; want the cluster's greeting and one", trace.Said, len(trace.Recordings))
	}

	// Voicemail of its own: the pool stops using the cluster's.
	a.AdminOK("PATCH", "/v1/pools/"+p.ID, map[string]any{"voicemail": map[string]any{"on": true, "greeting": "Sales here."}}, http.StatusOK, &got)
	if got.Voicemail.UseDefault || got.Voicemail.Greeting != "Sales here." {
		t.Fatalf("after its own greeting the pool's voicemail is %+v", got.Voicemail)
	}
	trace = pl.call(v.Number, "+12125550151")
	if !slices.Contains(trace.Said, "Sales here.") || slices.Contains(trace.Said, "You have reached Acme. Leave a message.") {
		t.Errorf("the caller heard %q; want the pool's own greeting", trace.Said)
	}
	// And back to the cluster's, which is now off: an unanswered call ends.
	a.AdminOK("PATCH", "/v1/settings/voicemail", map[string]any{"on": false}, http.StatusOK, nil)
	a.AdminOK("PATCH", "/v1/pools/"+p.ID, map[string]any{"voicemail": map[string]any{"use_default": true}}, http.StatusOK, nil)
	trace = pl.call(v.Number, "+12125550152")
	if len(trace.Said) != 0 || len(trace.Recordings) != 0 {
		t.Errorf("with the cluster's voicemail off the caller heard %q and left %d messages", trace.Said, len(trace.Recordings))
	}
}
