package standin

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Twilio's defaults and limits for <Record>.
const (
	defaultRecordTimeout = 5 // seconds of silence that end a recording
	defaultFinishOnKey   = "1234567890*#"
	defaultMaxLength     = 3600
	beepSeconds          = 1
	// Twilio transcribes recordings of 2 to 120 seconds; others fail.
	minTranscribed = 2
	maxTranscribed = 120
)

// leaveMessage runs a <Record>: the caller speaks as the Messages fault
// says, and the action hears of the recording. It returns the action's
// document to run, or false when the call ends. An empty recording makes
// no request and goes on with the next verb (empty true), as Twilio does.
func (c *call) leaveMessage(ctx context.Context, v *verb, docURL string) (doc []verb, next string, ok, empty bool) {
	c.answered = true
	if !strings.EqualFold(v.attr("playBeep"), "false") {
		c.clock += beepSeconds
	}
	timeout := positive(v.intAttr("timeout", defaultRecordTimeout), defaultRecordTimeout)
	maxLength := positive(v.intAttr("maxLength", defaultMaxLength), defaultMaxLength)
	finishOn, set := v.lookup("finishOnKey")
	if !set {
		finishOn = defaultFinishOnKey
	}
	m := c.s.message(c.from)
	spoken := m.seconds()
	if spoken == 0 {
		c.clock += timeout
		return nil, "", false, true
	}

	seconds, digits, hungUp := spoken, "", false
	switch {
	case spoken > maxLength:
		seconds = maxLength
	case m.FinishKey == "":
		digits, hungUp = "hangup", true
	case strings.Contains(finishOn, m.FinishKey):
		digits = m.FinishKey
	default: // a key that does not finish: the silence after it does
		c.clock += timeout
	}
	c.clock += seconds
	rec := c.s.newRecording(c.sid, SourceRecordVerb, 1, seconds, cutWords(m.words(), seconds, spoken))
	c.s.calls.edit(c.entry, func(t *CallTrace) {
		t.Recordings = append(t.Recordings, RecordingTrace{SID: rec.sid, Source: rec.source, DurationS: rec.durationS, Channels: rec.channels})
	})

	p := c.inbound()
	if hungUp {
		p.Set("CallStatus", StatusCompleted)
	}
	c.addRecording(p, rec)
	if digits != "" {
		p.Set("Digits", digits)
	}
	action := v.attr("action")
	if action == "" {
		action = docURL
	}
	doc, next, ok = c.follow(ctx, "action", v.attr("method"), docURL, action, p)
	c.recordingStatus(ctx, v, docURL, rec)
	c.transcribe(ctx, v, docURL, rec, hungUp)
	if hungUp {
		// Twilio fetches the action of a caller who hung up but runs none of it.
		return nil, "", false, false
	}
	return doc, next, ok, false
}

// addRecording adds what an action hears of a recording.
func (c *call) addRecording(p url.Values, rec recording) {
	p.Set("RecordingUrl", c.s.recordingURL(rec.sid))
	p.Set("RecordingSid", rec.sid)
	p.Set("RecordingDuration", strconv.Itoa(rec.durationS))
}

// recordingStatus sends the recordingStatusCallback of a <Record> or a
// <Dial record>, if it has one and asks for the completed event.
func (c *call) recordingStatus(ctx context.Context, v *verb, docURL string, rec recording) {
	ref := v.attr("recordingStatusCallback")
	if ref == "" || !slices.Contains(events(v.attr("recordingStatusCallbackEvent")), "completed") {
		return
	}
	p := url.Values{
		"AccountSid":         {c.s.accountSID},
		"CallSid":            {rec.callSID},
		"RecordingSid":       {rec.sid},
		"RecordingUrl":       {c.s.recordingURL(rec.sid)},
		"RecordingStatus":    {"completed"},
		"RecordingDuration":  {strconv.Itoa(rec.durationS)},
		"RecordingChannels":  {strconv.Itoa(rec.channels)},
		"RecordingStartTime": {rec.started.Format(time.RFC1123Z)},
		"RecordingSource":    {rec.source},
		"ErrorCode":          {"0"},
	}
	c.notify(ctx, "recording", v.attr("recordingStatusCallbackMethod"), docURL, ref, p)
}

// transcribe transcribes a <Record>'s recording when asked to (transcribe,
// or a transcribeCallback, which implies it) and POSTs the outcome to the
// transcribeCallback.
func (c *call) transcribe(ctx context.Context, v *verb, docURL string, rec recording, hungUp bool) {
	ref := v.attr("transcribeCallback")
	if ref == "" && !strings.EqualFold(v.attr("transcribe"), "true") {
		return
	}
	status, text := "completed", rec.words
	if rec.durationS < minTranscribed || rec.durationS > maxTranscribed {
		status, text = "failed", ""
	}
	c.s.calls.edit(c.entry, func(t *CallTrace) {
		for i := range t.Recordings {
			if t.Recordings[i].SID == rec.sid {
				t.Recordings[i].Transcription, t.Recordings[i].Transcript = status, text
			}
		}
	})
	if ref == "" {
		return
	}
	tr := newSID("TR")
	callStatus := StatusInProgress
	if hungUp {
		callStatus = StatusCompleted
	}
	p := url.Values{
		"TranscriptionSid":    {tr},
		"TranscriptionStatus": {status},
		"TranscriptionUrl":    {c.s.apiBase() + "/2010-04-01/Accounts/" + c.s.accountSID + "/Transcriptions/" + tr},
		"TranscriptionType":   {"fast"},
		"RecordingSid":        {rec.sid},
		"RecordingUrl":        {c.s.recordingURL(rec.sid)},
		"CallSid":             {c.sid},
		"AccountSid":          {c.s.accountSID},
		"From":                {c.from},
		"To":                  {c.num.PhoneNumber},
		"CallStatus":          {callStatus},
		"ApiVersion":          {apiVersion},
	}
	if status == "completed" {
		p.Set("TranscriptionText", text)
	}
	c.notify(ctx, "transcription", http.MethodPost, docURL, ref, p)
}

// notify sends a callback whose answer is not TwiML, resolving ref
// against the document it came from, and records it in the trace.
func (c *call) notify(ctx context.Context, kind, method, base, ref string, p url.Values) {
	target, err := resolve(base, ref)
	if err != nil {
		c.record(Webhook{Kind: kind, URL: ref, Error: err.Error()})
		return
	}
	hook, _, _ := c.s.webhook(ctx, kind, methodOf(method), target, p)
	c.record(hook)
}

// events reads a recordingStatusCallbackEvent list, separated by spaces
// or commas; Twilio's default is completed alone.
func events(attr string) []string {
	f := strings.FieldsFunc(attr, func(r rune) bool { return r == ' ' || r == ',' })
	if len(f) == 0 {
		return []string{"completed"}
	}
	return f
}

// positive returns n, or def when n is not above zero.
func positive(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
