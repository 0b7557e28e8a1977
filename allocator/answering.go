package allocator

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // every node reads business hours alike, even in a FROM scratch image
	"unicode/utf8"
)

// How a pool answers a call beyond forwarding it: voicemail when no one
// picks up, business hours, and recording with the caller's consent. The
// webhooks (package httpapi) turn these settings into TwiML; the rules of
// what is valid live here.

// Voicemail is what a pool does with a call no forwarding number answers,
// or one outside business hours: a greeting, then a recorded message.
type Voicemail struct {
	// UseDefault hands the pool's voicemail to the cluster's default
	// (State.DefaultVoicemail): the fields below are then kept, unused.
	UseDefault bool
	On         bool
	// Greeting is said to the caller (TwiML <Say>); empty means
	// DefaultGreeting. AudioURL, when set, is played instead (<Play>).
	Greeting string
	AudioURL string
	// Voice and Language are the <Say> voice ("alice", "Polly.Joanna")
	// and language ("en-US", "de-DE"); empty means Twilio's default voice
	// and DefaultLanguage.
	Voice    string
	Language string
	// MaxLength is the longest message; zero means DefaultMessageLength.
	MaxLength time.Duration
	// Transcribe asks Twilio for the message's text: English only, and
	// messages of at most MaxTranscribedLength.
	Transcribe bool
}

// Hours are a pool's business hours. Outside them a call is not dialled
// to the forwarding numbers: it goes to AfterHoursForwardTo, or to
// voicemail. The whisper and the attribution stay as they are.
type Hours struct {
	On bool // off: always open
	// TimeZone is an IANA name, such as America/New_York: the week and
	// the holidays are in its wall time.
	TimeZone string
	// Week lists each day's open spans, by time.Weekday (Sunday first).
	Week [7][]Span
	// Holidays are dates ("2026-12-25") closed all day, in order.
	Holidays []string
	// AfterHoursForwardTo, when set, takes calls outside hours instead of
	// voicemail.
	AfterHoursForwardTo string
}

// Span is an open span of one day in minutes after local midnight: From
// until (not including) To. To is at most 24:00; hours past midnight are a
// span of the next day.
type Span struct{ From, To int }

// CallRecording records the forwarded conversation (<Dial record>). Where
// a caller must consent, the notice tells them first: recording is the
// operator's legal responsibility.
type CallRecording struct {
	On bool
	// Notice is said to the caller before the dial; empty means
	// DefaultRecordingNotice. NoNotice says nothing (where the law allows).
	Notice   string
	NoNotice bool
}

// Autoscale bounds the pool's size when the leader sizes it from its
// usage; zero for both is off.
type Autoscale struct{ MinSize, MaxSize int }

// On reports whether the pool sizes itself.
func (a Autoscale) On() bool { return a.MinSize != 0 || a.MaxSize != 0 }

// Defaults and limits of call answering.
const (
	DefaultGreeting        = "Sorry, no one can take your call right now. Please leave a message after the tone."
	DefaultRecordingNotice = "This call may be recorded."
	DefaultLanguage        = "en-US"
	DefaultMessageLength   = 2 * time.Minute
	MaxMessageLength       = 10 * time.Minute
	// MaxTranscribedLength is the longest message Twilio transcribes.
	MaxTranscribedLength = 2 * time.Minute
	MaxGreetingLen       = 500 // characters: about half a minute spoken
	MaxAudioURLLen       = 1024
	MaxSpansPerDay       = 4
	MaxHolidays          = 100
	maxVoiceLen          = 40
	maxLanguageLen       = 35
	maxTimeZoneLen       = 64
)

// Text is what the voicemail's <Say> speaks.
func (v *Voicemail) Text() string {
	if v.Greeting == "" {
		return DefaultGreeting
	}
	return v.Greeting
}

// Lang is the language of the greeting and of the transcription.
func (v *Voicemail) Lang() string {
	if v.Language == "" {
		return DefaultLanguage
	}
	return v.Language
}

// Length is the longest message.
func (v *Voicemail) Length() time.Duration {
	if v.MaxLength == 0 {
		return DefaultMessageLength
	}
	return v.MaxLength
}

// Text is the notice the caller hears before a recorded dial, or "".
func (r *CallRecording) Text() string {
	switch {
	case !r.On || r.NoNotice:
		return ""
	case r.Notice == "":
		return DefaultRecordingNotice
	}
	return r.Notice
}

// owned returns h with lists of its own; an empty list is nil, as a
// snapshot gives it back.
func (h Hours) owned() Hours {
	for d := range h.Week {
		h.Week[d] = nilIfEmpty(slices.Clone(h.Week[d]))
	}
	h.Holidays = nilIfEmpty(slices.Clone(h.Holidays))
	return h
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Open reports whether the pool takes calls at t. Hours that are off are
// always open; a time zone this node cannot read (it was checked when
// set) leaves the pool open rather than sending every call to voicemail.
func (h *Hours) Open(t time.Time) bool {
	if !h.On {
		return true
	}
	loc, err := location(h.TimeZone)
	if err != nil {
		return true
	}
	local := t.In(loc)
	if _, closed := slices.BinarySearch(h.Holidays, local.Format(time.DateOnly)); closed {
		return false
	}
	m := local.Hour()*60 + local.Minute()
	for _, s := range h.Week[local.Weekday()] {
		if s.From <= m && m < s.To {
			return true
		}
	}
	return false
}

var locations sync.Map // time zone name → *time.Location

// location loads an IANA time zone once.
func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// CheckTimeZone says whether name is an IANA time zone this build knows.
// It is checked where a pool's settings are given, before the log: the
// state machine checks only the name's shape, so that a replica with
// another time zone database applies the same entries.
func CheckTimeZone(field, name string) error {
	if name == "UTC" || name == "" {
		return nil
	}
	if _, err := location(name); err != nil || name == "Local" {
		return invalid(field, "%q is not an IANA time zone such as America/New_York or Europe/London", name)
	}
	return nil
}

// Days are the week's days as the API names them, by time.Weekday.
var Days = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseSpan reads an open span written "09:00-17:30"; "24:00" ends a day.
func ParseSpan(s string) (Span, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Span{}, fmt.Errorf("%q is not a span such as 09:00-17:00", s)
	}
	f, err1 := parseClock(strings.TrimSpace(from))
	t, err2 := parseClock(strings.TrimSpace(to))
	if err1 != nil || err2 != nil {
		return Span{}, fmt.Errorf("%q is not a span such as 09:00-17:00", s)
	}
	return Span{From: f, To: t}, nil
}

// parseClock reads "HH:MM" as minutes after midnight, up to 24:00.
func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	for _, i := range [...]int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not HH:MM", s)
		}
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	if m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}

// String writes the span as ParseSpan reads it.
func (s Span) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", s.From/60, s.From%60, s.To/60, s.To%60)
}

// VoicemailOf is the voicemail a pool's calls get: its own, or the
// cluster's default if it uses that.
func (s *State) VoicemailOf(st *Settings) Voicemail {
	if st.Voicemail.UseDefault {
		return s.DefaultVoicemail()
	}
	return st.Voicemail
}

// DefaultVoicemail is the cluster's voicemail, for pools that use it. Off
// until set. Safe for any goroutine.
func (s *State) DefaultVoicemail() Voicemail {
	if v := s.voicemail.Load(); v != nil {
		return *v
	}
	return Voicemail{}
}

// SetDefaultVoicemail changes the cluster's voicemail.
type SetDefaultVoicemail struct {
	Voicemail Voicemail
	At        time.Time
}

// SetDefaultVoicemail replaces the cluster's voicemail. The default cannot
// itself use the default.
func (s *State) SetDefaultVoicemail(c SetDefaultVoicemail) (Voicemail, error) {
	if _, err := stamp(c.At); err != nil {
		return Voicemail{}, err
	}
	if c.Voicemail.UseDefault {
		return Voicemail{}, invalid("voicemail.use_default", "the cluster's voicemail is the default itself")
	}
	if err := c.Voicemail.validate(); err != nil {
		return Voicemail{}, err
	}
	v := c.Voicemail
	s.voicemail.Store(&v)
	return v, nil
}

func (v *Voicemail) validate() error {
	if len(v.Greeting) > MaxGreetingLen*4 || utf8.RuneCountInString(v.Greeting) > MaxGreetingLen {
		return invalid("voicemail.greeting", "must be at most %d characters, got %d", MaxGreetingLen, utf8.RuneCountInString(v.Greeting))
	}
	if !utf8.ValidString(v.Greeting) || strings.ContainsFunc(v.Greeting, isControl) {
		return invalid("voicemail.greeting", "must be plain text on one line")
	}
	if v.AudioURL != "" {
		u, err := url.Parse(v.AudioURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(v.AudioURL) > MaxAudioURLLen || strings.ContainsFunc(v.AudioURL, isControl) {
			return invalid("voicemail.audio_url", "must be an https:// URL Twilio can fetch, at most %d characters", MaxAudioURLLen)
		}
	}
	if len(v.Voice) > maxVoiceLen || !wordish(v.Voice, ".-_") {
		return invalid("voicemail.voice", "must be a Twilio voice such as alice or Polly.Joanna, got %q", v.Voice)
	}
	if len(v.Language) > maxLanguageLen || !wordish(v.Language, "-") || v.Language != "" && !isLetter(v.Language[0]) {
		return invalid("voicemail.language", "must be a language tag such as en-US, got %q", v.Language)
	}
	if l := v.MaxLength; l != 0 && (l < time.Second || l > MaxMessageLength || l%time.Second != 0) {
		return invalid("voicemail.max_length_s", "must be whole seconds between 1 and %d, got %s", int(MaxMessageLength/time.Second),
			strconv.FormatFloat(l.Seconds(), 'f', -1, 64))
	}
	if v.Transcribe && v.Length() > MaxTranscribedLength {
		return invalid("voicemail.transcribe", "Twilio transcribes messages of at most %d s: lower max_length_s to transcribe", int(MaxTranscribedLength/time.Second))
	}
	if v.Transcribe && !strings.HasPrefix(strings.ToLower(v.Lang()), "en") {
		return invalid("voicemail.transcribe", "Twilio transcribes English messages only; the voicemail's language is %s", v.Lang())
	}
	return nil
}

func (h *Hours) validate(voicemail bool) error {
	if !h.On {
		return nil
	}
	if h.TimeZone == "" || len(h.TimeZone) > maxTimeZoneLen || !wordish(h.TimeZone, "/_-+") {
		return invalid("hours.time_zone", "must be an IANA time zone such as America/New_York, got %q", h.TimeZone)
	}
	for d, spans := range h.Week {
		field := "hours.week." + Days[d]
		if len(spans) > MaxSpansPerDay {
			return invalid(field, "must list at most %d spans, got %d", MaxSpansPerDay, len(spans))
		}
		for i, s := range spans {
			switch {
			case s.From < 0 || s.To > 24*60:
				return invalid(field, "span %d is not within the day", i+1)
			case s.From >= s.To:
				return invalid(field, "%s ends before it starts: write hours past midnight as a span of the next day", s)
			case i > 0 && s.From < spans[i-1].To:
				return invalid(field, "%s overlaps %s, or comes before it: list a day's spans in order, apart", s, spans[i-1])
			}
		}
	}
	if len(h.Holidays) > MaxHolidays {
		return invalid("hours.holidays", "must list at most %d dates, got %d", MaxHolidays, len(h.Holidays))
	}
	for i, d := range h.Holidays {
		if t, err := time.Parse(time.DateOnly, d); err != nil || t.Format(time.DateOnly) != d {
			return invalid("hours.holidays", "%q is not a date such as 2026-12-25", d)
		}
		if i > 0 && d <= h.Holidays[i-1] {
			return invalid("hours.holidays", "%s is listed twice, or out of order", d)
		}
	}
	if f := h.AfterHoursForwardTo; f != "" && !ValidE164(f) {
		return invalid("hours.after_hours_forward_to", "%q is not an E.164 number such as +14155550100", f)
	}
	if h.AfterHoursForwardTo == "" && !voicemail {
		return invalid("hours.after_hours_forward_to", "outside business hours a call goes to this number or to voicemail: give a number, or turn voicemail on (the pool's or the cluster's)")
	}
	return nil
}

func (r *CallRecording) validate() error {
	if len(r.Notice) > MaxGreetingLen*4 || utf8.RuneCountInString(r.Notice) > MaxGreetingLen {
		return invalid("recording.notice", "must be at most %d characters", MaxGreetingLen)
	}
	if !utf8.ValidString(r.Notice) || strings.ContainsFunc(r.Notice, isControl) {
		return invalid("recording.notice", "must be plain text on one line")
	}
	return nil
}

func (a Autoscale) validate(size int) error {
	if !a.On() {
		return nil
	}
	for _, f := range [...]struct {
		name string
		v    int
	}{{"autoscale.min_size", a.MinSize}, {"autoscale.max_size", a.MaxSize}} {
		if f.v < MinPoolSize || f.v > MaxPoolSize {
			return invalid(f.name, "must be between %d and %d, got %d", MinPoolSize, MaxPoolSize, f.v)
		}
	}
	if a.MinSize > a.MaxSize {
		return invalid("autoscale.min_size", "must be at most max_size (%d), got %d", a.MaxSize, a.MinSize)
	}
	if size < a.MinSize || size > a.MaxSize {
		return invalid("size", "must be between autoscale.min_size and max_size (%d to %d) while the pool sizes itself, got %d", a.MinSize, a.MaxSize, size)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// wordish reports whether s is ASCII letters, digits and the given marks.
func wordish(s, marks string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !(c >= '0' && c <= '9') && strings.IndexByte(marks, c) < 0 {
			return false
		}
	}
	return true
}
