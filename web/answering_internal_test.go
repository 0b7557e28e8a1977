package web

import (
	"slices"
	"testing"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
)

func TestThePoolPageSaysHowAPoolAnswersInALine(t *testing.T) {
	week := func(days map[string][]string) map[string][]string {
		out := map[string][]string{}
		for _, d := range allocator.Days {
			out[d] = append([]string{}, days[d]...)
		}
		return out
	}
	nineToFive := []string{"09:00-17:00"}
	for _, c := range []struct {
		name string
		pool httpapi.Pool
		want string
	}{
		{"everything off", httpapi.Pool{}, "Voicemail off · open all hours · not recorded · fixed size"},
		{
			"a working week in New York",
			httpapi.Pool{
				Voicemail: httpapi.Voicemail{On: true},
				Hours: httpapi.Hours{On: true, TimeZone: "America/New_York", Week: week(map[string][]string{
					"mon": nineToFive, "tue": nineToFive, "wed": nineToFive, "thu": nineToFive, "fri": nineToFive,
				})},
				Recording: httpapi.Recording{On: true},
				Autoscale: httpapi.Autoscale{MinSize: 4, MaxSize: 20},
			},
			"Voicemail on · Mon–Fri 09:00–17:00 America/New_York, after hours to voicemail · recorded with notice · sizes itself 4–20",
		},
		{
			"days apart, a holiday and a number after hours",
			httpapi.Pool{
				Country: "GB",
				Hours: httpapi.Hours{On: true, TimeZone: "Europe/London", Holidays: []string{"2026-12-25"}, AfterHoursForwardTo: "+442079460999",
					Week: week(map[string][]string{"mon": nineToFive, "wed": nineToFive, "sun": {"10:00-12:00", "14:00-16:00"}})},
				Recording: httpapi.Recording{On: true, NoNotice: true},
			},
			"Voicemail off · Mon 09:00–17:00, Wed 09:00–17:00, Sun 10:00–12:00, 14:00–16:00 Europe/London, 1 holiday, after hours to 020 7946 0999 · recorded without notice · fixed size",
		},
		{
			"closed all week",
			httpapi.Pool{Voicemail: httpapi.Voicemail{On: true, Transcribe: true}, Hours: httpapi.Hours{On: true, TimeZone: "UTC", Week: week(nil)}},
			"Voicemail on, transcribed · closed all week UTC, after hours to voicemail · not recorded · fixed size",
		},
		{
			"on the cluster's voicemail, its own kept",
			httpapi.Pool{Voicemail: httpapi.Voicemail{UseDefault: true, On: false, Transcribe: true}},
			"Voicemail: the cluster's (on) · open all hours · not recorded · fixed size",
		},
	} {
		if got := answeringSummary(c.pool, httpapi.Voicemail{On: true, Greeting: "You have reached Acme."}); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestThePoolFormSaysWhatTheClustersVoicemailIsInALine(t *testing.T) {
	for _, c := range []struct {
		v    httpapi.Voicemail
		want string
	}{
		{httpapi.Voicemail{Greeting: "You have reached Acme."}, "off"},
		{httpapi.Voicemail{On: true, Greeting: "You have reached Acme."}, "on: “You have reached Acme.”"},
		{httpapi.Voicemail{On: true, Greeting: "You have reached Acme Plumbing and Heating of Springfield.", Transcribe: true},
			"on: “You have reached Acme Plumbing and Heat…”, transcribed"},
		{httpapi.Voicemail{On: true, Greeting: "Unused.", AudioURL: "https://acme.example/vm.mp3"}, "on: plays a recording"},
	} {
		if got := clusterVoicemailLine(c.v); got != c.want {
			t.Errorf("%+v: %q, want %q", c.v, got, c.want)
		}
	}
}

func TestTheCallsSectionReadsSpansHolidaysAndTheAfterHoursNumberAsTyped(t *testing.T) {
	f := answeringForm{
		Hours: true, TimeZone: "Europe/London", Voicemail: voicemailForm{On: true, Greeting: allocator.DefaultGreeting, MaxLength: "90"},
		Holidays:   "2026-12-26\r\n2026-12-25, 2026-12-26 ",
		AfterHours: "020 7946 0999", Notice: allocator.DefaultRecordingNotice,
	}
	f.Week[1] = "09:00-12:00 ,13:00-17:00"
	var pt allocator.Patch
	if err := f.patch("GB", &pt); err != nil {
		t.Fatal(err)
	}
	h := pt.Hours
	if !slices.Equal(h.Week[1], []allocator.Span{{From: 540, To: 720}, {From: 780, To: 1020}}) || len(h.Week[2]) != 0 {
		t.Errorf("the week reads as %v", h.Week)
	}
	if !slices.Equal(h.Holidays, []string{"2026-12-25", "2026-12-26"}) || h.AfterHoursForwardTo != "+442079460999" {
		t.Errorf("holidays %v, after hours %q", h.Holidays, h.AfterHoursForwardTo)
	}
	// The defaults the form shows are kept as defaults, not as text that
	// would stay when the defaults change.
	if pt.Voicemail.Greeting != "" || pt.Recording.Notice != "" || pt.Voicemail.MaxLength.Seconds() != 90 {
		t.Errorf("voicemail %+v, recording %+v", *pt.Voicemail, *pt.Recording)
	}
	if pt.Autoscale == nil || pt.Autoscale.On() {
		t.Errorf("an unticked autoscaling reads as %+v", pt.Autoscale)
	}

	for field, bad := range map[string]answeringForm{
		"hours.week.tue":               {Week: [7]string{2: "9-5"}},
		"hours.after_hours_forward_to": {AfterHours: "555-01"},
		"voicemail.max_length_s":       {Voicemail: voicemailForm{MaxLength: "two minutes"}},
		"autoscale.max_size":           {Autoscale: true, MinSize: "4", MaxSize: "lots"},
	} {
		err := bad.patch("US", &allocator.Patch{})
		if fe, ok := asFieldError(err); !ok || fe.Field != field {
			t.Errorf("%+v: the error %v names no field %s", bad, err, field)
		}
	}
}
