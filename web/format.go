package web

import (
	"fmt"
	"html/template"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dni-dev/dni/httpapi"
)

// funcs are the templates' helpers: they format, never escape (the
// templates do that), and never return template.HTML.
var funcs = template.FuncMap{
	"display":   httpapi.Display,
	"tracking":  trackingLabel,
	"percent":   func(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" },
	"when":      when,
	"seconds":   seconds,
	"seconds64": func(s int64) string { return seconds(int(min(s, 1<<31-1))) },
	"duration":  func(d time.Duration) string { return seconds(int(d / time.Second)) },
	"money":     money,
	"moneyOr":   moneyOr,
	"roas":      roas,
	"add":       func(a, b int) int { return a + b },
	"sub":       func(a, b int) int { return a - b },
	"short":     short,
	"country":   countryOf,
	"phone":     localPhone,
	"audio":     recordingAudioPath,
	"fieldArgs": func(err *fieldError, field string) fieldArgs { return fieldArgs{Error: err, Field: field} },
	"voicemailArgs": func(f voicemailForm, err *fieldError) voicemailArgs {
		return voicemailArgs{Form: f, Error: err}
	},
}

// voicemailArgs are what the "voicemail-fields" template gets: the
// fields as typed and the form's error.
type voicemailArgs struct {
	Form  voicemailForm
	Error *fieldError
}

// fieldArgs are what the "field-error" template gets: a form's error and
// the field it would be shown under.
type fieldArgs struct {
	Error *fieldError
	Field string
}

// trackingLabel names a tracking type as the wizard does.
func trackingLabel(t string) string {
	switch t {
	case "all":
		return "All Visitors"
	case "gclid":
		return "Google Ads Only"
	}
	return t
}

// when shows a time to the minute, in UTC, which every node and every
// marketer agree on.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// seconds says a length of time the way people say it.
func seconds(s int) string {
	d := time.Duration(s) * time.Second
	switch {
	case s == 0:
		return "0 s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", s/3600)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", s/60)
	case d > time.Minute:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
	return fmt.Sprintf("%d s", s)
}

// short cuts text to at most n characters, marking the cut.
func short(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func money(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// moneyOr is an amount that may not exist (a cost per lead without
// leads), with a dash for none.
func moneyOr(f *float64) string {
	if f == nil {
		return "—"
	}
	return money(*f)
}

// roas writes a return on ad spend as a multiple of the spend: "2.00×".
func roas(f *float64) string {
	if f == nil {
		return "—"
	}
	return strconv.FormatFloat(*f, 'f', 2, 64) + "×"
}
