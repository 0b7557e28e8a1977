package standin_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/provision/standin"
)

func TestClientPlacesAndFollowsCallsOverHTTP(t *testing.T) {
	s, d := whisperScene(t)
	c := &standin.Client{URL: s.URL(), AccountSID: s.AccountSID(), AuthToken: s.AuthToken()}
	tr := placeAndWait(t, c, tracked, caller)
	if tr.Status != standin.StatusCompleted || tr.AnsweredBy != agent1 || len(d.hitsOn("/voice")) != 1 {
		t.Fatalf("status %q answered by %q", tr.Status, tr.AnsweredBy)
	}
	local, err := s.Call(context.Background(), tr.SID)
	if err != nil || !slices.Equal(kinds(local), kinds(tr)) || !local.EndedAt.Equal(tr.EndedAt) {
		t.Errorf("the server's trace %+v (%v) differs from the client's %+v", local, err, tr)
	}
}

func TestClientReportsTheSandboxsRefusalsAsSentinels(t *testing.T) {
	s, _ := whisperScene(t)
	ctx := context.Background()
	c := &standin.Client{URL: s.URL(), AccountSID: s.AccountSID(), AuthToken: s.AuthToken()}
	if _, err := c.PlaceCall(ctx, "+14155550199", caller); !errors.Is(err, standin.ErrNotOwned) {
		t.Errorf("call to a number not held: %v, want ErrNotOwned", err)
	}
	if _, err := c.PlaceCall(ctx, tracked, "12"); !errors.Is(err, standin.ErrBadNumber) {
		t.Errorf("call from a bad number: %v, want ErrBadNumber", err)
	}
	if _, err := c.Call(ctx, "CA"+tracked); !errors.Is(err, standin.ErrNoCall) {
		t.Errorf("unknown call: %v, want ErrNoCall", err)
	}
	wrong := &standin.Client{URL: s.URL(), AccountSID: s.AccountSID(), AuthToken: "wrong"}
	var e *standin.Error
	if _, err := wrong.PlaceCall(ctx, tracked, caller); !errors.As(err, &e) || e.Code != 20003 {
		t.Errorf("wrong token: %v, want code 20003", err)
	}
}

func TestClientSetsFaultsOverHTTP(t *testing.T) {
	s, _ := whisperScene(t)
	c := &standin.Client{URL: s.URL(), AccountSID: s.AccountSID(), AuthToken: s.AuthToken()}
	want := standin.Faults{
		Latency: 5 * time.Millisecond, RateLimitNext: 2, FailNext: 1, TakeOnBuy: 3,
		ExhaustAreaCodes: []string{"415", "628"},
		Callees:          map[string]standin.Callee{agent1: {Answer: standin.CalleeBusy}},
		Messages:         map[string]standin.Message{caller: {Seconds: 30, FinishKey: "#"}},
	}
	if err := c.SetFaults(context.Background(), want); err != nil {
		t.Fatalf("SetFaults: %v", err)
	}
	got := s.Faults()
	if got.Latency != want.Latency || got.RateLimitNext != 2 || got.FailNext != 1 || got.TakeOnBuy != 3 ||
		!slices.Equal(got.ExhaustAreaCodes, want.ExhaustAreaCodes) || got.Callees[agent1] != want.Callees[agent1] ||
		got.Messages[caller] != want.Messages[caller] {
		t.Errorf("faults %+v, want %+v", got, want)
	}
	tr := placeAndWait(t, c, tracked, caller)
	if tr.Status != standin.StatusBusy {
		t.Errorf("call to a busy agent ended %q", tr.Status)
	}
}

func TestGETWebhookCarriesItsParametersInTheSignedURL(t *testing.T) {
	s := startStandin(t, standin.Options{})
	d := newFakeDNI(t, s.AuthToken())
	buy(t, s, tracked, hooks{voice: d.url("/voice?pool=p1"), voiceMethod: "GET"})
	tr := placeAndWait(t, s, tracked, caller)
	h := d.hitsOn("/voice")
	if len(h) != 1 || !h[0].signed || len(h[0].form) != 0 || h[0].query.Get("CallSid") != tr.SID || h[0].query.Get("pool") != "p1" {
		t.Fatalf("GET voice request %+v", h)
	}
}

func TestMessagesFaultReadsItsJSONNames(t *testing.T) {
	s := startStandin(t, standin.Options{})
	body := `{"messages":{"*":{"seconds":30,"words":"call me","finish_key":"#"},"+12125550123":{"silent":true}}}`
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/sandbox/faults", strings.NewReader(body))
	req.SetBasicAuth(s.AccountSID(), s.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := s.Faults().Messages
	if resp.StatusCode != http.StatusOK || got["*"] != (standin.Message{Seconds: 30, Words: "call me", FinishKey: "#"}) ||
		got[caller] != (standin.Message{Silent: true}) {
		t.Errorf("HTTP %d, messages %+v", resp.StatusCode, got)
	}
}
