package web_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dni-dev/dni/internal/testkit"
)

// answeringJSON is how a pool answers calls, read through the admin API.
type answeringJSON struct {
	Size      int `json:"size"`
	Voicemail struct {
		UseDefault bool   `json:"use_default"`
		On         bool   `json:"on"`
		Greeting   string `json:"greeting"`
		MaxLengthS int    `json:"max_length_s"`
		Transcribe bool   `json:"transcribe"`
	} `json:"voicemail"`
	Hours struct {
		On                  bool                `json:"on"`
		TimeZone            string              `json:"time_zone"`
		Week                map[string][]string `json:"week"`
		Holidays            []string            `json:"holidays"`
		AfterHoursForwardTo string              `json:"after_hours_forward_to"`
	} `json:"hours"`
	Recording struct {
		On       bool   `json:"on"`
		Notice   string `json:"notice"`
		NoNotice bool   `json:"no_notice"`
	} `json:"recording"`
	Autoscale struct {
		MinSize int `json:"min_size"`
		MaxSize int `json:"max_size"`
	} `json:"autoscale"`
}

func (n *node) answering(id string) answeringJSON {
	n.t.Helper()
	var out answeringJSON
	n.AdminOK("GET", "/v1/pools/"+id, nil, http.StatusOK, &out)
	return out
}

// check ticks or unticks a checkbox.
func (tb *tab) check(selector string, on bool) {
	tb.T.Helper()
	if !testkit.Eval[bool](tb.Tab, "(e => { e.checked = "+strconv.FormatBool(on)+"; return true })(document.querySelector("+strconv.Quote(selector)+"))") {
		tb.T.Fatalf("no checkbox %s", selector)
	}
}

func (tb *tab) checked(selector string) bool {
	tb.T.Helper()
	return testkit.Eval[bool](tb.Tab, "document.querySelector("+strconv.Quote(selector)+").checked")
}

func TestAMarketerSetsVoicemailHoursRecordingAndAutoscalingOnTheEditFormInTheBrowser(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	tb := newTab(t, n)
	tb.signIn()
	tb.open("/admin/pools/" + pl.ID)
	tb.wantText("#answering", `^Voicemail: the cluster's \(off\) · open all hours · not recorded · fixed size$`)

	tb.submit(`.heading a[href$="/edit"]`, "#answering")
	if tb.checked("#voicemail") || tb.checked("#hours") || tb.checked("#recording") || tb.checked("#autoscale") {
		t.Fatal("a new pool's edit form has a part of its Calls section on")
	}
	tb.click("#voicemail_source_own")
	tb.check("#voicemail", true)
	tb.fill("#voicemail_greeting", "Thanks for calling Acme Plumbing. Leave your name and number.")
	tb.fill("#voicemail_max_length_s", "60")
	tb.check("#voicemail_transcribe", true)
	tb.check("#hours", true)
	tb.fill("#hours_time_zone", "America/New_York")
	for _, day := range []string{"mon", "tue", "wed", "thu", "fri"} {
		tb.fill("#hours_week_"+day, "09:00-17:00")
	}
	tb.fill("#hours_week_sat", "10:00-12:00,13:00-14:00")
	tb.fill("#hours_holidays", "2026-12-25\n2026-01-01, 2026-12-25")
	tb.fill("#hours_after_hours_forward_to", "(415) 555-0199")
	tb.check("#recording", true)
	tb.fill("#recording_notice", "This call is recorded for training.")
	tb.check("#autoscale", true)
	tb.fill("#autoscale_min_size", "4")
	tb.fill("#autoscale_max_size", "20")
	tb.shot("edit form, calls section")
	tb.submit("#save", "#saved")
	tb.wantText("#answering", `^Voicemail on, transcribed · Mon–Fri 09:00–17:00, Sat 10:00–12:00, 13:00–14:00 America/New_York, 2 holidays, after hours to \(415\) 555-0199 · recorded with notice · sizes itself 4–20$`)
	tb.shot("pool, calls summary")

	got := n.answering(pl.ID)
	v, h, r, a := got.Voicemail, got.Hours, got.Recording, got.Autoscale
	if v.UseDefault || !v.On || v.Greeting != "Thanks for calling Acme Plumbing. Leave your name and number." || v.MaxLengthS != 60 || !v.Transcribe {
		t.Errorf("voicemail through the API: %+v", v)
	}
	if !h.On || h.TimeZone != "America/New_York" || !slices.Equal(h.Week["mon"], []string{"09:00-17:00"}) ||
		!slices.Equal(h.Week["sat"], []string{"10:00-12:00", "13:00-14:00"}) || len(h.Week["sun"]) != 0 ||
		!slices.Equal(h.Holidays, []string{"2026-01-01", "2026-12-25"}) || h.AfterHoursForwardTo != "+14155550199" {
		t.Errorf("hours through the API: %+v", h)
	}
	if !r.On || r.Notice != "This call is recorded for training." || r.NoNotice {
		t.Errorf("recording through the API: %+v", r)
	}
	if a.MinSize != 4 || a.MaxSize != 20 {
		t.Errorf("autoscaling through the API: %+v", a)
	}

	// The form shows what was saved; unticking a box turns its part off
	// and keeps its fields.
	tb.submit(`.heading a[href$="/edit"]`, "#answering")
	for sel, want := range map[string]string{
		"#hours_week_sat": "10:00-12:00, 13:00-14:00", "#hours_holidays": "2026-01-01\n2026-12-25",
		"#hours_after_hours_forward_to": "+14155550199", "#autoscale_max_size": "20",
	} {
		if got := tb.inputValue(sel); got != want {
			t.Errorf("the edit form's %s holds %q, want %q", sel, got, want)
		}
	}
	tb.check("#hours", false)
	tb.check("#recording", false)
	tb.check("#autoscale", false)
	tb.submit("#save", "#saved")
	tb.wantText("#answering", `^Voicemail on, transcribed · open all hours · not recorded · fixed size$`)
	got = n.answering(pl.ID)
	if got.Hours.On || got.Hours.TimeZone != "America/New_York" || got.Recording.On || got.Autoscale.MinSize != 0 || got.Autoscale.MaxSize != 0 {
		t.Errorf("after unticking, through the API: %+v", got)
	}
}

func TestTheEditFormNamesTheCallSettingAMistakeIsInAndKeepsWhatWasTyped(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	before := n.answering(pl.ID)
	tb := newTab(t, n)
	tb.signIn()
	long := strings.Repeat("a", 501)
	for _, c := range []struct {
		name   string
		fill   map[string]string
		tick   []string
		field  string // the input the error shows under
		errors string // the error at the top of the form
	}{
		{
			name: "overlapping spans", tick: []string{"#hours", "#voicemail_source_own", "#voicemail"},
			fill:  map[string]string{"#hours_time_zone": "Europe/London", "#hours_week_mon": "09:00-13:00, 12:00-17:00"},
			field: "#hours_week_mon", errors: `^Hours on Monday: 12:00-17:00 overlaps 09:00-13:00`,
		},
		{
			name: "a span that is no span", tick: []string{"#hours", "#voicemail_source_own", "#voicemail"},
			fill:  map[string]string{"#hours_time_zone": "Europe/London", "#hours_week_tue": "9 to 5"},
			field: "#hours_week_tue", errors: `^Hours on Tuesday: "9 to 5" is not a span such as 09:00-17:00`,
		},
		{
			name: "an unknown time zone", tick: []string{"#hours", "#voicemail_source_own", "#voicemail"},
			fill:  map[string]string{"#hours_time_zone": "Mars/Olympus", "#hours_week_mon": "09:00-17:00"},
			field: "#hours_time_zone", errors: `^Time zone: "Mars/Olympus" is not an IANA time zone`,
		},
		{
			name: "a smallest size above the largest", tick: []string{"#autoscale"},
			fill:  map[string]string{"#autoscale_min_size": "20", "#autoscale_max_size": "10"},
			field: "#autoscale_min_size", errors: `^Smallest size: must be at most max_size \(10\), got 20`,
		},
		{
			name: "a greeting too long", tick: []string{"#voicemail_source_own", "#voicemail"},
			fill:  map[string]string{"#voicemail_greeting": long},
			field: "#voicemail_greeting", errors: `^Greeting: must be at most 500 characters, got 501`,
		},
		{
			name: "an after-hours number that is no number", tick: []string{"#hours"},
			fill:  map[string]string{"#hours_time_zone": "Europe/London", "#hours_after_hours_forward_to": "555-01"},
			field: "#hours_after_hours_forward_to", errors: `^After-hours number: .*555-01`,
		},
	} {
		tb.open("/admin/pools/" + pl.ID + "/edit")
		tb.waitFor("#answering")
		for _, box := range c.tick {
			tb.check(box, true)
		}
		for sel, v := range c.fill {
			tb.fill(sel, v)
		}
		tb.submit("#save", "#form-error")
		tb.wantText("#form-error", c.errors)
		tb.wantText(c.field+" + p.field-error", c.errors)
		if got := testkit.Eval[string](tb.Tab, "document.querySelector("+strconv.Quote(c.field)+").getAttribute('aria-invalid')"); got != "true" {
			t.Errorf("%s: %s is not marked invalid", c.name, c.field)
		}
		for sel, v := range c.fill {
			if got := tb.inputValue(sel); got != v {
				t.Errorf("%s: after the mistake %s holds %q, want %q", c.name, sel, got, v)
			}
		}
		for _, box := range c.tick {
			if !tb.checked(box) {
				t.Errorf("%s: after the mistake %s is unticked", c.name, box)
			}
		}
		tb.shot("edit form, " + c.name)
		if after := n.answering(pl.ID); !sameAnswering(after, before) {
			t.Errorf("%s: a refused form changed the pool: %+v, was %+v", c.name, after, before)
		}
	}
}

func sameAnswering(a, b answeringJSON) bool {
	return a.Voicemail == b.Voicemail && a.Recording == b.Recording && a.Autoscale == b.Autoscale &&
		a.Hours.On == b.Hours.On && a.Hours.TimeZone == b.Hours.TimeZone
}

func TestANewPoolAnswersWithTheClustersVoicemailUntilTheEditFormGivesItItsOwnAndBack(t *testing.T) {
	n := startNode(t)
	n.AdminOK("PATCH", "/v1/settings/voicemail", map[string]any{"on": true, "greeting": "You have reached Acme Plumbing."}, http.StatusOK, nil)
	pl := n.activePool("Spring sale")
	tb := newTab(t, n)
	tb.signIn()
	tb.open("/admin/pools/" + pl.ID)
	tb.wantText("#answering", `^Voicemail: the cluster's \(on\) · open all hours`)

	tb.submit(`.heading a[href$="/edit"]`, "#answering")
	if !tb.checked("#voicemail_source_cluster") || tb.checked("#voicemail_source_own") {
		t.Fatal("a new pool's edit form does not offer the cluster's voicemail as chosen")
	}
	tb.wantText("#cluster-voicemail", `^on: “You have reached Acme Plumbing\.”$`)
	tb.shot("edit form, the cluster's voicemail")

	// Its own.
	tb.click("#voicemail_source_own")
	tb.check("#voicemail", true)
	tb.fill("#voicemail_greeting", "Sales here. Leave a message.")
	tb.submit("#save", "#saved")
	tb.wantText("#answering", `^Voicemail on · open all hours`)
	if v := n.answering(pl.ID).Voicemail; v.UseDefault || !v.On || v.Greeting != "Sales here. Leave a message." {
		t.Fatalf("with its own voicemail, through the API: %+v", v)
	}

	// Back to the cluster's: what the own fields hold is not read, and
	// the pool keeps its own as saved.
	tb.submit(`.heading a[href$="/edit"]`, "#answering")
	if !tb.checked("#voicemail_source_own") {
		t.Fatal("the edit form does not show the pool's own voicemail as chosen")
	}
	tb.click("#voicemail_source_cluster")
	tb.fill("#voicemail_greeting", "Typed, then the cluster's chosen.")
	tb.shot("edit form, back to the cluster's voicemail")
	tb.submit("#save", "#saved")
	tb.wantText("#answering", `^Voicemail: the cluster's \(on\) · open all hours`)
	if v := n.answering(pl.ID).Voicemail; !v.UseDefault || !v.On || v.Greeting != "Sales here. Leave a message." {
		t.Fatalf("back on the cluster's voicemail, through the API: %+v", v)
	}
	tb.submit(`.heading a[href$="/edit"]`, "#answering")
	if !tb.checked("#voicemail_source_cluster") || tb.inputValue("#voicemail_greeting") != "Sales here. Leave a message." {
		t.Fatalf("the edit form shows the cluster's chosen: %v, and the greeting %q", tb.checked("#voicemail_source_cluster"), tb.inputValue("#voicemail_greeting"))
	}

	// The summary follows the cluster's as it changes.
	n.AdminOK("PATCH", "/v1/settings/voicemail", map[string]any{"on": false}, http.StatusOK, nil)
	tb.open("/admin/pools/" + pl.ID)
	tb.wantText("#answering", `^Voicemail: the cluster's \(off\) · open all hours`)
}
