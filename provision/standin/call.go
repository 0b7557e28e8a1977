package standin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// call is one simulated inbound call, run by its own goroutine. Time on
// the call is simulated: rings and talk move clock, never the wall clock.
type call struct {
	s      *Server
	entry  *callEntry
	sid    string
	num    Number // the called number's hooks when the call came in
	from   string
	params url.Values // what every request about the inbound leg carries

	clock     int    // simulated seconds since the call came in
	answered  bool   // the caller was answered: by TwiML that speaks, or a bridge
	failed    bool   // no TwiML could be had for the call
	rejected  string // the status a <Reject> left
	unbridged string // DialCallStatus of the last answerOnBridge <Dial> that bridged no one
	documents int    // TwiML documents fetched so far
}

// maxDocuments bounds the TwiML documents one call fetches (voice,
// redirects, actions, whispers), so that a loop of redirects ends.
const maxDocuments = 20

var errTooManySteps = fmt.Errorf("more than %d TwiML documents on one call", maxDocuments)

func (c *call) run() {
	defer c.s.running.Done()
	ctx := c.s.ctx
	doc, docURL, ok := c.answer(ctx)
	for ok {
		doc, docURL, ok = c.execute(ctx, doc, docURL)
	}
	c.finish(ctx)
}

// inbound returns the inbound leg's parameters with its current status.
func (c *call) inbound() url.Values {
	p := make(url.Values, len(c.params)+8)
	for k, v := range c.params {
		p[k] = v
	}
	status := "ringing"
	if c.answered {
		status = StatusInProgress
	}
	p.Set("CallStatus", status)
	return p
}

// answer fetches the call's first TwiML from the voice URL, or from the
// fallback URL when that fails.
func (c *call) answer(ctx context.Context) ([]verb, string, bool) {
	if c.num.VoiceURL == "" {
		c.fail(errors.New("the number has no voice URL"))
		return nil, "", false
	}
	doc, err := c.fetch(ctx, "voice", c.num.VoiceMethod, c.num.VoiceURL, c.inbound())
	if err == nil {
		return doc, c.num.VoiceURL, true
	}
	if c.num.VoiceFallbackURL == "" {
		c.fail(err)
		return nil, "", false
	}
	p := c.inbound()
	code := codeHTTPRetrieval
	var he *hookError
	if errors.As(err, &he) {
		code = he.code
	}
	p.Set("ErrorCode", strconv.Itoa(code))
	p.Set("ErrorUrl", c.num.VoiceURL)
	doc, err = c.fetch(ctx, "fallback", c.num.VoiceFallbackMethod, c.num.VoiceFallbackURL, p)
	if err != nil {
		c.fail(err)
		return nil, "", false
	}
	return doc, c.num.VoiceFallbackURL, true
}

// fetch requests a TwiML document and records the request in the trace.
func (c *call) fetch(ctx context.Context, kind, method, rawURL string, params url.Values) ([]verb, error) {
	if c.documents >= maxDocuments {
		return nil, errTooManySteps
	}
	c.documents++
	hook, body, err := c.s.webhook(ctx, kind, methodOf(method), rawURL, params)
	var doc []verb
	if err == nil {
		if doc, err = parseTwiML(body); err != nil {
			hook.Error = err.Error()
			err = &hookError{codeParseFailure, err}
		}
	}
	c.record(hook)
	return doc, err
}

// follow fetches the document at ref (a Redirect or a Dial action),
// relative to base, and returns it to execute next.
func (c *call) follow(ctx context.Context, kind, method, base, ref string, p url.Values) ([]verb, string, bool) {
	target, err := resolve(base, ref)
	if err != nil {
		c.record(Webhook{Kind: kind, URL: ref, Error: err.Error()})
		c.note(err)
		return nil, "", false
	}
	doc, err := c.fetch(ctx, kind, method, target, p)
	if err != nil {
		c.note(err)
		return nil, "", false
	}
	return doc, target, true
}

// execute runs a TwiML document's verbs in order. It returns the next
// document when a verb hands the call on to one (Redirect, or Dial with
// an action), and false when the call ends.
func (c *call) execute(ctx context.Context, doc []verb, docURL string) ([]verb, string, bool) {
	for i := range doc {
		v := &doc[i]
		switch v.name {
		case "Say":
			c.say(v)
		case "Play":
			c.answered = true
			c.clock++
			if u := v.body(); u != "" {
				c.s.calls.edit(c.entry, func(t *CallTrace) { t.Played = append(t.Played, u) })
			}
		case "Record":
			next, nextURL, ok, empty := c.leaveMessage(ctx, v, docURL)
			if !empty {
				return next, nextURL, ok
			}
		case "Pause":
			c.answered = true
			c.clock += max(v.intAttr("length", 1), 0)
		case "Gather":
			c.answered = true
			for j := range v.children {
				if v.children[j].name == "Say" {
					c.say(&v.children[j])
				}
			}
			c.clock += max(v.intAttr("timeout", 5), 0)
		case "Hangup":
			return nil, "", false
		case "Reject":
			c.rejected = StatusNoAnswer
			if v.attr("reason") == "busy" {
				c.rejected = StatusBusy
			}
			return nil, "", false
		case "Redirect":
			return c.follow(ctx, "redirect", v.attr("method"), docURL, v.body(), c.inbound())
		case "Dial":
			r := c.dial(ctx, v, docURL)
			if action := v.attr("action"); action != "" {
				p := c.inbound()
				p.Set("CallStatus", StatusInProgress)
				p.Set("DialCallStatus", r.status)
				p.Set("DialCallSid", r.childSID)
				p.Set("DialCallDuration", strconv.Itoa(r.duration))
				p.Set("DialBridged", strconv.FormatBool(r.bridged))
				if r.recording != nil {
					c.addRecording(p, *r.recording)
				}
				next, nextURL, ok := c.follow(ctx, "action", v.attr("method"), docURL, action, p)
				if r.recording != nil {
					c.recordingStatus(ctx, v, docURL, *r.recording)
				}
				return next, nextURL, ok
			}
			if r.recording != nil {
				c.recordingStatus(ctx, v, docURL, *r.recording)
			}
		}
	}
	return nil, "", false
}

// say plays a <Say> to the caller.
func (c *call) say(v *verb) {
	c.answered = true
	text := v.spoken()
	c.clock += speakingTime(text)
	if text != "" {
		c.s.calls.edit(c.entry, func(t *CallTrace) { t.Said = append(t.Said, text) })
	}
}

// speakingTime is about how long text takes to say, in seconds.
func speakingTime(text string) int {
	return 1 + len(strings.Fields(text))/3
}

// finish settles the call's status, sends the status callback and ends
// the trace.
func (c *call) finish(ctx context.Context) {
	status := c.status()
	duration := 0
	if c.answered {
		duration = c.clock
	}
	if c.num.StatusCallback != "" {
		p := c.inbound()
		p.Set("CallStatus", status)
		p.Set("CallDuration", strconv.Itoa(duration))
		p.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
		p.Set("CallbackSource", "call-progress-events")
		p.Set("SequenceNumber", "0")
		hook, _, _ := c.s.webhook(ctx, "status", c.num.StatusCallbackMethod, c.num.StatusCallback, p)
		c.record(hook)
	}
	var trace CallTrace
	c.s.calls.edit(c.entry, func(t *CallTrace) {
		t.Status, t.EndedAt, t.DurationS = status, time.Now().UTC(), duration
		trace = *t
	})
	close(c.entry.done)
	c.s.log.Debug("simulated call ended", "sid", c.sid, "to", trace.To, "from", trace.From,
		"status", status, "duration_s", duration, "answered_by", trace.AnsweredBy, "requests", len(trace.Requests))
}

// status is how the call ended, in Twilio's words. A caller kept ringing
// by answerOnBridge and never bridged ends as the last Dial did.
func (c *call) status() string {
	switch {
	case c.failed:
		return StatusFailed
	case c.rejected != "":
		return c.rejected
	case c.answered:
		return StatusCompleted
	case c.unbridged == StatusBusy || c.unbridged == StatusFailed:
		return c.unbridged
	case c.unbridged != "":
		return StatusNoAnswer
	}
	return StatusCompleted
}

func (c *call) record(h Webhook) {
	c.s.calls.edit(c.entry, func(t *CallTrace) { t.Requests = append(t.Requests, h) })
}

// fail ends the call as failed: it never had TwiML to run.
func (c *call) fail(err error) {
	c.failed = true
	c.note(err)
}

// note keeps the first error that cut the call short.
func (c *call) note(err error) {
	c.s.calls.edit(c.entry, func(t *CallTrace) {
		if t.Error == "" {
			t.Error = err.Error()
		}
	})
}
