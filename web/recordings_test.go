package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision/standin"
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
	if r := n.Send("GET", audio, nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/admin/login") {
		t.Fatalf("a signed-out fetch of the audio got %d, Location %q", r.Status, r.Header.Get("Location"))
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
	if got[0] != "404" || !strings.Contains(got[1], "no telephony provider") {
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

// TestAVoicemailPlaysThroughTheSessionAndOnlyAnAdminDeletesIt places a
// real call through the sandbox: nobody answers, the caller leaves a
// second's message, and the page plays it from the stand-in through the
// node, for a signed-in session only.
func TestAVoicemailPlaysThroughTheSessionAndOnlyAnAdminDeletesIt(t *testing.T) {
	n := startNode(t)
	pl := n.activePool("Spring sale")
	n.AdminOK("PATCH", "/v1/pools/"+pl.ID, map[string]any{"voicemail": map[string]any{"on": true}}, http.StatusOK, nil)
	n.sandbox.SetFaults(standin.Faults{
		Callees:  map[string]standin.Callee{"+14155550100": {Answer: standin.CalleeNoAnswer}},
		Messages: map[string]standin.Message{"*": {Seconds: 1, Words: "Please call me back."}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Patience)
	defer cancel()
	sid, err := n.sandbox.PlaceCall(ctx, n.numbersOf(pl.ID)[0], "+12125550160")
	if err != nil {
		t.Fatal(err)
	}
	trace, err := n.sandbox.WaitCall(ctx, sid)
	if err != nil || len(trace.Recordings) != 1 {
		t.Fatalf("the call: %v, %+v; want one message", err, trace)
	}
	rec := trace.Recordings[0].SID
	testkit.Eventually(t, "the message on the call", func() bool {
		var call struct{ Recordings []struct{ Status string } }
		n.AdminOK("GET", "/v1/calls/"+sid, nil, http.StatusOK, &call)
		return len(call.Recordings) == 1 && call.Recordings[0].Status == "completed"
	})
	audio := "/admin/calls/" + sid + "/recordings/" + rec + "/audio"
	item := `#recordings li[data-rec="` + rec + `"]`

	tb := newTab(t, n)
	tb.signIn()
	tb.open("/admin/calls/" + sid)
	tb.waitFor(item + " audio")

	// The audio comes through the page route, for this session only.
	got := testkit.Eval[[]string](tb.Tab, "fetch(`"+audio+"`).then(async r => [String(r.status), r.headers.get('cache-control'), r.headers.get('content-type'), String((await r.arrayBuffer()).byteLength)])")
	if want := []string{"200", "private, no-store", "audio/x-wav", "16044"}; !slices.Equal(got, want) {
		t.Fatalf("the audio route answered %q, want %q", got, want)
	}
	// The page's own player loads it: the page's policy lets it.
	duration := testkit.Eval[string](tb.Tab, `new Promise(done => {
		const a = document.querySelector('`+item+` audio');
		a.addEventListener("loadedmetadata", () => done(String(a.duration)));
		a.addEventListener("error", () => done("error " + (a.error && a.error.code)));
		a.load();
	})`)
	if duration != "1" {
		t.Fatalf("the player loaded %s, want a second of audio", duration)
	}
	tb.shot("call page, a playable voicemail")

	// A reporting session plays it but is offered no delete, and its
	// delete is refused even with the form's token.
	var tok struct{ Token string }
	n.AdminOK("POST", "/v1/tokens", map[string]string{"name": "reports", "role": "reporting"}, http.StatusCreated, &tok)
	cookie := signInHTTP(t, n, tok.Token)
	if r := n.Send("GET", audio, nil, "Cookie", cookie.String()); r.Status != http.StatusOK || len(r.Body) != 16044 {
		t.Fatalf("a reporting session plays the audio: %d, %d bytes", r.Status, len(r.Body))
	}
	if page := n.Send("GET", "/admin/calls/"+sid, nil, "Cookie", cookie.String()); strings.Contains(string(page.Body), "data-delete-recording") {
		t.Fatal("a reporting session is offered the delete")
	}
	del := "/admin/calls/" + sid + "/recordings/" + rec + "/delete"
	if r := n.post(del, url.Values{"csrf": {csrf(t, n, cookie)}}, cookie, "Origin", n.URL); r.Status != http.StatusForbidden {
		t.Fatalf("a reporting session deletes the recording: %d", r.Status)
	}
	// Without the form's token, not even an admin's session deletes it.
	if r := n.post(del, url.Values{}, signInHTTP(t, n, n.Token), "Origin", n.URL); r.Status != http.StatusForbidden {
		t.Fatalf("an admin session deletes the recording without the form's token: %d", r.Status)
	}
	if !n.atProvider(rec) {
		t.Fatal("the recording is gone at the provider")
	}

	// The admin deletes it: at the provider, and the call says so.
	tb.submit(item+" button[data-delete-recording]", "#recording-deleted")
	tb.wantText(item+" .status", "^deleted$")
	if got := testkit.Eval[int](tb.Tab, `document.querySelectorAll('`+item+` audio, `+item+` form, `+item+` .transcript').length`); got != 0 {
		t.Fatalf("a deleted recording still has %d players, forms or transcripts", got)
	}
	tb.shot("call page, voicemail deleted")
	if n.atProvider(rec) {
		t.Fatal("the recording is still at the provider")
	}
	var call struct {
		Recordings []struct{ Status, Transcript string }
	}
	n.AdminOK("GET", "/v1/calls/"+sid, nil, http.StatusOK, &call)
	if len(call.Recordings) != 1 || call.Recordings[0].Status != "deleted" || call.Recordings[0].Transcript != "" {
		t.Fatalf("the API has the recordings %+v", call.Recordings)
	}
	got = testkit.Eval[[]string](tb.Tab, "fetch(`"+audio+"`).then(async r => [String(r.status), await r.text()])")
	if got[0] != "410" || !strings.Contains(got[1], "This recording was deleted") {
		t.Fatalf("the audio of a deleted recording answered %s:\n%s", got[0], got[1])
	}
}

// numbersOf lists the pool's numbers in service.
func (n *node) numbersOf(pool string) []string {
	n.t.Helper()
	var out struct {
		Numbers []struct{ Number, State string }
	}
	n.AdminOK("GET", "/v1/pools/"+pool+"/numbers", nil, http.StatusOK, &out)
	var e164s []string
	for _, num := range out.Numbers {
		if num.State == "active" {
			e164s = append(e164s, num.Number)
		}
	}
	return e164s
}

// atProvider reports whether the stand-in still has the recording.
func (n *node) atProvider(rec string) bool {
	n.t.Helper()
	req, _ := http.NewRequest("GET", n.sandbox.URL()+"/2010-04-01/Accounts/"+n.sandbox.AccountSID()+"/Recordings/"+rec+".json", nil)
	req.SetBasicAuth(n.sandbox.AccountSID(), n.sandbox.AuthToken())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}
