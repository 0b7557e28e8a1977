package standin

import (
	"context"
	"net/url"
	"strings"
)

// destination is one party a <Dial> rings.
type destination struct {
	number string
	url    string // the whisper TwiML, run on the answering leg
	method string
}

// dialResult is how a <Dial> ended, as its action hears it.
type dialResult struct {
	status   string // completed, busy, no-answer or failed
	childSID string
	duration int // seconds bridged
	bridged  bool
	// recording is the bridged call's recording when the Dial asked for
	// one; nil otherwise.
	recording *recording
}

// Twilio's limits on a <Dial>.
const (
	defaultDialTimeout = 30
	maxDialTimeout     = 600
	maxDestinations    = 10
	busySeconds        = 3 // how long a busy signal takes to come back
)

// dial runs a <Dial>: every destination rings at once and the first to
// answer wins; its whisper, if any, runs before the bridge, and a whisper
// that hangs up refuses the call.
func (c *call) dial(ctx context.Context, v *verb, docURL string) dialResult {
	timeout := v.intAttr("timeout", defaultDialTimeout)
	if timeout <= 0 {
		timeout = defaultDialTimeout
	}
	timeout = min(timeout, maxDialTimeout)
	answerOnBridge := strings.EqualFold(v.attr("answerOnBridge"), "true")
	if !answerOnBridge {
		c.answered = true
	}
	callerID := v.attr("callerId")
	if callerID == "" {
		callerID = c.from
	}
	dests := destinations(v)
	c.s.calls.edit(c.entry, func(t *CallTrace) {
		for _, d := range dests {
			t.Dialed = append(t.Dialed, d.number)
		}
		t.DialTimeouts = append(t.DialTimeouts, timeout)
	})

	child := newSID("CA")
	unanswered := func(status string) dialResult {
		if answerOnBridge {
			c.unbridged = status
		}
		return dialResult{status: status, childSID: child}
	}
	mode, channels, recorded := dialRecording(v.attr("record"))
	ringStart := c.clock
	winner, seconds, status := ring(dests, timeout, c.s.callee)
	c.clock += seconds
	if winner < 0 {
		return unanswered(status)
	}
	d := dests[winner]
	if d.url != "" && !c.whisper(ctx, d, child, callerID, docURL) {
		return unanswered(StatusNoAnswer)
	}
	c.answered = true
	talk := c.s.callee(d.number).talk()
	c.clock += talk
	r := dialResult{status: StatusCompleted, childSID: child, duration: talk, bridged: true}
	if recorded {
		seconds := talk
		if mode == fromRinging {
			seconds = c.clock - ringStart
		}
		rec := c.s.newRecording(c.sid, SourceDialVerb, channels, seconds, "")
		r.recording = &rec
	}
	c.s.calls.edit(c.entry, func(t *CallTrace) {
		t.AnsweredBy = d.number
		if rec := r.recording; rec != nil {
			t.Recordings = append(t.Recordings, RecordingTrace{SID: rec.sid, Source: rec.source, DurationS: rec.durationS, Channels: rec.channels})
		}
	})
	return r
}

// When a <Dial record> starts its recording.
const (
	fromAnswer = iota
	fromRinging
)

// dialRecording reads a Dial's record attribute: whether it records, from
// when, and in how many channels. "true" is the old spelling of
// record-from-answer; anything unknown records nothing.
func dialRecording(attr string) (mode, channels int, recorded bool) {
	switch strings.ToLower(strings.TrimSpace(attr)) {
	case "record-from-answer", "true":
		return fromAnswer, 1, true
	case "record-from-ringing":
		return fromRinging, 1, true
	case "record-from-answer-dual":
		return fromAnswer, 2, true
	case "record-from-ringing-dual":
		return fromRinging, 2, true
	}
	return 0, 0, false
}

// destinations lists what a <Dial> rings: its bare number, or its
// <Number> nouns, ten at most.
func destinations(v *verb) []destination {
	var out []destination
	if n := v.body(); n != "" {
		out = append(out, destination{number: n})
	}
	for i := range v.children {
		if n := &v.children[i]; n.name == "Number" {
			out = append(out, destination{number: n.body(), url: n.attr("url"), method: n.attr("method")})
		}
	}
	return out[:min(len(out), maxDestinations)]
}

// ring rings the destinations at once for up to timeout seconds. It
// returns the first to answer, or -1; how long the ringing lasted; and,
// when no one answered, the Dial's status: no-answer if any rang out,
// else busy if any was busy, else failed.
func ring(dests []destination, timeout int, callee func(string) Callee) (winner, seconds int, status string) {
	winner = -1
	var noAnswer, busy bool
	for i, d := range dests {
		ce := callee(d.number)
		switch ce.Answer {
		case "", CalleeAnswers:
			after := ce.rings() * ringSeconds
			if after > timeout {
				noAnswer = true
			} else if winner < 0 || after < seconds {
				winner, seconds = i, after
			}
		case CalleeBusy:
			busy = true
		case CalleeFails:
		default:
			noAnswer = true
		}
	}
	switch {
	case winner >= 0:
		return winner, seconds, StatusCompleted
	case noAnswer:
		return -1, timeout, StatusNoAnswer
	case busy:
		return -1, busySeconds, StatusBusy
	}
	return -1, 0, StatusFailed
}

// whisper runs the whisper TwiML on the answering leg and reports whether
// the agent took the call: a <Hangup> or <Reject>, or a whisper URL that
// fails, means not.
func (c *call) whisper(ctx context.Context, d destination, child, callerID, docURL string) bool {
	p := url.Values{
		"CallSid":       {child},
		"ParentCallSid": {c.sid},
		"AccountSid":    {c.s.accountSID},
		"From":          {callerID},
		"To":            {d.number},
		"Caller":        {callerID},
		"Called":        {d.number},
		"ApiVersion":    {apiVersion},
		"Direction":     {"outbound-dial"},
		"CallStatus":    {StatusInProgress},
	}
	locate(p, callerID, "From", "Caller")
	locate(p, d.number, "To", "Called")
	base, ref, method := docURL, d.url, d.method
	for {
		target, err := resolve(base, ref)
		if err != nil {
			c.note(err)
			return false
		}
		doc, err := c.fetch(ctx, "whisper", method, target, p)
		if err != nil {
			c.note(err)
			return false
		}
		accepted, redirect := c.runWhisper(doc)
		if redirect == nil {
			return accepted
		}
		base, ref, method = target, redirect.body(), redirect.attr("method")
	}
}

// runWhisper plays a whisper document to the agent. It returns whether
// the agent is still on the line at its end, or the <Redirect> to follow.
func (c *call) runWhisper(doc []verb) (bool, *verb) {
	heard := func(v *verb) {
		text := v.spoken()
		c.clock += speakingTime(text)
		if text != "" {
			c.s.calls.edit(c.entry, func(t *CallTrace) { t.Whisper = append(t.Whisper, text) })
		}
	}
	for i := range doc {
		v := &doc[i]
		switch v.name {
		case "Say":
			heard(v)
		case "Gather":
			for j := range v.children {
				if v.children[j].name == "Say" {
					heard(&v.children[j])
				}
			}
		case "Pause":
			c.clock += max(v.intAttr("length", 1), 0)
		case "Hangup", "Reject":
			return false, nil
		case "Redirect":
			return true, v
		}
	}
	return true, nil
}
