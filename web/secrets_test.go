package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/web"
)

// These tests hold the secrets side of the pages, over HTTP: a sign-out
// ends the session everywhere, guessing tokens is slow, and a token's role
// decides which pages it opens; an export token opens none, and the login
// form says so in the browser too.

func TestASignOutOnOneNodeEndsTheSessionOnEveryNode(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{HTTP: httpapi.Options{Pages: web.Handler}})
	a := &node{Node: c.Node("n1"), t: t}
	b := &node{Node: c.Node("n3"), t: t}

	cookie := signInHTTP(t, a, a.Token)
	for _, n := range []*node{a, b} {
		if r := n.Send("GET", "/admin/calls", nil, "Cookie", cookie.String()); r.Status != http.StatusOK {
			t.Fatalf("%s with the session: %d", n.ID, r.Status)
		}
	}
	// A second browser on the same token, as a shared admin token has.
	other := signInHTTP(t, b, b.Token)

	r := a.post("/admin/logout", url.Values{"csrf": {csrf(t, a, cookie)}}, cookie, "Origin", a.URL)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/login?why=signedout" {
		t.Fatalf("sign out: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if r := a.Send("GET", r.Header.Get("Location"), nil); !strings.Contains(string(r.Body), "in every browser and on every node") {
		t.Fatalf("the page after signing out does not say what ended:\n%s", r.Body)
	}
	// The stolen cookie, replayed on another node once the sign-out has
	// reached it, as any write does, within milliseconds.
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Patience)
	defer cancel()
	if err := b.Node.Node.WaitApplied(ctx, a.Node.Node.FSM().AppliedIndex()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*http.Cookie{cookie, other} {
		if r := b.Send("GET", "/admin/calls", nil, "Cookie", c.String()); r.Status != http.StatusSeeOther ||
			!strings.HasPrefix(r.Header.Get("Location"), "/admin/login") {
			t.Fatalf("a cookie of the signed-out token on %s: %d to %q", b.ID, r.Status, r.Header.Get("Location"))
		}
		if r := b.Send("GET", "/admin/pools/x/progress", nil, "Cookie", c.String()); r.Status != http.StatusUnauthorized {
			t.Fatalf("the progress a page polls, on %s after the sign-out: %d", b.ID, r.Status)
		}
	}
	// Signing in again, even at once and on another node, works.
	again := signInHTTP(t, b, b.Token)
	if r := a.Send("GET", "/admin/calls", nil, "Cookie", again.String()); r.Status != http.StatusOK {
		t.Fatalf("a session begun after the sign-out: %d", r.Status)
	}
}

func TestWrongTokensInTheLoginFormFromOneAddressAreThrottledWhileOthersSignIn(t *testing.T) {
	c := testkit.StartCluster(t, 1, testkit.Options{HTTP: httpapi.Options{Pages: web.Handler, ClientIPHeader: "X-Forwarded-For"}})
	n := &node{Node: c.Node("n1"), t: t}
	login := func(addr, token string) testkit.Reply {
		return n.post("/admin/login", url.Values{"token": {token}}, nil, "Origin", n.URL, "X-Forwarded-For", addr)
	}
	const guesser = "203.0.113.50"
	start := time.Now()
	statuses := map[int]int{}
	for i := range 300 {
		r := login(guesser, "dni_"+strconv.Itoa(i)+strings.Repeat("0", 60))
		statuses[r.Status]++
		switch {
		case i < httpapi.DefaultSignInFailures && r.Status != http.StatusUnauthorized:
			t.Fatalf("wrong login %d: %d, want 401", i, r.Status)
		case r.Status == http.StatusTooManyRequests:
			if !strings.Contains(string(r.Body), "Try again in ") || r.Header.Get("Retry-After") == "" || len(cookies(r)) > 0 {
				t.Fatalf("a throttled login: %s %v", r.Body, r.Header)
			}
		case r.Status != http.StatusUnauthorized:
			t.Fatalf("wrong login %d: %d", i, r.Status)
		}
	}
	t.Logf("300 wrong logins in %v: %v", time.Since(start).Round(time.Millisecond), statuses)
	if statuses[http.StatusTooManyRequests] < 280 {
		t.Fatalf("300 wrong logins: %v; want all but the first few throttled", statuses)
	}
	// The right token from that address waits as well; from another
	// address it signs in.
	if r := login(guesser, n.Token); r.Status != http.StatusTooManyRequests {
		t.Fatalf("the right token from the guessing address: %d", r.Status)
	}
	if r := login("198.51.100.20", n.Token); r.Status != http.StatusSeeOther || len(cookies(r)) != 1 {
		t.Fatalf("the right token from another address: %d", r.Status)
	}
}

func TestEachRoleSeesOnlyThePagesItMayUse(t *testing.T) {
	n := startNode(t)
	for _, c := range []struct {
		role          string
		open, refused []string
		nav, notNav   []string
	}{
		{"reporting", []string{"/admin/pools", "/admin/calls", "/admin/calls.csv", "/admin/campaigns", "/admin/campaigns.csv", "/admin/conversions/google.csv", "/admin/settings"},
			[]string{"/admin/cluster", "/admin/webhooks", "/admin/webhooks/wh_x", "/admin/pools/new", "/admin/pools/pl_x/edit", "/admin/pools/pl_x/delete", "/admin/demo/pl_x"},
			[]string{`href="/admin/calls"`, `href="/admin/settings"`}, []string{`href="/admin/cluster"`, `href="/admin/webhooks"`, `href="/admin/pools/new"`}},
		{"operator", []string{"/admin/pools", "/admin/calls", "/admin/cluster", "/admin/webhooks"},
			[]string{"/admin/pools/new", "/admin/pools/pl_x/edit", "/admin/webhooks/wh_x/delete"},
			[]string{`href="/admin/cluster"`, `href="/admin/webhooks"`}, []string{`href="/admin/pools/new"`}},
		{"admin", []string{"/admin/pools", "/admin/cluster", "/admin/webhooks", "/admin/pools/new"}, nil,
			[]string{`href="/admin/cluster"`, `href="/admin/webhooks"`, `href="/admin/pools/new"`}, nil},
	} {
		var tok struct{ Token string }
		n.AdminOK("POST", "/v1/tokens", map[string]string{"name": c.role, "role": c.role}, http.StatusCreated, &tok)
		cookie := signInHTTP(t, n, tok.Token)
		for _, path := range c.open {
			if r := n.Send("GET", path, nil, "Cookie", cookie.String()); r.Status != http.StatusOK {
				t.Errorf("%s opens %s: %d", c.role, path, r.Status)
			}
		}
		for _, path := range c.refused {
			if r := n.Send("GET", path, nil, "Cookie", cookie.String()); r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "needs the role") {
				t.Errorf("%s opens %s: %d", c.role, path, r.Status)
			}
		}
		page := string(n.Send("GET", "/admin/pools", nil, "Cookie", cookie.String()).Body)
		for _, link := range c.nav {
			if !strings.Contains(page, link) {
				t.Errorf("%s: the pools page has no %s", c.role, link)
			}
		}
		for _, link := range c.notNav {
			if strings.Contains(page, link) {
				t.Errorf("%s: the pools page offers %s", c.role, link)
			}
		}
	}
	// A form a role may not send is refused even with its CSRF token.
	var tok struct{ Token string }
	n.AdminOK("POST", "/v1/tokens", map[string]string{"name": "reports", "role": "reporting"}, http.StatusCreated, &tok)
	cookie := signInHTTP(t, n, tok.Token)
	token := csrf(t, n, cookie)
	for path, form := range map[string]url.Values{
		"/admin/pools/new":          {"step": {"1"}, "go": {"next"}, "tracking": {"all"}},
		"/admin/calls/CA1":          {"outcome": {"lead"}},
		"/admin/campaigns/spend":    {"day": {"2026-12-01"}, "source": {"google"}, "medium": {"cpc"}, "campaign": {"spring"}, "cost": {"10"}},
		"/admin/campaigns/settings": {"currency": {"EUR"}, "google_conversion": {"Call"}, "microsoft_conversion": {"Call"}},
		"/admin/webhooks":           {"name": {"CRM"}, "url": {"https://crm.example/hooks/dni"}},
		"/admin/settings/voicemail": {"voicemail": {"1"}, "voicemail_greeting": {"Hello."}},
	} {
		form.Set("csrf", token)
		if r := n.post(path, form, cookie, "Origin", n.URL); r.Status != http.StatusForbidden {
			t.Errorf("a reporting session posts %s: %d", path, r.Status)
		}
	}
}

func TestAnExportTokenIsRefusedAtTheLoginWithWhatItIsFor(t *testing.T) {
	n := startNode(t)
	var tok struct{ Token string }
	n.AdminOK("POST", "/v1/tokens", map[string]string{"name": "google ads", "role": "export"}, http.StatusCreated, &tok)

	r := n.post("/admin/login", url.Values{"token": {tok.Token}}, nil, "Origin", n.URL)
	if r.Status != http.StatusForbidden || len(cookies(r)) != 0 {
		t.Fatalf("an export token at the login: %d, cookies %v", r.Status, cookies(r))
	}

	tb := newTab(t, n)
	tb.open("/admin/login")
	tb.fill("#token", tok.Token)
	tb.submit("form.stack button[type=submit]", "p.problem")
	tb.wantText("p.problem", `^This is an export token: it only lets Google Ads and Microsoft Advertising fetch the conversion files; sign in with a reporting, operator or admin token\.$`)
	tb.shot("login, an export token")
	tb.open("/admin/pools")
	tb.waitFor("#token") // still signed out
}
