package allocator

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func weekdays(from, to int) (w [7][]Span) {
	for d := time.Monday; d <= time.Friday; d++ {
		w[d] = []Span{{From: from, To: to}}
	}
	return w
}

func TestBadCallAnsweringSettingsNameTheirField(t *testing.T) {
	base := Settings{Name: "Ads", Size: 10, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"}, LeadRule: true}.WithDefaults()
	open := Hours{On: true, TimeZone: "America/New_York", Week: weekdays(9*60, 17*60)}
	for _, tc := range []struct {
		name, field string
		edit        func(*Settings)
	}{
		{"an overlapping span", "hours.week.mon", func(s *Settings) {
			s.Voicemail.On, s.Hours = true, open
			s.Hours.Week[time.Monday] = []Span{{9 * 60, 12 * 60}, {11 * 60, 13 * 60}}
		}},
		{"an inverted span", "hours.week.tue", func(s *Settings) {
			s.Voicemail.On, s.Hours = true, open
			s.Hours.Week[time.Tuesday] = []Span{{17 * 60, 9 * 60}}
		}},
		{"a span past midnight", "hours.week.wed", func(s *Settings) {
			s.Voicemail.On, s.Hours = true, open
			s.Hours.Week[time.Wednesday] = []Span{{20 * 60, 25 * 60}}
		}},
		{"no time zone", "hours.time_zone", func(s *Settings) {
			s.Voicemail.On, s.Hours = true, open
			s.Hours.TimeZone = ""
		}},
		{"a holiday that is no date", "hours.holidays", func(s *Settings) {
			s.Voicemail.On, s.Hours = true, open
			s.Hours.Holidays = []string{"2026-02-30"}
		}},
		{"hours with nowhere to send calls", "hours.after_hours_forward_to", func(s *Settings) { s.Hours = open }},
		{"min above max", "autoscale.min_size", func(s *Settings) { s.Autoscale = Autoscale{MinSize: 12, MaxSize: 8} }},
		{"max above the largest pool", "autoscale.max_size", func(s *Settings) { s.Autoscale = Autoscale{MinSize: 4, MaxSize: 60} }},
		{"a size outside autoscaling's", "size", func(s *Settings) { s.Autoscale = Autoscale{MinSize: 4, MaxSize: 8} }},
		{"a greeting too long", "voicemail.greeting", func(s *Settings) { s.Voicemail.Greeting = strings.Repeat("Hello. ", 100) }},
		{"a greeting on two lines", "voicemail.greeting", func(s *Settings) { s.Voicemail.Greeting = "Hello\nthere" }},
		{"audio over http", "voicemail.audio_url", func(s *Settings) { s.Voicemail.AudioURL = "http://example.com/a.mp3" }},
		{"a message too long", "voicemail.max_length_s", func(s *Settings) { s.Voicemail.MaxLength = time.Hour }},
		{"transcribing a long message", "voicemail.transcribe", func(s *Settings) {
			s.Voicemail.MaxLength, s.Voicemail.Transcribe = 5*time.Minute, true
		}},
		{"transcribing German", "voicemail.transcribe", func(s *Settings) {
			s.Voicemail.Language, s.Voicemail.Transcribe = "de-DE", true
		}},
		{"a voice with spaces", "voicemail.voice", func(s *Settings) { s.Voicemail.Voice = "a voice" }},
		{"a notice too long", "recording.notice", func(s *Settings) { s.Recording.Notice = strings.Repeat("x", MaxGreetingLen+1) }},
	} {
		s := base
		tc.edit(&s)
		var ve *ValidationError
		if err := s.Validate(); !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
	good := base
	good.Voicemail = Voicemail{On: true, Transcribe: true}
	good.Hours = open
	good.Hours.Holidays = []string{"2026-12-24", "2026-12-25"}
	good.Recording = CallRecording{On: true}
	good.Autoscale = Autoscale{MinSize: 4, MaxSize: 20}
	if err := good.Validate(); err != nil {
		t.Errorf("good settings refused: %v", err)
	}
}

func TestCheckTimeZone(t *testing.T) {
	for _, tz := range []string{"America/New_York", "Europe/London", "Australia/Sydney", "UTC"} {
		if err := CheckTimeZone("hours.time_zone", tz); err != nil {
			t.Errorf("%s: %v", tz, err)
		}
	}
	for _, tz := range []string{"Mars/Olympus", "Local", "../../etc/passwd", "America/New York"} {
		var ve *ValidationError
		if err := CheckTimeZone("hours.time_zone", tz); !errors.As(err, &ve) || ve.Field != "hours.time_zone" {
			t.Errorf("%s: got %v, want an error naming hours.time_zone", tz, err)
		}
	}
}

func TestHoursOpenInThePoolsTimeZone(t *testing.T) {
	h := Hours{On: true, TimeZone: "America/New_York", Week: weekdays(9*60, 17*60), Holidays: []string{"2026-12-25"}}
	h.Week[time.Saturday] = []Span{{From: 10 * 60, To: 12 * 60}, {From: 13 * 60, To: 24 * 60}}
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		at   time.Time
		open bool
	}{
		{time.Date(2026, 12, 3, 9, 0, 0, 0, ny), true},          // Thursday at opening
		{time.Date(2026, 12, 3, 16, 59, 0, 0, ny), true},        // a minute before closing
		{time.Date(2026, 12, 3, 17, 0, 0, 0, ny), false},        // closing time
		{time.Date(2026, 12, 3, 8, 59, 0, 0, ny), false},        // before opening
		{time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC), true},   // 10:00 in New York
		{time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC), false},  // 18:00 in New York
		{time.Date(2026, 12, 25, 11, 0, 0, 0, ny), false},       // a holiday on a Friday
		{time.Date(2026, 12, 5, 11, 0, 0, 0, ny), true},         // Saturday morning
		{time.Date(2026, 12, 5, 12, 30, 0, 0, ny), false},       // Saturday lunch
		{time.Date(2026, 12, 5, 23, 59, 0, 0, ny), true},        // until midnight
		{time.Date(2026, 12, 6, 11, 0, 0, 0, ny), false},        // Sunday
		{time.Date(2026, 7, 6, 13, 30, 0, 0, time.UTC), true},   // 9:30 in summer time
		{time.Date(2026, 12, 7, 13, 30, 0, 0, time.UTC), false}, // 8:30 in winter
		{time.Date(2026, 12, 7, 13, 30, 0, 0, time.UTC).Add(time.Hour), true},
	} {
		if got := h.Open(tc.at); got != tc.open {
			t.Errorf("open at %s (%s in New York) = %v, want %v", tc.at, tc.at.In(ny).Format("Mon 15:04"), got, tc.open)
		}
	}
	if !(&Hours{}).Open(time.Now()) {
		t.Error("hours that are off are closed")
	}
}

func TestParseSpan(t *testing.T) {
	for in, want := range map[string]Span{"09:00-17:00": {540, 1020}, " 00:00 - 24:00 ": {0, 1440}, "13:30-14:45": {810, 885}} {
		if got, err := ParseSpan(in); err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"9-5", "09:00", "09:60-10:00", "24:01-24:30", "ab:cd-ef:gh", "09:00-17:00-18:00", ""} {
		if _, err := ParseSpan(in); err == nil {
			t.Errorf("ParseSpan(%q) took it", in)
		}
	}
}

func FuzzParseSpan(f *testing.F) {
	for _, s := range []string{"09:00-17:00", "00:00-24:00", "9-5", "", "24:00-00:00", "12:3o-13:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		span, err := ParseSpan(s)
		if err != nil {
			return
		}
		if span.From < 0 || span.To > 24*60 || span.From > 24*60 {
			t.Fatalf("%q read as %v, outside a day", s, span)
		}
		again, err := ParseSpan(span.String())
		if err != nil || again != span {
			t.Fatalf("%q read as %v, which reads back as %v, %v", s, span, again, err)
		}
	})
}
