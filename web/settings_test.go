package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// attr is an attribute of an element, or "" without it.
func (tb *tab) attr(selector, name string) string {
	tb.T.Helper()
	return testkit.Eval[string](tb.Tab, "document.querySelector("+strconv.Quote(selector)+").getAttribute("+strconv.Quote(name)+") || ''")
}

func (n *node) clusterVoicemail() httpapi.Voicemail {
	n.t.Helper()
	var v httpapi.Voicemail
	n.AdminOK("GET", "/v1/settings/voicemail", nil, http.StatusOK, &v)
	return v
}

func TestAnAdminSetsTheClustersVoicemailOnTheSettingsPageInTheBrowser(t *testing.T) {
	n := startNode(t)
	tb := newTab(t, n)
	tb.signIn()
	tb.submit(`nav a[href="/admin/settings"]`, "#voicemail-form")
	tb.wantText("#voicemail-use", `: 0 of 0 pools\.`)
	if tb.checked("#voicemail") {
		t.Fatal("the cluster's voicemail is on before anyone set it")
	}
	tb.shot("settings, voicemail never set")

	tb.check("#voicemail", true)
	tb.fill("#voicemail_greeting", "You have reached Acme Plumbing.\nLeave your name and number.")
	tb.fill("#voicemail_voice", "Polly.Joanna")
	tb.fill("#voicemail_max_length_s", "90")
	tb.check("#voicemail_transcribe", true)
	tb.submit("#save-voicemail", "#flash")
	tb.wantText("#flash", `^The cluster's voicemail saved`)
	tb.shot("settings, voicemail saved")

	want := httpapi.Voicemail{On: true, Greeting: "You have reached Acme Plumbing. Leave your name and number.", Voice: "Polly.Joanna",
		Language: "en-US", MaxLengthS: 90, Transcribe: true}
	if got := n.clusterVoicemail(); got != want {
		t.Fatalf("the cluster's voicemail through the API is %+v, want %+v", got, want)
	}
	for sel, want := range map[string]string{
		"#voicemail_greeting": want.Greeting, "#voicemail_voice": "Polly.Joanna", "#voicemail_max_length_s": "90", "#voicemail_language": "en-US",
	} {
		if got := tb.inputValue(sel); got != want {
			t.Errorf("after saving, %s holds %q, want %q", sel, got, want)
		}
	}

	// Switched off, it keeps its greeting for when it is on again.
	tb.check("#voicemail", false)
	tb.submit("#save-voicemail", "#flash")
	want.On = false
	if got := n.clusterVoicemail(); got != want {
		t.Fatalf("switched off, the cluster's voicemail through the API is %+v, want %+v", got, want)
	}
}

func TestTheSettingsPageNamesTheVoicemailFieldAMistakeIsInAndKeepsWhatWasTyped(t *testing.T) {
	n := startNode(t)
	n.AdminOK("PATCH", "/v1/settings/voicemail", map[string]any{"on": true, "greeting": "You have reached Acme."}, http.StatusOK, nil)
	before := n.clusterVoicemail()
	tb := newTab(t, n)
	tb.signIn()
	for _, c := range []struct {
		name   string
		fill   map[string]string
		field  string
		errors string
	}{
		{"a greeting too long", map[string]string{"#voicemail_greeting": strings.Repeat("a", 501), "#voicemail_max_length_s": "60"},
			"#voicemail_greeting", `^Greeting: must be at most 500 characters, got 501`},
		{"a message too long", map[string]string{"#voicemail_greeting": "Leave a message.", "#voicemail_max_length_s": "9999"},
			"#voicemail_max_length_s", `^Longest message: must be whole seconds between 1 and 600`},
	} {
		tb.open("/admin/settings")
		tb.waitFor("#voicemail-form")
		tb.check("#voicemail_transcribe", true)
		for sel, v := range c.fill {
			tb.fill(sel, v)
		}
		tb.submit("#save-voicemail", "#form-error")
		tb.wantText("#form-error", c.errors)
		tb.wantText(c.field+" + p.field-error", c.errors)
		if tb.attr(c.field, "aria-invalid") != "true" {
			t.Errorf("%s: %s is not marked invalid", c.name, c.field)
		}
		for sel, v := range c.fill {
			if got := tb.inputValue(sel); got != v {
				t.Errorf("%s: after the mistake %s holds %q, want %q", c.name, sel, got, v)
			}
		}
		if !tb.checked("#voicemail_transcribe") {
			t.Errorf("%s: after the mistake the transcription is unticked", c.name)
		}
		tb.shot("settings, " + c.name)
		if got := n.clusterVoicemail(); got != before {
			t.Errorf("%s: a refused form changed the cluster's voicemail to %+v", c.name, got)
		}
	}
}

func TestAReportingSessionReadsTheClustersVoicemailButCannotChangeIt(t *testing.T) {
	n := startNode(t)
	n.AdminOK("PATCH", "/v1/settings/voicemail", map[string]any{"on": true, "greeting": "You have reached Acme."}, http.StatusOK, nil)
	var tok struct{ Token string }
	n.AdminOK("POST", "/v1/tokens", map[string]string{"name": "reports", "role": "reporting"}, http.StatusCreated, &tok)
	cookie := signInHTTP(t, n, tok.Token)

	page := n.Send("GET", "/admin/settings", nil, "Cookie", cookie.String())
	body := string(page.Body)
	if page.Status != http.StatusOK || !strings.Contains(body, `id="voicemail-settings"`) || !strings.Contains(body, "“You have reached Acme.”") {
		t.Fatalf("a reporting session's settings page: %d\n%s", page.Status, body)
	}
	if strings.Contains(body, `id="voicemail-form"`) || strings.Contains(body, `action="/admin/settings/voicemail"`) {
		t.Fatal("a reporting session is offered the voicemail form")
	}
	form := url.Values{"csrf": {csrf(t, n, cookie)}, "voicemail": {"1"}, "voicemail_greeting": {"Hacked."}}
	if r := n.post("/admin/settings/voicemail", form, cookie, "Origin", n.URL); r.Status != http.StatusForbidden {
		t.Fatalf("a reporting session posts the voicemail form: %d", r.Status)
	}
	if got := n.clusterVoicemail(); !got.On || got.Greeting != "You have reached Acme." {
		t.Fatalf("after a reporting session's post the cluster's voicemail is %+v", got)
	}
}
