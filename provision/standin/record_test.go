package standin_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/dni-dev/dni/provision/standin"
)

// voicemailScene is a tracking number whose calls go to voicemail, as dni
// sends them when no one answers; each test sets the voice URL's TwiML.
// The voicemail action thanks the caller.
func voicemailScene(t testing.TB) (*standin.Server, *fakeDNI) {
	t.Helper()
	s := startStandin(t, standin.Options{})
	d := newFakeDNI(t, s.AuthToken())
	buy(t, s, tracked, hooks{voice: d.url("/voice"), status: d.url("/status")})
	d.answer("/voicemail", func(url.Values) string { return response(t, twiml.VoiceSay{Message: "Thanks"}) })
	return s, d
}

// fullRecord is the <Record> dni's voicemail uses.
func fullRecord(d *fakeDNI) twiml.VoiceRecord {
	return twiml.VoiceRecord{
		Action: d.url("/voicemail"), MaxLength: "30", Transcribe: "true",
		TranscribeCallback: d.url("/transcription"), RecordingStatusCallback: d.url("/recording"),
	}
}

func TestVoicemailOfACallerWhoHangsUpCallsActionThenRecordingThenTranscriptionAllSigned(t *testing.T) {
	s, d := voicemailScene(t)
	d.answer("/voice", func(url.Values) string {
		return response(t, twiml.VoiceSay{Message: "greeting"}, fullRecord(d))
	})
	tr := placeAndWait(t, s, tracked, caller)

	if want := []string{"voice", "action", "recording", "transcription", "status"}; !slices.Equal(kinds(tr), want) {
		t.Fatalf("requests %v, want %v", kinds(tr), want)
	}
	if !slices.Equal(tr.Said, []string{"greeting"}) {
		t.Errorf("caller heard %q: the action's TwiML ran after the caller hung up", tr.Said)
	}
	if tr.Status != standin.StatusCompleted || len(tr.Recordings) != 1 {
		t.Fatalf("status %q, recordings %+v", tr.Status, tr.Recordings)
	}
	rec := tr.Recordings[0]
	want := standin.RecordingTrace{SID: rec.SID, Source: standin.SourceRecordVerb, DurationS: 12, Channels: 1,
		Transcription: "completed", Transcript: standin.DefaultMessage}
	if rec != want || len(rec.SID) != 34 || !strings.HasPrefix(rec.SID, "RE") {
		t.Errorf("recording %+v, want %+v", rec, want)
	}
	recURL := s.URL() + "/2010-04-01/Accounts/" + s.AccountSID() + "/Recordings/" + rec.SID

	action := d.hitsOn("/voicemail")[0]
	for k, v := range map[string]string{
		"RecordingUrl": recURL, "RecordingSid": rec.SID, "RecordingDuration": "12", "Digits": "hangup",
		"CallSid": tr.SID, "From": caller, "To": tracked, "CallStatus": "completed",
	} {
		if got := action.form.Get(k); got != v {
			t.Errorf("action %s = %q, want %q", k, got, v)
		}
	}

	status := d.hitsOn("/recording")[0]
	for k, v := range map[string]string{
		"AccountSid": s.AccountSID(), "CallSid": tr.SID, "RecordingSid": rec.SID, "RecordingUrl": recURL,
		"RecordingStatus": "completed", "RecordingDuration": "12", "RecordingChannels": "1",
		"RecordingSource": "RecordVerb", "ErrorCode": "0",
	} {
		if got := status.form.Get(k); got != v {
			t.Errorf("recording status %s = %q, want %q", k, got, v)
		}
	}
	if _, err := time.Parse(time.RFC1123Z, status.form.Get("RecordingStartTime")); err != nil {
		t.Errorf("RecordingStartTime: %v", err)
	}

	tx := d.hitsOn("/transcription")[0]
	for k, v := range map[string]string{
		"TranscriptionText": standin.DefaultMessage, "TranscriptionStatus": "completed", "TranscriptionType": "fast",
		"RecordingSid": rec.SID, "RecordingUrl": recURL, "CallSid": tr.SID, "AccountSid": s.AccountSID(),
		"From": caller, "To": tracked, "CallStatus": "completed",
	} {
		if got := tx.form.Get(k); got != v {
			t.Errorf("transcription %s = %q, want %q", k, got, v)
		}
	}
	if sid := tx.form.Get("TranscriptionSid"); len(sid) != 34 || !strings.HasPrefix(sid, "TR") ||
		!strings.HasSuffix(tx.form.Get("TranscriptionUrl"), "/Transcriptions/"+sid) {
		t.Errorf("TranscriptionSid %q, TranscriptionUrl %q", sid, tx.form.Get("TranscriptionUrl"))
	}
	for _, h := range []hit{action, status, tx} {
		if !h.signed {
			t.Errorf("%s is not signed", h.path)
		}
	}
}

func TestRecordEndsAsTheCallerDoes(t *testing.T) {
	tests := []struct {
		name      string
		message   standin.Message
		duration  string
		digits    string
		actionRan bool // the caller was still on the line to hear it
		words     int  // of the transcript
	}{
		{"hangs up", standin.Message{Seconds: 20, Words: "one two three four"}, "20", "hangup", false, 4},
		{"presses the finish key", standin.Message{Seconds: 8, FinishKey: "#", Words: "one two"}, "8", "#", true, 2},
		{"speaks past maxLength", standin.Message{Seconds: 60, Words: "one two three four"}, "30", "", true, 2},
		{"presses a key that does not finish", standin.Message{Seconds: 8, FinishKey: "5", Words: "one"}, "8", "", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := voicemailScene(t)
			record := fullRecord(d)
			record.FinishOnKey = "#*"
			d.answer("/voice", func(url.Values) string { return response(t, record) })
			s.SetFaults(standin.Faults{Messages: map[string]standin.Message{caller: tt.message}})
			tr := placeAndWait(t, s, tracked, caller)

			action := d.hitsOn("/voicemail")[0].form
			if action.Get("RecordingDuration") != tt.duration || action.Get("Digits") != tt.digits {
				t.Errorf("action heard %s s, Digits %q; want %s s, %q",
					action.Get("RecordingDuration"), action.Get("Digits"), tt.duration, tt.digits)
			}
			if ran := slices.Contains(tr.Said, "Thanks"); ran != tt.actionRan {
				t.Errorf("the action's TwiML ran: %v, want %v", ran, tt.actionRan)
			}
			if got := len(strings.Fields(tr.Recordings[0].Transcript)); got != tt.words {
				t.Errorf("transcript %q, want %d words", tr.Recordings[0].Transcript, tt.words)
			}
		})
	}
}

func TestTranscriptionFailsForRecordingsUnderTwoOrOverOneHundredTwentySeconds(t *testing.T) {
	tests := []struct {
		seconds int
		status  string
	}{{1, "failed"}, {2, "completed"}, {120, "completed"}, {121, "failed"}, {150, "failed"}}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.seconds), func(t *testing.T) {
			s, d := voicemailScene(t)
			record := fullRecord(d)
			record.MaxLength = ""
			d.answer("/voice", func(url.Values) string { return response(t, record) })
			s.SetFaults(standin.Faults{Messages: map[string]standin.Message{"*": {Seconds: tt.seconds}}})
			tr := placeAndWait(t, s, tracked, caller)

			tx := d.hitsOn("/transcription")[0].form
			hasText := tx.Has("TranscriptionText")
			if tx.Get("TranscriptionStatus") != tt.status || hasText != (tt.status == "completed") {
				t.Errorf("transcription %s with text %v", tx.Get("TranscriptionStatus"), hasText)
			}
			if r := tr.Recordings[0]; r.Transcription != tt.status || (r.Transcript != "") != (tt.status == "completed") {
				t.Errorf("trace has %+v", r)
			}
		})
	}
}

func TestSilentCallerLeavesNoRecordingAndTheCallGoesOn(t *testing.T) {
	s, d := voicemailScene(t)
	d.answer("/voice", func(url.Values) string {
		return response(t, fullRecord(d), twiml.VoiceSay{Message: "No message was left"})
	})
	s.SetFaults(standin.Faults{Messages: map[string]standin.Message{caller: {Silent: true}}})
	tr := placeAndWait(t, s, tracked, caller)

	if want := []string{"voice", "status"}; !slices.Equal(kinds(tr), want) {
		t.Errorf("requests %v, want %v", kinds(tr), want)
	}
	if len(tr.Recordings) != 0 || !slices.Equal(tr.Said, []string{"No message was left"}) {
		t.Errorf("recordings %+v, said %q", tr.Recordings, tr.Said)
	}
	if tr.DurationS < 1+5 {
		t.Errorf("duration %d s, want the beep and 5 s of silence at least", tr.DurationS)
	}
}

func TestRecordWithoutActionRequestsTheDocumentAgain(t *testing.T) {
	s, d := voicemailScene(t)
	d.answer("/voice", func(f url.Values) string {
		if f.Has("RecordingSid") {
			return response(t, twiml.VoiceHangup{})
		}
		return response(t, twiml.VoiceRecord{PlayBeep: "false"})
	})
	s.SetFaults(standin.Faults{Messages: map[string]standin.Message{caller: {FinishKey: "1"}}})
	tr := placeAndWait(t, s, tracked, caller)

	if want := []string{"voice", "action", "status"}; !slices.Equal(kinds(tr), want) {
		t.Fatalf("requests %v, want %v", kinds(tr), want)
	}
	if got := d.hitsOn("/voice")[1].form.Get("Digits"); got != "1" {
		t.Errorf("Digits %q, want 1 (any key finishes by default)", got)
	}
}

func TestBridgedDialRecordsDualChannelsAndTellsTheParentCall(t *testing.T) {
	s, d := whisperScene(t)
	d.answer("/voice", func(url.Values) string {
		return response(t, twiml.VoiceDial{
			Action: d.url("/action"), Record: "record-from-answer-dual", RecordingStatusCallback: d.url("/recording"),
			InnerElements: []twiml.Element{twiml.VoiceNumber{PhoneNumber: agent1}},
		})
	})
	s.SetFaults(standin.Faults{Callees: map[string]standin.Callee{agent1: {TalkSeconds: 90}}})
	tr := placeAndWait(t, s, tracked, caller)

	if want := []string{"voice", "action", "recording", "status"}; !slices.Equal(kinds(tr), want) {
		t.Fatalf("requests %v, want %v", kinds(tr), want)
	}
	if len(tr.Recordings) != 1 {
		t.Fatalf("recordings %+v, want one", tr.Recordings)
	}
	rec := tr.Recordings[0]
	if rec.Source != standin.SourceDialVerb || rec.DurationS != 90 || rec.Channels != 2 {
		t.Errorf("recording %+v, want 90 s in 2 channels from the Dial", rec)
	}
	action := d.hitsOn("/action")[0].form
	if action.Get("RecordingSid") != rec.SID || action.Get("RecordingDuration") != "90" ||
		!strings.HasSuffix(action.Get("RecordingUrl"), "/Recordings/"+rec.SID) {
		t.Errorf("action heard %v", action)
	}
	status := d.hitsOn("/recording")[0]
	if !status.signed || status.form.Get("CallSid") != tr.SID || status.form.Get("RecordingChannels") != "2" ||
		status.form.Get("RecordingSource") != "DialVerb" || status.form.Get("RecordingDuration") != "90" {
		t.Errorf("recording status (signed %v) %v", status.signed, status.form)
	}
}

func TestDialRecordingFromRingingIncludesTheRinging(t *testing.T) {
	s, d := whisperScene(t)
	d.answer("/voice", func(url.Values) string {
		return response(t, twiml.VoiceDial{
			Record: "record-from-ringing", InnerElements: []twiml.Element{twiml.VoiceNumber{PhoneNumber: agent1}},
		})
	})
	s.SetFaults(standin.Faults{Callees: map[string]standin.Callee{agent1: {AfterRings: 2, TalkSeconds: 30}}})
	tr := placeAndWait(t, s, tracked, caller)
	if len(tr.Recordings) != 1 || tr.Recordings[0].DurationS != 12+30 || tr.Recordings[0].Channels != 1 {
		t.Errorf("recordings %+v, want one of 42 s in 1 channel", tr.Recordings)
	}
}

func TestDialThatBridgesNoOneRecordsNothing(t *testing.T) {
	s, d := whisperScene(t)
	d.answer("/voice", func(url.Values) string {
		return response(t, twiml.VoiceDial{
			Action: d.url("/action"), Record: "record-from-answer-dual", RecordingStatusCallback: d.url("/recording"),
			InnerElements: []twiml.Element{twiml.VoiceNumber{PhoneNumber: agent1}},
		})
	})
	s.SetFaults(standin.Faults{Callees: map[string]standin.Callee{agent1: {Answer: standin.CalleeNoAnswer}}})
	tr := placeAndWait(t, s, tracked, caller)

	if len(tr.Recordings) != 0 || len(d.hitsOn("/recording")) != 0 {
		t.Errorf("recordings %+v, %d status callbacks", tr.Recordings, len(d.hitsOn("/recording")))
	}
	if f := d.hitsOn("/action")[0].form; f.Has("RecordingSid") || f.Has("RecordingUrl") {
		t.Errorf("action heard of a recording: %v", f)
	}
}
