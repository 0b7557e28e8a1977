package standin

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTwiMLReadsVerbsAttributesAndNouns(t *testing.T) {
	doc := "\uFEFF" + `<?xml version="1.0" encoding="UTF-8"?>
<!-- dni -->
<Response>
  <Say voice="alice">Call from <emphasis>Google</emphasis> Ads &amp; more</Say>
  <Dial timeout="12" action="/action?step=1" answerOnBridge="true" callerId="+14155550100">
    <Number url="/whisper?pool=p1" method="POST">+15105550001</Number>
    <Number>+15105550002</Number>
  </Dial>
  <Hangup/>
</Response>
`
	verbs, err := parseTwiML([]byte(doc))
	if err != nil {
		t.Fatalf("parseTwiML: %v", err)
	}
	if len(verbs) != 3 || verbs[0].name != "Say" || verbs[1].name != "Dial" || verbs[2].name != "Hangup" {
		t.Fatalf("verbs %+v", verbs)
	}
	if got := verbs[0].spoken(); got != "Call from Google Ads & more" {
		t.Errorf("Say text %q", got)
	}
	dial := &verbs[1]
	if dial.intAttr("timeout", 30) != 12 || dial.attr("action") != "/action?step=1" || dial.attr("answerOnBridge") != "true" {
		t.Errorf("Dial attributes %+v", dial.attrs)
	}
	dests := destinations(dial)
	if len(dests) != 2 || dests[0] != (destination{"+15105550001", "/whisper?pool=p1", "POST"}) || dests[1].number != "+15105550002" {
		t.Errorf("destinations %+v", dests)
	}
}

func TestParseTwiMLRefusesWhatTwilioCannotRun(t *testing.T) {
	tests := []struct {
		name, doc string
	}{
		{"empty", ""},
		{"HTML", "<html><body>502 Bad Gateway</body></html>"},
		{"plain text", "OK"},
		{"unclosed", "<Response><Say>hi</Response>"},
		{"two roots", "<Response/><Response/>"},
		{"text after the root", "<Response/>trailing"},
		{"too deep", "<Response>" + strings.Repeat("<a>", maxTwiMLDepth) + strings.Repeat("</a>", maxTwiMLDepth) + "</Response>"},
		{"too big", "<Response><Say>" + strings.Repeat("x", maxTwiML) + "</Say></Response>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if verbs, err := parseTwiML([]byte(tt.doc)); err == nil {
				t.Errorf("parsed %q as %+v", tt.doc, verbs)
			}
		})
	}
	if _, err := parseTwiML([]byte("<html/>")); !errors.Is(err, errNotTwiML) {
		t.Errorf("HTML: %v, want errNotTwiML", err)
	}
}

func TestParseTwiMLAcceptsAnEmptyResponse(t *testing.T) {
	for _, doc := range []string{"<Response/>", "<Response></Response>", ` <?xml version="1.0"?>` + "\n<Response>\n</Response>\n"} {
		if verbs, err := parseTwiML([]byte(doc)); err != nil || len(verbs) != 0 {
			t.Errorf("%q: %d verbs, %v", doc, len(verbs), err)
		}
	}
}

func FuzzParseTwiML(f *testing.F) {
	for _, seed := range []string{
		`<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="30" action="/a" answerOnBridge="true"><Number url="/w">+15105550001</Number></Dial></Response>`,
		`<Response><Say>hi <break/> there</Say><Redirect method="GET">/next</Redirect></Response>`,
		`<Response><Reject reason="busy"/><Pause length="x"/></Response>`,
		`<Response><Dial>+15105550001</Dial></Response>`,
		`<Response><Say>Leave a message</Say><Record maxLength="30" finishOnKey="#" transcribe="true" recordingStatusCallbackEvent="in-progress, completed"/></Response>`,
		`<Response><Dial record="record-from-ringing-dual" recordingStatusCallback="/r"><Number>+15105550001</Number></Dial></Response>`,
		`<html>`,
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		verbs, err := parseTwiML(doc)
		if err != nil {
			return
		}
		var walk func([]verb, int)
		walk = func(vs []verb, depth int) {
			if depth > maxTwiMLDepth {
				t.Fatalf("nesting %d deep", depth)
			}
			for i := range vs {
				v := &vs[i]
				v.spoken()
				v.intAttr("timeout", 30)
				destinations(v)
				if len(events(v.attr("recordingStatusCallbackEvent"))) == 0 {
					t.Fatal("no recording status events, not even the default")
				}
				if _, channels, recorded := dialRecording(v.attr("record")); recorded != (channels == 1 || channels == 2) {
					t.Fatalf("record=%q: %d channels, recorded %v", v.attr("record"), channels, recorded)
				}
				walk(v.children, depth+1)
			}
		}
		walk(verbs, 1)
	})
}

func BenchmarkParseTwiML(b *testing.B) {
	doc := []byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="30" action="https://dni.example/twilio/action?pool=p1" answerOnBridge="true"><Number url="https://dni.example/twilio/whisper?visit=v1">+15105550001</Number></Dial></Response>`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseTwiML(doc); err != nil {
			b.Fatal(err)
		}
	}
}
