package allocator

import (
	"errors"
	"testing"
	"time"
)

const testSecret = "whsec_0123456789abcdef"

func hookScene(t *testing.T) *State {
	t.Helper()
	s := New()
	addEdgePool(t, s, 1, 4, func(st *Settings) { st.LeadRule, st.LeadValue = true, 100 })
	mustAssign(t, s, 1, "k1", sec(1))
	for _, id := range []string{"crm", "bi"} {
		if _, err := s.SetEndpoint(SetEndpoint{ID: id, URL: "https://" + id + ".example/hooks", Secret: testSecret, Enabled: true, At: sec(2)}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestACallThatEndsAndIsMarkedQueuesAnEventForEachEndpoint(t *testing.T) {
	s := hookScene(t)
	callScene(t, s, "CA1", "+12125550001", 90*time.Second) // ends, and the rule makes it a lead
	if _, err := s.MarkCall(CallMark{SID: "CA1", Set: MarkNote, Note: "call back", At: sec(200)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range s.Pending("", 100) {
		got = append(got, string(d.Event.Kind)+" "+d.Endpoint)
	}
	want := []string{"call.ended bi", "call.ended crm", "call.outcome bi", "call.outcome crm", "call.outcome bi", "call.outcome crm"}
	if len(got) != len(want) {
		t.Fatalf("queued %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("queued %q, want %q", got, want)
		}
	}
	if due := s.Due(sec(101), 100); len(due) != 4 || due[0].URL != "https://bi.example/hooks" || due[0].Secret != testSecret {
		t.Fatalf("due at 101 s: %+v", due)
	}
}

func TestAnAttemptRetriesDeliversOrGivesUpOnceAndIsLogged(t *testing.T) {
	s := hookScene(t)
	callScene(t, s, "CA1", "+12125550001", 30*time.Second)
	d := s.Pending("crm", 1)[0]
	r, err := s.RecordAttempt(RecordAttempt{Event: d.Event.Seq, Endpoint: "crm", At: sec(50), Status: 500, NextAt: sec(60)})
	if err != nil || r != Retrying {
		t.Fatalf("%v %v", r, err)
	}
	if due := s.Due(sec(59), 10); len(due) != 1 || due[0].Endpoint != "bi" {
		t.Fatalf("crm is due before its retry: %+v", due)
	}
	if r, _ := s.RecordAttempt(RecordAttempt{Event: d.Event.Seq, Endpoint: "crm", At: sec(61), Status: 204, Delivered: true}); r != Delivered {
		t.Fatalf("%v", r)
	}
	// A second leader's late report of the same delivery changes nothing.
	if r, _ := s.RecordAttempt(RecordAttempt{Event: d.Event.Seq, Endpoint: "crm", At: sec(62), Status: 200, Delivered: true}); r != "" {
		t.Fatalf("a repeated report: %v", r)
	}
	if r, _ := s.RecordAttempt(RecordAttempt{Event: d.Event.Seq, Endpoint: "bi", At: sec(63), Error: "timeout"}); r != Failed {
		t.Fatalf("%v", r)
	}
	if p := s.Pending("", 10); len(p) != 0 {
		t.Fatalf("still queued: %+v", p)
	}
	eps := s.Endpoints()
	crm := eps[1]
	if len(crm.Log) != 2 || crm.Log[0].Result != Delivered || crm.Log[0].Try != 2 || crm.Log[1].Result != Retrying || crm.Log[1].Status != 500 {
		t.Fatalf("crm's log: %+v", crm.Log)
	}
	if crm.Log[0].Event != d.Event.ID() || crm.Log[0].Call != "CA1" {
		t.Fatalf("log names %q / %q", crm.Log[0].Event, crm.Log[0].Call)
	}
}

func TestADisabledEndpointIsSentNothingAndItsQueueIsDropped(t *testing.T) {
	s := hookScene(t)
	callScene(t, s, "CA1", "+12125550001", 30*time.Second)
	if _, err := s.SetEndpoint(SetEndpoint{ID: "crm", URL: "https://crm.example/hooks", Enabled: false, At: sec(100)}); err != nil {
		t.Fatal(err)
	}
	callScene(t, s, "CA2", "+12125550002", 30*time.Second)
	for _, d := range s.Pending("", 10) {
		if d.Endpoint == "crm" {
			t.Fatalf("a disabled endpoint has %+v queued", d)
		}
	}
	if e := s.Endpoints()[1]; e.Secret != testSecret || e.Log[0].Result != Dropped {
		t.Fatalf("an edit without a secret lost it, or the drop was not logged: %+v", e)
	}
	if ok, _ := s.DeleteEndpoint(DeleteEndpoint{ID: "bi", At: sec(300)}); !ok || len(s.Pending("", 10)) != 0 {
		t.Fatal("a deleted endpoint's queue stayed")
	}
}

func TestBadEndpointsAreRefusedNamingTheField(t *testing.T) {
	s := New()
	for _, tc := range []struct {
		c     SetEndpoint
		field string
	}{
		{SetEndpoint{ID: "a", URL: "ftp://crm.example/", Secret: testSecret}, "url"},
		{SetEndpoint{ID: "a", URL: "javascript:alert(1)", Secret: testSecret}, "url"},
		{SetEndpoint{ID: "a", URL: "https://user:pw@crm.example/", Secret: testSecret}, "url"},
		{SetEndpoint{ID: "a", URL: "crm.example/hooks", Secret: testSecret}, "url"},
		{SetEndpoint{ID: "a", URL: "https://crm.example/", Secret: "short"}, "secret"},
		{SetEndpoint{ID: "a b", URL: "https://crm.example/", Secret: testSecret}, "id"},
	} {
		tc.c.At = sec(1)
		_, err := s.SetEndpoint(tc.c)
		var v *ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%+v: %v, want an error naming %s", tc.c, err, tc.field)
		}
	}
	if len(s.Endpoints()) != 0 {
		t.Fatal("a refused endpoint was recorded")
	}
}

func TestAnImageKeepsTheWebhooksQueue(t *testing.T) {
	s := hookScene(t)
	callScene(t, s, "CA1", "+12125550001", 90*time.Second)
	d := s.Pending("crm", 1)[0]
	if _, err := s.RecordAttempt(RecordAttempt{Event: d.Event.Seq, Endpoint: "crm", At: sec(150), Status: 502, NextAt: sec(170)}); err != nil {
		t.Fatal(err)
	}
	img := s.Export()
	back, err := Import(img)
	if err != nil {
		t.Fatal(err)
	}
	if diff := imageDiff(img, back.Export()); diff != "no difference found" {
		t.Fatal(diff)
	}
	if len(back.Pending("", 100)) != len(s.Pending("", 100)) || back.Endpoints()[1].Log[0].Status != 502 {
		t.Fatal("the queue or the log did not come back")
	}
}
