package allocator

import (
	"errors"
	"testing"
	"time"
)

const (
	reVoicemail = "RE0123456789abcdef0123456789abcdef"
	reTalk      = "RE11111111111111111111111111111111"
)

func TestAVoicemailIsKeptWithItsTranscriptAndMarksTheCall(t *testing.T) {
	s := New()
	addEdgePool(t, s, 1, 4, nil)
	if _, err := s.RecordCall(RecordCall{SID: "CA1", To: e164(1, 0), From: "+12125550001", At: sec(10)}); err != nil {
		t.Fatal(err)
	}
	c, err := s.SaveRecording(SaveRecording{Call: "CA1", At: sec(60), Recording: Recording{
		SID: reVoicemail, Kind: RecordingVoicemail, Status: RecordingCompleted, Duration: 12 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Recordings) != 1 || !c.Voicemail() || c.Outcome != OutcomeVoicemail || c.ByHand || c.Outcome.Converted() {
		t.Fatalf("after a 12 s message: %+v, outcome %q; want one voicemail and the outcome voicemail, no conversion", c.Recordings, c.Outcome)
	}
	c, err = s.SaveRecording(SaveRecording{Call: "CA1", At: sec(90), Recording: Recording{
		SID: reVoicemail, Transcript: "  Please call me back. ", TranscriptStatus: "completed"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Recording(reVoicemail); r.Transcript != "Please call me back." || r.Duration != 12*time.Second || r.Kind != RecordingVoicemail {
		t.Fatalf("the transcript did not join the recording: %+v", r)
	}
	same, _ := s.SaveRecording(SaveRecording{Call: "CA1", At: sec(95), Recording: Recording{SID: reVoicemail, Transcript: "Please call me back."}})
	if same != c {
		t.Error("news that changes nothing made a new call")
	}
	// A person's verdict wins over the voicemail outcome.
	c, err = s.MarkCall(CallMark{SID: "CA1", Set: MarkOutcome, Outcome: OutcomeLead, At: sec(100)})
	if err != nil || c.Outcome != OutcomeLead {
		t.Fatalf("marking the message a lead: %v, %+v", err, c.Worth)
	}
	c, _ = s.SaveRecording(SaveRecording{Call: "CA1", At: sec(120), Recording: Recording{SID: reVoicemail, Status: RecordingDeleted}})
	if r := c.Recording(reVoicemail); r.Status != RecordingDeleted || r.Transcript != "" || r.Playable() || c.Outcome != OutcomeLead {
		t.Fatalf("a deleted recording: %+v, outcome %q", r, c.Outcome)
	}
	c, _ = s.SaveRecording(SaveRecording{Call: "CA1", At: sec(130), Recording: Recording{SID: reVoicemail, Status: RecordingCompleted, Transcript: "back"}})
	if r := c.Recording(reVoicemail); r.Status != RecordingDeleted || r.Transcript != "" {
		t.Fatalf("a deleted recording came back: %+v", r)
	}
}

func TestRecordingNewsBeforeTheCallsRecordIsKept(t *testing.T) {
	s := New()
	addEdgePool(t, s, 1, 4, nil)
	if _, err := s.SaveRecording(SaveRecording{Call: "CA2", At: sec(50), Recording: Recording{
		SID: reTalk, Kind: RecordingConversation, Status: RecordingCompleted, Duration: 40 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.RecordCall(RecordCall{SID: "CA2", To: e164(1, 0), From: "+12125550002", At: sec(10)})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Recording(reTalk); r == nil || r.Kind != RecordingConversation || c.Outcome != OutcomeUnset || c.PoolID != "p1" {
		t.Fatalf("after the record: %+v, outcome %q", c.Recordings, c.Outcome)
	}
}

func TestBadRecordingNewsIsRefused(t *testing.T) {
	s := New()
	for _, tc := range []struct {
		r     SaveRecording
		field string
		is    error
	}{
		{SaveRecording{Call: "CA 1", Recording: Recording{SID: reTalk}}, "", ErrBadCall},
		{SaveRecording{Call: "CA1", Recording: Recording{SID: "RE123"}}, "recording_sid", nil},
		{SaveRecording{Call: "CA1", Recording: Recording{SID: reTalk, Kind: "music"}}, "kind", nil},
		{SaveRecording{Call: "CA1", Recording: Recording{SID: reTalk, Status: "lost"}}, "status", nil},
		{SaveRecording{Call: "CA1", Recording: Recording{SID: reTalk, Duration: -time.Second}}, "duration", nil},
	} {
		tc.r.At = sec(1)
		_, err := s.SaveRecording(tc.r)
		var ve *ValidationError
		if tc.is != nil && !errors.Is(err, tc.is) || tc.is == nil && (!errors.As(err, &ve) || ve.Field != tc.field) {
			t.Errorf("%+v: got %v, want %v%s", tc.r, err, tc.is, tc.field)
		}
	}
	for i := range MaxRecordingsPerCall {
		sid := []byte(reTalk)
		sid[2] = byte('a' + i)
		if _, err := s.SaveRecording(SaveRecording{Call: "CA3", At: sec(1), Recording: Recording{SID: string(sid)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SaveRecording(SaveRecording{Call: "CA3", At: sec(1), Recording: Recording{SID: reVoicemail}}); err == nil {
		t.Errorf("a call took more than %d recordings", MaxRecordingsPerCall)
	}
}
