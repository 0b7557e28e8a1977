// The Twilio webhooks: what makes a tracking number ring the business.
//
//	/twilio/voice     a call came in: record it, answer TwiML that dials the
//	                  pool's first forwarding number with a whisper (in
//	                  business hours; else the after-hours number or
//	                  voicemail), after the recording notice if it records
//	/twilio/fallback  Twilio could not reach a node's voice webhook: the same
//	/twilio/dial      the <Dial> ended: done if answered, else the next
//	                  number, and after the last voicemail or the end
//	/twilio/whisper   the agent picked up: "Call from Google Ads"
//	/twilio/status    the call ended: status, duration
//	/twilio/voicemail the caller's message ended (<Record action>): goodbye
//	/twilio/recording a recording is ready (recordingStatusCallback)
//	/twilio/transcription a message's text is ready (transcribeCallback)
//
// Every request must carry a valid X-Twilio-Signature for the public URL it
// was sent to. Answers never wait long on the cluster: Twilio gives a
// webhook seconds, so what a call needs is read from this node's state and
// writes go through the node's outbox when the cluster is slow.
package httpapi

import (
	"context"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"
	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// Telephony configures the Twilio webhooks.
type Telephony struct {
	// PublicURL is the base URL Twilio reaches this cluster at, such as
	// https://calls.example.com: signatures are checked against it, the
	// URLs in TwiML start with it, and so do the pools' install tags.
	// Empty means the request's own scheme and Host header (fine for
	// local use only).
	PublicURL string
	// AuthToken is the Twilio account's auth token, which signs webhooks.
	// Empty refuses every webhook.
	AuthToken string
	// AnswerWithin bounds how long a webhook waits for the cluster to take
	// its write before it answers anyway and keeps the write in the
	// node's outbox. Zero means DefaultAnswerWithin.
	AnswerWithin time.Duration
	// Sandbox, when set, places simulated calls (POST /v1/sandbox/calls).
	Sandbox Sandbox
	// Recordings plays and deletes recordings at the provider; nil
	// answers that recordings are not available here.
	Recordings Recordings
	// Now is the clock business hours are read by; nil means time.Now.
	// Tests set it to call at any hour.
	Now func() time.Time
}

// Recordings plays and deletes the provider's call recordings
// (provision.Twilio).
type Recordings interface {
	// RecordingAudio opens a recording's audio, with its content type.
	RecordingAudio(ctx context.Context, sid string) (io.ReadCloser, string, error)
	// DeleteRecording deletes it; one already gone is provision.ErrNotFound.
	DeleteRecording(ctx context.Context, sid string) error
}

// DefaultAnswerWithin leaves room under Twilio's patience and our own goal
// of answering a call within a second.
const DefaultAnswerWithin = 600 * time.Millisecond

// ringSeconds is one North American ring cycle: Dial's timeout is rings × 6.
const ringSeconds = 6

// twilioAuthorized checks X-Twilio-Signature, answering 403 itself when it
// fails.
func (s *Server) twilioAuthorized(rc *fasthttp.RequestCtx) bool {
	sig := string(rc.Request.Header.Peek("X-Twilio-Signature"))
	if s.opt.Telephony.AuthToken == "" || sig == "" {
		writeError(rc, fasthttp.StatusForbidden, "missing X-Twilio-Signature, or telephony is not configured")
		return false
	}
	v := client.NewRequestValidator(s.opt.Telephony.AuthToken)
	if !v.ValidateBody(s.publicURL(rc)+string(rc.RequestURI()), rc.PostBody(), sig) {
		writeError(rc, fasthttp.StatusForbidden, "invalid X-Twilio-Signature")
		return false
	}
	return true
}

// publicURL is the base URL Twilio calls, without a trailing slash; the
// install tags load dni.js from it too.
func (s *Server) publicURL(rc *fasthttp.RequestCtx) string {
	if u := s.opt.Telephony.PublicURL; u != "" {
		return strings.TrimRight(u, "/")
	}
	scheme := "http"
	if rc.IsTLS() {
		scheme = "https"
	}
	return scheme + "://" + string(rc.Host())
}

// voice answers an incoming call: it records the call (through the outbox
// if the cluster is slow) and dials the pool's first forwarding number.
func (s *Server) voice(rc *fasthttp.RequestCtx, _ []string) {
	form := rc.PostArgs()
	sid, to, from := string(form.Peek("CallSid")), string(form.Peek("To")), string(form.Peek("From"))
	if sid == "" || to == "" {
		writeError(rc, fasthttp.StatusBadRequest, "CallSid and To are required")
		return
	}
	if code := form.Peek("ErrorCode"); len(code) > 0 {
		s.log.Warn("Twilio fell back after the voice webhook failed", "call", sid, "error_code", string(code), "url", string(form.Peek("ErrorUrl")))
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	s.keep(&fsm.RecordCall{SID: sid, To: to, From: from, At: now})
	n := s.node.State().Number(to)
	if n == nil {
		s.log.Warn("a call to a number no pool has", "call", sid, "to", to)
		writeTwiML(rc, twiml.VoiceSay{Message: "The number you have called is not in service."}, twiml.VoiceHangup{})
		return
	}
	st := n.Pool.Settings()
	step := 0
	if !st.Hours.Open(s.clock()) {
		if st.Hours.AfterHoursForwardTo == "" {
			// Voicemail, even one switched off: a call outside hours with
			// no number to take it must not ring into the void.
			vm := s.node.State().VoicemailOf(&st)
			writeTwiML(rc, s.voicemail(rc, &vm, sid)...)
			return
		}
		step = afterHours
	}
	var verbs []twiml.Element
	if notice := st.Recording.Text(); notice != "" {
		verbs = append(verbs, twiml.VoiceSay{Message: notice})
	}
	writeTwiML(rc, append(verbs, s.dial(rc, st, step, sid, to, from, now))...)
}

// afterHours is the dial step of the after-hours forwarding number.
const afterHours = -1

// clock is the time business hours are read at.
func (s *Server) clock() time.Time {
	if now := s.opt.Telephony.Now; now != nil {
		return now()
	}
	return time.Now()
}

// dial is the <Dial> to the forwarding number at step (or the after-hours
// one), with the whisper on its <Number>, the recording if the pool
// records, and an action that moves on to the next one.
func (s *Server) dial(rc *fasthttp.RequestCtx, st allocator.Settings, step int, sid, to, from string, at time.Time) twiml.Element {
	base := s.publicURL(rc)
	dialed := st.Hours.AfterHoursForwardTo
	if step != afterHours {
		dialed = st.ForwardTo[step]
	}
	action := base + "/twilio/dial?" + url.Values{
		"step": {strconv.Itoa(step)}, "dialed": {dialed}, "at": {strconv.FormatInt(at.UnixMilli(), 10)},
	}.Encode()
	number := twiml.VoiceNumber{PhoneNumber: dialed}
	if st.Whisper {
		number.Url = base + "/twilio/whisper?" + url.Values{
			"call": {sid}, "to": {to}, "at": {strconv.FormatInt(at.UnixMilli(), 10)},
		}.Encode()
		number.Method = fasthttp.MethodPost
	}
	d := twiml.VoiceDial{
		AnswerOnBridge: "true",
		Timeout:        strconv.Itoa(st.Rings * ringSeconds),
		Action:         action,
		Method:         fasthttp.MethodPost,
		InnerElements:  []twiml.Element{number},
	}
	if allocator.ValidE164(from) {
		d.CallerId = from // the agent sees who is calling, not the tracking number
	}
	if st.Recording.On {
		d.Record = "record-from-answer-dual" // caller and agent on channels of their own
		d.RecordingStatusCallback = s.recordingCallback(base, sid, allocator.RecordingConversation)
		d.RecordingStatusCallbackMethod = fasthttp.MethodPost
		d.RecordingStatusCallbackEvent = "completed"
	}
	return d
}

func (s *Server) recordingCallback(base, sid string, kind allocator.RecordingKind) string {
	return base + "/twilio/recording?" + url.Values{"call": {sid}, "kind": {string(kind)}}.Encode()
}

// voicemail greets the caller and records a message: after the message
// Twilio asks /twilio/voicemail what next, and reports the recording (and
// its text, if asked) to /twilio/recording and /twilio/transcription.
func (s *Server) voicemail(rc *fasthttp.RequestCtx, v *allocator.Voicemail, sid string) []twiml.Element {
	base := s.publicURL(rc)
	var greeting twiml.Element = twiml.VoiceSay{Message: v.Text(), Voice: v.Voice, Language: v.Lang()}
	if v.AudioURL != "" {
		greeting = twiml.VoicePlay{Url: v.AudioURL}
	}
	rec := twiml.VoiceRecord{
		Action:                        base + "/twilio/voicemail?" + url.Values{"call": {sid}}.Encode(),
		Method:                        fasthttp.MethodPost,
		MaxLength:                     strconv.Itoa(int(v.Length() / time.Second)),
		PlayBeep:                      "true",
		FinishOnKey:                   "#",
		RecordingStatusCallback:       s.recordingCallback(base, sid, allocator.RecordingVoicemail),
		RecordingStatusCallbackMethod: fasthttp.MethodPost,
		RecordingStatusCallbackEvent:  "completed",
	}
	if v.Transcribe {
		rec.Transcribe = "true"
		rec.TranscribeCallback = base + "/twilio/transcription?" + url.Values{"call": {sid}}.Encode()
	}
	return []twiml.Element{greeting, rec, twiml.VoiceHangup{}}
}

// dialEnded follows a <Dial>: an answered call is done; otherwise the next
// forwarding number is dialed, and after the last the call ends.
func (s *Server) dialEnded(rc *fasthttp.RequestCtx, _ []string) {
	form, q := rc.PostArgs(), rc.QueryArgs()
	sid, to, from := string(form.Peek("CallSid")), string(form.Peek("To")), string(form.Peek("From"))
	step, err := strconv.Atoi(string(q.Peek("step")))
	if sid == "" || err != nil || step < afterHours {
		writeError(rc, fasthttp.StatusBadRequest, "CallSid and a step are required")
		return
	}
	switch string(form.Peek("DialCallStatus")) {
	case "completed", "answered":
		s.keep(&fsm.UpdateCall{SID: sid, Status: allocator.CallInProgress, AnsweredBy: string(q.Peek("dialed")), At: time.Now()})
		writeTwiML(rc, twiml.VoiceHangup{})
		return
	}
	n := s.node.State().Number(to)
	if n == nil {
		writeTwiML(rc, twiml.VoiceHangup{})
		return
	}
	st := n.Pool.Settings()
	if step == afterHours || step+1 >= len(st.ForwardTo) {
		if vm := s.node.State().VoicemailOf(&st); vm.On {
			writeTwiML(rc, s.voicemail(rc, &vm, sid)...)
			return
		}
		writeTwiML(rc, twiml.VoiceHangup{})
		return
	}
	at, _ := strconv.ParseInt(string(q.Peek("at")), 10, 64)
	writeTwiML(rc, s.dial(rc, st, step+1, sid, to, from, time.UnixMilli(at)))
}

// whisper tells whoever answered where the caller came from, before the
// two are connected.
func (s *Server) whisper(rc *fasthttp.RequestCtx, _ []string) {
	q := rc.QueryArgs()
	sid, to := string(q.Peek("call")), string(q.Peek("to"))
	var attr *allocator.Attribution
	if c := s.node.State().Call(sid); c != nil && c.Recorded {
		attr = c.Attribution
	} else if at, err := strconv.ParseInt(string(q.Peek("at")), 10, 64); err == nil {
		// The record has not reached this node (or the cluster) yet: match
		// the number as the record will.
		if m := s.node.State().MatchCall(to, time.UnixMilli(at)); m.Visit != nil {
			attr = m.Visit.Attribution
		}
	}
	writeTwiML(rc, twiml.VoiceSay{Message: "Call from " + attr.Channel()})
}

// callStatus completes the call's record when Twilio reports how it ended.
func (s *Server) callStatus(rc *fasthttp.RequestCtx, _ []string) {
	form := rc.PostArgs()
	sid := string(form.Peek("CallSid"))
	status := allocator.CallStatus(form.Peek("CallStatus"))
	if sid == "" || !status.Valid() {
		writeError(rc, fasthttp.StatusBadRequest, "CallSid and a known CallStatus are required")
		return
	}
	secs, _ := strconv.Atoi(string(form.Peek("CallDuration")))
	s.keep(&fsm.UpdateCall{SID: sid, Status: status, Duration: time.Duration(max(secs, 0)) * time.Second, At: time.Now()})
	writeTwiML(rc)
}

// voicemailEnded follows the caller's message (<Record action>): the
// recording is noted (its status callback completes it) and the call ends.
func (s *Server) voicemailEnded(rc *fasthttp.RequestCtx, _ []string) {
	form := rc.PostArgs()
	sid, rec := callOf(rc), string(form.Peek("RecordingSid"))
	secs, _ := strconv.Atoi(string(form.Peek("RecordingDuration")))
	if sid == "" {
		writeError(rc, fasthttp.StatusBadRequest, "CallSid is required")
		return
	}
	if rec != "" && secs > 0 {
		s.keep(&fsm.SaveRecording{Call: sid, At: time.Now(), Recording: allocator.Recording{
			SID: rec, Kind: allocator.RecordingVoicemail, Duration: time.Duration(secs) * time.Second,
		}})
	}
	writeTwiML(rc, twiml.VoiceSay{Message: "Thank you. Goodbye."}, twiml.VoiceHangup{})
}

// recordingStatus keeps what Twilio says of a recording: ready (with its
// length), absent or failed.
func (s *Server) recordingStatus(rc *fasthttp.RequestCtx, _ []string) {
	form := rc.PostArgs()
	sid, rec := callOf(rc), string(form.Peek("RecordingSid"))
	status := allocator.RecordingStatus(form.Peek("RecordingStatus"))
	kind := allocator.RecordingKind(rc.QueryArgs().Peek("kind"))
	if sid == "" || rec == "" || !status.Valid() || status == allocator.RecordingDeleted {
		writeError(rc, fasthttp.StatusBadRequest, "CallSid, RecordingSid and a known RecordingStatus are required")
		return
	}
	secs, _ := strconv.Atoi(string(form.Peek("RecordingDuration")))
	s.keep(&fsm.SaveRecording{Call: sid, At: time.Now(), Recording: allocator.Recording{
		SID: rec, Kind: kind, Status: status, Duration: time.Duration(max(secs, 0)) * time.Second,
	}})
	writeTwiML(rc)
}

// transcription keeps a message's text, or that Twilio could not make it.
func (s *Server) transcription(rc *fasthttp.RequestCtx, _ []string) {
	form := rc.PostArgs()
	sid, rec := callOf(rc), string(form.Peek("RecordingSid"))
	status := string(form.Peek("TranscriptionStatus"))
	if sid == "" || rec == "" || status == "" {
		writeError(rc, fasthttp.StatusBadRequest, "CallSid, RecordingSid and TranscriptionStatus are required")
		return
	}
	s.keep(&fsm.SaveRecording{Call: sid, At: time.Now(), Recording: allocator.Recording{
		SID: rec, TranscriptStatus: status, Transcript: string(form.Peek("TranscriptionText")),
	}})
	writeTwiML(rc)
}

// callOf is the call a recording callback is about: the one dni named in
// the URL it gave Twilio (a <Dial>'s recording reports the parent call,
// a <Record>'s its own), else the request's CallSid.
func callOf(rc *fasthttp.RequestCtx) string {
	if c := rc.QueryArgs().Peek("call"); len(c) > 0 {
		return string(c)
	}
	return string(rc.PostArgs().Peek("CallSid"))
}

// keep commits a call write, or keeps it in the outbox when the cluster
// does not take it in time. A call is never answered late for its record.
func (s *Server) keep(cmd fsm.Command) {
	wait := s.opt.Telephony.AnswerWithin
	if wait == 0 {
		wait = DefaultAnswerWithin
	}
	r, committed, err := s.node.CommitOrKeep(context.Background(), cmd, wait)
	switch {
	case err != nil:
		s.log.Error("a call write was neither committed nor kept", "err", err)
	case !committed:
		s.metrics.outboxed.Inc()
	case r.Err != nil:
		s.log.Warn("a call write was refused", "err", r.Err)
	}
}

// writeTwiML answers with a TwiML document of the given verbs.
func writeTwiML(rc *fasthttp.RequestCtx, verbs ...twiml.Element) {
	doc, err := twiml.Voice(verbs)
	if err != nil {
		writeError(rc, fasthttp.StatusInternalServerError, "cannot build TwiML")
		return
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType("text/xml; charset=utf-8")
	rc.SetBodyString(doc)
}
