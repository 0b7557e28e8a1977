package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// A pool's call answering on the wire: voicemail, business hours,
// recording and autoscaling, each an object. A request's object changes
// only the fields it names (a JSON merge), so {"voicemail": {"on": true}}
// turns voicemail on with the greeting the pool had; a week's day given
// replaces that day, one left out stays.

// Voicemail is allocator.Voicemail on the wire, with its defaults filled.
// A pool's may use the cluster's (use_default); a request that gives the
// pool voicemail fields of its own without naming use_default stops it
// using the cluster's.
type Voicemail struct {
	UseDefault bool   `json:"use_default"`
	On         bool   `json:"on"`
	Greeting   string `json:"greeting"`
	AudioURL   string `json:"audio_url"`
	Voice      string `json:"voice"`
	Language   string `json:"language"`
	MaxLengthS int    `json:"max_length_s"`
	Transcribe bool   `json:"transcribe"`
}

// Hours is allocator.Hours on the wire: each day's spans written
// "09:00-17:00", by day ("mon" to "sun"), every day listed.
type Hours struct {
	On                  bool                `json:"on"`
	TimeZone            string              `json:"time_zone"`
	Week                map[string][]string `json:"week"`
	Holidays            []string            `json:"holidays"`
	AfterHoursForwardTo string              `json:"after_hours_forward_to"`
}

// Recording is allocator.CallRecording on the wire.
type Recording struct {
	On       bool   `json:"on"`
	Notice   string `json:"notice"`
	NoNotice bool   `json:"no_notice"`
}

// Autoscale is allocator.Autoscale on the wire.
type Autoscale struct {
	MinSize int `json:"min_size"`
	MaxSize int `json:"max_size"`
}

func voicemailOut(v allocator.Voicemail) Voicemail {
	return Voicemail{
		UseDefault: v.UseDefault, On: v.On, Greeting: v.Text(), AudioURL: v.AudioURL, Voice: v.Voice, Language: v.Lang(),
		MaxLengthS: int(v.Length() / time.Second), Transcribe: v.Transcribe,
	}
}

func hoursOut(h allocator.Hours) Hours {
	out := Hours{On: h.On, TimeZone: h.TimeZone, Week: make(map[string][]string, 7),
		Holidays: append([]string{}, h.Holidays...), AfterHoursForwardTo: h.AfterHoursForwardTo}
	for d, spans := range h.Week {
		day := []string{}
		for _, s := range spans {
			day = append(day, s.String())
		}
		out.Week[allocator.Days[d]] = day
	}
	return out
}

func recordingOut(r allocator.CallRecording) Recording {
	notice := r.Notice
	if notice == "" {
		notice = allocator.DefaultRecordingNotice
	}
	return Recording{On: r.On, Notice: notice, NoNotice: r.NoNotice}
}

func (v Voicemail) settings() (allocator.Voicemail, error) {
	if v.MaxLengthS < 0 || v.MaxLengthS > maxSeconds {
		return allocator.Voicemail{}, &allocator.ValidationError{Field: "voicemail.max_length_s", Reason: "out of range"}
	}
	return allocator.Voicemail{
		UseDefault: v.UseDefault, On: v.On, Greeting: v.Greeting, AudioURL: v.AudioURL, Voice: v.Voice, Language: v.Language,
		MaxLength: time.Duration(v.MaxLengthS) * time.Second, Transcribe: v.Transcribe,
	}, nil
}

func (h Hours) settings() (allocator.Hours, error) {
	out := allocator.Hours{On: h.On, TimeZone: h.TimeZone, Holidays: h.Holidays, AfterHoursForwardTo: h.AfterHoursForwardTo}
	for day, spans := range h.Week {
		d := dayIndex(day)
		if d < 0 {
			return out, &allocator.ValidationError{Field: "hours.week", Reason: fmt.Sprintf("%q is not a day: use mon, tue, wed, thu, fri, sat or sun", day)}
		}
		for _, s := range spans {
			span, err := allocator.ParseSpan(s)
			if err != nil {
				return out, &allocator.ValidationError{Field: "hours.week." + day, Reason: err.Error()}
			}
			out.Week[d] = append(out.Week[d], span)
		}
	}
	return out, nil
}

func dayIndex(day string) int {
	for i, d := range allocator.Days {
		if d == day {
			return i
		}
	}
	return -1
}

// answeringRequest is the four objects as a request gives them, read
// over the pool's current ones.
type answeringRequest struct {
	Voicemail json.RawMessage `json:"voicemail"`
	Hours     json.RawMessage `json:"hours"`
	Recording json.RawMessage `json:"recording"`
	Autoscale json.RawMessage `json:"autoscale"`
}

// patch sets in p the objects the request names, each read over cur's.
func (r *answeringRequest) patch(cur *allocator.Settings, p *allocator.Patch) error {
	if len(r.Voicemail) > 0 {
		st, err := mergeVoicemail(cur.Voicemail, r.Voicemail)
		if err != nil {
			return err
		}
		p.Voicemail = &st
	}
	if len(r.Hours) > 0 {
		h := hoursOut(cur.Hours)
		if err := mergeJSON("hours", r.Hours, &h); err != nil {
			return err
		}
		st, err := h.settings()
		if err != nil {
			return err
		}
		p.Hours = &st
	}
	if len(r.Recording) > 0 {
		rec := recordingOut(cur.Recording)
		if err := mergeJSON("recording", r.Recording, &rec); err != nil {
			return err
		}
		p.Recording = &allocator.CallRecording{On: rec.On, Notice: rec.Notice, NoNotice: rec.NoNotice}
		if rec.Notice == allocator.DefaultRecordingNotice {
			p.Recording.Notice = "" // the default, wherever it goes
		}
	}
	if len(r.Autoscale) > 0 {
		a := Autoscale(cur.Autoscale)
		if err := mergeJSON("autoscale", r.Autoscale, &a); err != nil {
			return err
		}
		p.Autoscale = &allocator.Autoscale{MinSize: a.MinSize, MaxSize: a.MaxSize}
	}
	return nil
}

// mergeVoicemail reads a request's voicemail over cur. Fields of its own
// without use_default make the pool's voicemail its own.
func mergeVoicemail(cur allocator.Voicemail, raw json.RawMessage) (allocator.Voicemail, error) {
	v := voicemailOut(cur)
	if err := mergeJSON("voicemail", raw, &v); err != nil {
		return allocator.Voicemail{}, err
	}
	var named map[string]json.RawMessage
	if json.Unmarshal(raw, &named) == nil && len(named) > 0 {
		if _, ok := named["use_default"]; !ok {
			v.UseDefault = false
		}
	}
	return v.settings()
}

// mergeJSON reads raw, which must be an object, over v: the fields it
// names change, the rest stay.
func mergeJSON(field string, raw json.RawMessage, v any) error {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return &allocator.ValidationError{Field: field, Reason: "must be an object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &allocator.ValidationError{Field: field, Reason: jsonProblem(err)}
	}
	return nil
}

// The cluster's voicemail, for the pools that use it:
//
//	GET   /v1/settings/voicemail
//	PATCH /v1/settings/voicemail

func (s *Server) getVoicemail(rc *fasthttp.RequestCtx, _ []string) {
	writeJSON(rc, fasthttp.StatusOK, s.Admin(rc).DefaultVoicemail())
}

func (s *Server) setVoicemail(rc *fasthttp.RequestCtx, _ []string) {
	body := rc.PostBody()
	if len(bytes.TrimSpace(body)) == 0 {
		writeError(rc, fasthttp.StatusBadRequest, "request body must be a JSON object")
		return
	}
	v := voicemailOut(s.node.State().DefaultVoicemail())
	if err := mergeJSON("voicemail", body, &v); err != nil {
		writeErr(rc, err)
		return
	}
	ctx, cancel := requestContext()
	defer cancel()
	out, err := s.Admin(rc).SetDefaultVoicemail(ctx, v)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, out)
}

// DefaultVoicemail returns the cluster's voicemail.
func (a Admin) DefaultVoicemail() Voicemail { return voicemailOut(a.s.node.State().DefaultVoicemail()) }

// SetDefaultVoicemail replaces the cluster's voicemail, checked.
func (a Admin) SetDefaultVoicemail(ctx context.Context, v Voicemail) (Voicemail, error) {
	st, err := v.settings()
	if err != nil {
		return Voicemail{}, err
	}
	if _, err := a.s.commitAndWait(ctx, &fsm.SetVoicemail{Voicemail: st, At: time.Now()}); err != nil {
		return Voicemail{}, err
	}
	return a.DefaultVoicemail(), nil
}
