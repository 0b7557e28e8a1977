package web

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
)

// How a pool answers calls, on the edit form and the pool page: voicemail,
// business hours, recording and autoscaling. Each is one block of the
// settings (allocator.Voicemail and the others) that a save replaces
// whole, so a box left unticked turns its block off and keeps what its
// fields hold for when it is ticked again.

// answeringForm is the Calls section of the edit form, as typed.
type answeringForm struct {
	Voicemail voicemailForm

	Hours      bool
	TimeZone   string
	Week       [7]string // by time.Weekday: "09:00-17:00, 18:00-20:00"
	Holidays   string    // one a line, or separated by commas
	AfterHours string    // as the pool's country writes it; empty: voicemail

	Recording bool
	Notice    string
	NoNotice  bool

	Autoscale        bool
	MinSize, MaxSize string
}

func answeringFormOf(pl httpapi.Pool) answeringForm {
	h, rec, a := pl.Hours, pl.Recording, pl.Autoscale
	f := answeringForm{
		Voicemail: voicemailFormOf(pl.Voicemail),
		Hours:     h.On, TimeZone: h.TimeZone, Holidays: strings.Join(h.Holidays, "\n"), AfterHours: h.AfterHoursForwardTo,
		Recording: rec.On, Notice: rec.Notice, NoNotice: rec.NoNotice,
		Autoscale: a.MinSize != 0 || a.MaxSize != 0,
	}
	for d, day := range allocator.Days {
		f.Week[d] = strings.Join(h.Week[day], ", ")
	}
	if f.Autoscale {
		f.MinSize, f.MaxSize = strconv.Itoa(a.MinSize), strconv.Itoa(a.MaxSize)
	}
	return f
}

func readAnsweringForm(r *request) answeringForm {
	f := answeringForm{
		Voicemail: readVoicemailForm(r),
		Hours:     r.form("hours") != "", TimeZone: r.trimmed("hours_time_zone"),
		Holidays: r.form("hours_holidays"), AfterHours: r.trimmed("hours_after_hours_forward_to"),
		Recording: r.form("recording") != "", Notice: strings.TrimSpace(oneLine(r.form("recording_notice"))),
		NoNotice:  r.form("recording_no_notice") != "",
		Autoscale: r.form("autoscale") != "", MinSize: r.trimmed("autoscale_min_size"), MaxSize: r.trimmed("autoscale_max_size"),
	}
	for d, day := range allocator.Days {
		f.Week[d] = r.trimmed("hours_week_" + day)
	}
	return f
}

// voicemailForm is a voicemail's fields as typed: a pool's, in the Calls
// section of the edit form, or the cluster's, on the Settings page.
type voicemailForm struct {
	UseDefault bool // a pool's only: it answers with the cluster's
	On         bool
	Greeting   string
	AudioURL   string
	Voice      string
	Language   string
	MaxLength  string // seconds
	Transcribe bool
}

func voicemailFormOf(v httpapi.Voicemail) voicemailForm {
	return voicemailForm{
		UseDefault: v.UseDefault, On: v.On, Greeting: v.Greeting, AudioURL: v.AudioURL, Voice: v.Voice, Language: v.Language,
		MaxLength: strconv.Itoa(v.MaxLengthS), Transcribe: v.Transcribe,
	}
}

// voicemailSource is the edit form's choice of the pool's voicemail.
const (
	voicemailCluster = "cluster"
	voicemailOwn     = "own"
)

func readVoicemailForm(r *request) voicemailForm {
	return voicemailForm{
		UseDefault: r.form("voicemail_source") == voicemailCluster,
		On:         r.form("voicemail") != "", Greeting: strings.TrimSpace(oneLine(r.form("voicemail_greeting"))),
		AudioURL: r.trimmed("voicemail_audio_url"), Voice: r.trimmed("voicemail_voice"),
		Language: r.trimmed("voicemail_language"), MaxLength: r.trimmed("voicemail_max_length_s"),
		Transcribe: r.form("voicemail_transcribe") != "",
	}
}

// voicemail is the voicemail the fields ask for. The defaults the form
// shows are left empty, so that the settings keep following them rather
// than hold text that stays when the defaults change.
func (f voicemailForm) voicemail() (httpapi.Voicemail, error) {
	v := httpapi.Voicemail{UseDefault: f.UseDefault, On: f.On, Greeting: f.Greeting, AudioURL: f.AudioURL, Voice: f.Voice,
		Language: f.Language, Transcribe: f.Transcribe}
	if f.Greeting == allocator.DefaultGreeting {
		v.Greeting = ""
	}
	if f.Language == allocator.DefaultLanguage {
		v.Language = ""
	}
	if f.MaxLength != "" {
		n, err := number("voicemail.max_length_s", f.MaxLength)
		if err != nil {
			return v, err
		}
		v.MaxLengthS = *n
	}
	return v, nil
}

// oneLine joins the lines of a textarea: a greeting is said, not shown,
// and the settings take it on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ", "\t", " ").Replace(s)), " ")
}

// patch sets the four blocks in pt. country is the form's: the after-hours
// number is read in its layouts, as the forwarding numbers are.
func (f answeringForm) patch(country string, pt *allocator.Patch) error {
	w, err := f.Voicemail.voicemail()
	if err != nil {
		return err
	}
	v := allocator.Voicemail{UseDefault: w.UseDefault, On: w.On, Greeting: w.Greeting, AudioURL: w.AudioURL, Voice: w.Voice,
		Language: w.Language, MaxLength: secondsDuration(w.MaxLengthS), Transcribe: w.Transcribe}
	h, err := f.hours(country)
	if err != nil {
		return err
	}
	rec := allocator.CallRecording{On: f.Recording, NoNotice: f.NoNotice}
	if f.Notice != allocator.DefaultRecordingNotice {
		rec.Notice = f.Notice
	}
	var a allocator.Autoscale
	if f.Autoscale {
		lo, err := number("autoscale.min_size", f.MinSize)
		if err != nil {
			return err
		}
		hi, err := number("autoscale.max_size", f.MaxSize)
		if err != nil {
			return err
		}
		a = allocator.Autoscale{MinSize: *lo, MaxSize: *hi}
	}
	pt.Voicemail, pt.Hours, pt.Recording, pt.Autoscale = &v, &h, &rec, &a
	return nil
}

// hours reads the business hours. Holidays are put in order and listed
// once, as the settings keep them.
func (f answeringForm) hours(country string) (allocator.Hours, error) {
	h := allocator.Hours{On: f.Hours, TimeZone: f.TimeZone}
	for d, day := range allocator.Days {
		for _, s := range strings.Split(f.Week[d], ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			span, err := allocator.ParseSpan(s)
			if err != nil {
				return h, &allocator.ValidationError{Field: "hours.week." + day, Reason: err.Error()}
			}
			h.Week[d] = append(h.Week[d], span)
		}
	}
	h.Holidays = strings.FieldsFunc(f.Holidays, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	slices.Sort(h.Holidays)
	h.Holidays = slices.Compact(h.Holidays)
	if f.AfterHours != "" {
		h.AfterHoursForwardTo = f.AfterHours
		if allocator.KnownCountry(country) {
			e164, err := allocator.NormalizeForwardTo([]string{f.AfterHours}, country)
			var ve *allocator.ValidationError
			if errors.As(err, &ve) {
				return h, &allocator.ValidationError{Field: "hours.after_hours_forward_to", Reason: ve.Reason}
			}
			if err != nil {
				return h, err
			}
			h.AfterHoursForwardTo = e164[0]
		}
	}
	return h, nil
}

// dayNames are the days as the form names them, by time.Weekday.
var dayNames = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// weekOrder is the week as the form lists it: Monday first.
var weekOrder = [7]int{1, 2, 3, 4, 5, 6, 0}

// dayField is one day's row of the hours in the form.
type dayField struct {
	Key   string // "mon"
	Name  string // "Monday"
	Spans string
}

func (f answeringForm) Days() []dayField {
	out := make([]dayField, 0, 7)
	for _, d := range weekOrder {
		out = append(out, dayField{Key: allocator.Days[d], Name: dayNames[d], Spans: f.Week[d]})
	}
	return out
}

// commonTimeZones are offered as the time zone field is typed; any IANA
// name is taken.
var commonTimeZones = []string{
	"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Toronto", "America/Vancouver", "America/Mexico_City",
	"America/Sao_Paulo", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
	"Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens",
	"Africa/Johannesburg", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
	"Australia/Sydney", "Australia/Perth", "Pacific/Auckland", "UTC",
}

// clusterVoicemailLine says in a line what the cluster's voicemail is,
// where a pool's edit form offers it: "on: “You have reached Acme…”".
func clusterVoicemailLine(v httpapi.Voicemail) string {
	if !v.On {
		return "off"
	}
	out := "on: “" + short(v.Greeting, 40) + "”"
	if v.AudioURL != "" {
		out = "on: plays a recording"
	}
	if v.Transcribe {
		out += ", transcribed"
	}
	return out
}

// answeringSummary is the pool page's line on how the pool answers:
// "Voicemail on · Mon–Fri 09:00–17:00 America/New_York · recorded with
// notice · sizes itself 4–20". cluster is the cluster's voicemail, for a
// pool that uses it: "Voicemail: the cluster's (on)".
func answeringSummary(pl httpapi.Pool, cluster httpapi.Voicemail) string {
	parts := []string{"Voicemail off"}
	switch v := pl.Voicemail; {
	case v.UseDefault:
		parts[0] = "Voicemail: the cluster's (off)"
		if cluster.On {
			parts[0] = "Voicemail: the cluster's (on)"
			if cluster.Transcribe {
				parts[0] = "Voicemail: the cluster's (on, transcribed)"
			}
		}
	case v.On:
		parts[0] = "Voicemail on"
		if v.Transcribe {
			parts[0] += ", transcribed"
		}
	}
	parts = append(parts, hoursSummary(pl))
	switch r := pl.Recording; {
	case !r.On:
		parts = append(parts, "not recorded")
	case r.NoNotice:
		parts = append(parts, "recorded without notice")
	default:
		parts = append(parts, "recorded with notice")
	}
	if a := pl.Autoscale; a.MinSize != 0 || a.MaxSize != 0 {
		parts = append(parts, "sizes itself "+strconv.Itoa(a.MinSize)+"–"+strconv.Itoa(a.MaxSize))
	} else {
		parts = append(parts, "fixed size")
	}
	return strings.Join(parts, " · ")
}

// hoursSummary says the business hours in a few words, days with the
// same spans run together: "Mon–Fri 09:00–17:00, Sat 10:00–14:00
// Europe/London".
func hoursSummary(pl httpapi.Pool) string {
	h := pl.Hours
	if !h.On {
		return "open all hours"
	}
	var groups []string
	for i := 0; i < len(weekOrder); {
		spans := h.Week[allocator.Days[weekOrder[i]]]
		j := i + 1
		for j < len(weekOrder) && slices.Equal(h.Week[allocator.Days[weekOrder[j]]], spans) {
			j++
		}
		if len(spans) > 0 {
			days := dayAbbr(weekOrder[i])
			if j-i > 1 {
				days += "–" + dayAbbr(weekOrder[j-1])
			}
			groups = append(groups, days+" "+strings.ReplaceAll(strings.Join(spans, ", "), "-", "–"))
		}
		i = j
	}
	out := "closed all week"
	if len(groups) > 0 {
		out = strings.Join(groups, ", ")
	}
	out += " " + h.TimeZone
	if n := len(h.Holidays); n > 0 {
		out += ", " + plural(n, "holiday", "holidays")
	}
	if h.AfterHoursForwardTo != "" {
		out += ", after hours to " + localPhone(pl.Country, h.AfterHoursForwardTo)
	} else {
		out += ", after hours to voicemail"
	}
	return out
}

func dayAbbr(d int) string { return dayNames[d][:3] }
