package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/web"
)

// startNodeWithoutTelephony is a one-node cluster serving the admin pages
// with no telephony provider at all: it keeps calls and their recordings
// but can neither play nor delete a recording's audio.
func startNodeWithoutTelephony(t *testing.T) *node {
	t.Helper()
	c := testkit.StartCluster(t, 1, testkit.Options{HTTP: httpapi.Options{Pages: web.Handler, VisitsPerMinute: -1}})
	return &node{Node: c.Node("n1"), t: t}
}

// voicemailOn records a call that ended in a message, as the voice and
// recording webhooks commit it, without a phone call.
func (n *node) voicemailOn(sid, rec, transcript string) {
	n.t.Helper()
	now := time.Now()
	n.Command(&fsm.RecordCall{SID: sid, To: "+14155550123", From: "+12125550101", At: now})
	n.Command(&fsm.UpdateCall{SID: sid, Status: allocator.CallCompleted, Duration: 20 * time.Second, At: now.Add(time.Second)})
	n.Command(&fsm.SaveRecording{Call: sid, At: now.Add(2 * time.Second), Recording: allocator.Recording{
		SID: rec, Kind: allocator.RecordingVoicemail, Status: allocator.RecordingCompleted,
		Duration: 12 * time.Second, Transcript: transcript, TranscriptStatus: "completed",
	}})
}

// get fetches a page of the node without a session: a client that does not
// follow redirects.
func (n *node) get(path string) *http.Response {
	n.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(n.URL + path)
	if err != nil {
		n.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestACallWithAVoicemailShowsItsMessageAndANodeWithoutAProviderSaysItCannotPlayIt(t *testing.T) {
	n := startNodeWithoutTelephony(t)
	const (
		sid        = "CAvoicemail1"
		rec        = "RE0123456789abcdef0123456789abcdef"
		transcript = "Hi, it's Ann about the boiler <b>service</b>, please call me back."
	)
	n.voicemailOn(sid, rec, transcript)
	audio := "/admin/calls/" + sid + "/recordings/" + rec + "/audio"

	// Signed out, the audio is refused like every admin page.
	if resp := n.get(audio); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Fatalf("a signed-out fetch of the audio got %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}

	tb := newTab(t, n)
	tb.signIn()
	tb.open("/admin/calls")
	row := `tr[data-sid="` + sid + `"]`
	tb.wantText(row+" td.message .badge", "^voicemail$")
	tb.wantText(row+" td.message .transcript", "^"+regexpQuote(transcript)+"$")
	player := row + " td.message audio"
	if src := testkit.Eval[string](tb.Tab, `document.querySelector('`+player+`').getAttribute("src")`); src != audio {
		t.Fatalf("the list's player plays %q, want %q", src, audio)
	}
	if p := testkit.Eval[string](tb.Tab, `document.querySelector('`+player+`').getAttribute("preload")`); p != "none" {
		t.Fatalf("the list's player preloads %q", p)
	}
	tb.shot("calls, a voicemail")

	tb.open("/admin/calls/" + sid)
	tb.wantText("#voicemail-badge", "^voicemail$")
	item := `#recordings li[data-rec="` + rec + `"]`
	tb.wantText(item, `^Voicemail 12 s`)
	tb.wantText(item+" .transcript", "^"+regexpQuote(transcript)+"$")
	if src := testkit.Eval[string](tb.Tab, `document.querySelector('`+item+` audio[controls]').getAttribute("src")`); src != audio {
		t.Fatalf("the call page's player plays %q, want %q", src, audio)
	}
	tb.shot("call page, a voicemail")

	// This node has no provider to fetch the audio from: the route says so.
	got := testkit.Eval[[]string](tb.Tab, `fetch(`+"`"+audio+"`"+`).then(async r => [String(r.status), await r.text()])`)
	if got[0] != "501" || !strings.Contains(got[1], "no telephony provider") {
		t.Fatalf("the audio on a node without a provider answered %s:\n%s", got[0], got[1])
	}

	// An admin may delete it; without a provider that is refused in words.
	tb.submit(item+" button[data-delete-recording]", "main")
	tb.wantText("main", "no telephony provider")
	tb.shot("delete refused without a provider")

	// Once deleted (here as DeleteRecording commits it), the call says so
	// and offers neither the player nor the delete.
	n.Command(&fsm.SaveRecording{Call: sid, At: time.Now(), Recording: allocator.Recording{SID: rec, Status: allocator.RecordingDeleted}})
	tb.open("/admin/calls/" + sid)
	tb.wantText(item+" .status", "^deleted$")
	if got := testkit.Eval[int](tb.Tab, `document.querySelectorAll('`+item+` audio, `+item+` form, `+item+` .transcript').length`); got != 0 {
		t.Fatalf("a deleted recording still has %d players, forms or transcripts", got)
	}
	tb.shot("call page, a deleted voicemail")
	tb.open("/admin/calls")
	tb.wantText(row+" td.message", `^voicemail\s+deleted$`)
}
