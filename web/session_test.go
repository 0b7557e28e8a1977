package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dni-dev/dni/internal/testkit"
)

// These tests speak HTTP to the pages as a browser, or an attacker's page,
// would, without a browser.

// post sends a form to a page of the node, with the cookie and headers
// given.
func (n *node) post(path string, form url.Values, cookie *http.Cookie, header ...string) testkit.Reply {
	n.t.Helper()
	header = append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)
	if cookie != nil {
		header = append(header, "Cookie", cookie.String())
	}
	return n.Send("POST", path, form.Encode(), header...)
}

// cookies are the cookies an answer sets.
func cookies(r testkit.Reply) []*http.Cookie {
	return (&http.Response{Header: r.Header}).Cookies()
}

// signInHTTP signs in with a token and returns the session cookie.
func signInHTTP(t *testing.T, n *node, token string) *http.Cookie {
	t.Helper()
	r := n.post("/admin/login", url.Values{"token": {token}, "next": {"/admin/calls"}}, nil, "Origin", n.URL)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/calls" {
		t.Fatalf("sign in: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	for _, c := range cookies(r) {
		if c.Name == "dni_session" {
			return c
		}
	}
	t.Fatalf("sign in set no session cookie: %v", r.Header["Set-Cookie"])
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's forms.
func csrf(t *testing.T, n *node, cookie *http.Cookie) string {
	t.Helper()
	r := n.Send("GET", "/admin/pools", nil, "Cookie", cookie.String())
	m := csrfField.FindSubmatch(r.Body)
	if r.Status != http.StatusOK || m == nil {
		t.Fatalf("no CSRF token on the pools page: %s", r)
	}
	return string(m[1])
}

func TestThePagesNeedASignedSessionCookieThatHoldsNoToken(t *testing.T) {
	n := startNode(t)

	r := n.Send("GET", "/admin/pools?x=1", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/login?next=%2Fadmin%2Fpools%3Fx%3D1&why=signin" {
		t.Fatalf("without a session: %d, to %q", r.Status, r.Header.Get("Location"))
	}
	r = n.post("/admin/login", url.Values{"token": {"dni_" + strings.Repeat("0", 64)}}, nil, "Origin", n.URL)
	if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "not an admin token of this cluster") || len(cookies(r)) > 0 {
		t.Fatalf("a wrong token: %d %v %s", r.Status, cookies(r), r.Body)
	}

	c := signInHTTP(t, n, n.Token)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin" || c.Secure || c.MaxAge <= 0 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin, not Secure over plain HTTP, a lifetime", c)
	}
	if strings.Contains(c.Value, strings.TrimPrefix(n.Token, "dni_")) {
		t.Fatal("the cookie holds the admin token")
	}
	if r := n.Send("GET", "/admin/pools", nil, "Cookie", c.String()); r.Status != http.StatusOK {
		t.Fatalf("with the session: %d", r.Status)
	}

	// A cookie changed by hand is refused.
	forged := *c
	forged.Value = strings.Replace(c.Value, "v2.tok_", "v2.tok_0", 1)
	if r := n.Send("GET", "/admin/pools", nil, "Cookie", forged.String()); r.Status != http.StatusSeeOther {
		t.Fatalf("a forged cookie: %d", r.Status)
	}

	// Signing out ends the session in the browser.
	r = n.post("/admin/logout", url.Values{"csrf": {csrf(t, n, c)}}, c, "Origin", n.URL)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/admin/login") {
		t.Fatalf("sign out: %d %s", r.Status, r.Header.Get("Location"))
	}
	if cs := cookies(r); len(cs) != 1 || cs[0].Value != "" || cs[0].MaxAge >= 0 && cs[0].Expires.IsZero() {
		t.Fatalf("sign out sets %v", r.Header["Set-Cookie"])
	}
	// And the cookie, kept and sent again, is worthless.
	if r := n.Send("GET", "/admin/pools", nil, "Cookie", c.String()); r.Status != http.StatusSeeOther {
		t.Fatalf("the cookie after its sign-out: %d", r.Status)
	}
}

// The login page says why it is shown in its own words only: a link
// anyone can make must not put their text ("your account is locked, call
// +1...") on dni's page.
func TestTheLoginPageShowsOnlyItsOwnWords(t *testing.T) {
	n := startNode(t)
	if r := n.Send("GET", "/admin/login?why=signin", nil); !strings.Contains(string(r.Body), "Please sign in.") {
		t.Errorf("the login page after a redirect: %s", r)
	}
	for _, q := range []string{"?msg=Your+account+is+locked%2C+call+%2B19005550100", "?why=Your+account+is+locked"} {
		if r := n.Send("GET", "/admin/login"+q, nil); r.Status != http.StatusOK || strings.Contains(string(r.Body), "locked") {
			t.Errorf("GET /admin/login%s shows the link's text: %s", q, r)
		}
	}
}

func TestDeletingATokenEndsItsSessionsOnEveryPage(t *testing.T) {
	n := startNode(t)
	// A second token, to sign in with and then delete.
	var tok struct{ ID, Token string }
	n.AdminOK("POST", "/v1/tokens", map[string]string{"name": "a marketer's browser"}, http.StatusCreated, &tok)

	c := signInHTTP(t, n, tok.Token)
	if r := n.Send("GET", "/admin/calls", nil, "Cookie", c.String()); r.Status != http.StatusOK {
		t.Fatalf("with the session: %d", r.Status)
	}
	n.AdminOK("DELETE", "/v1/tokens/"+tok.ID, nil, http.StatusNoContent, nil)
	for _, path := range []string{"/admin/calls", "/admin/pools", "/admin/campaigns", "/admin/cluster"} {
		if r := n.Send("GET", path, nil, "Cookie", c.String()); r.Status != http.StatusSeeOther {
			t.Errorf("%s after its token was deleted: %d", path, r.Status)
		}
	}
	if r := n.Send("GET", "/admin/pools/x/progress", nil, "Cookie", c.String()); r.Status != http.StatusUnauthorized {
		t.Errorf("the progress a page polls, after its token was deleted: %d", r.Status)
	}
}

// otherToken is token with its first character changed: one in 64 tokens
// starts with the character a fixed replacement would put there.
func otherToken(token string) string {
	if token[0] == 'x' {
		return "y" + token[1:]
	}
	return "x" + token[1:]
}

func TestAFormNeedsItsCSRFTokenAndToComeFromThisSite(t *testing.T) {
	n := startNode(t)
	c := signInHTTP(t, n, n.Token)
	token := csrf(t, n, c)
	step := url.Values{"step": {"1"}, "go": {"next"}, "tracking": {"all"}}
	with := func(v url.Values, k, val string) url.Values {
		out := url.Values{}
		for key, vs := range v {
			out[key] = vs
		}
		out.Set(k, val)
		return out
	}
	for _, c2 := range []struct {
		name   string
		form   url.Values
		header []string
		want   int
	}{
		{"no CSRF token", step, []string{"Origin", n.URL}, http.StatusForbidden},
		{"another session's token", with(step, "csrf", otherToken(token)), []string{"Origin", n.URL}, http.StatusForbidden},
		{"another site's page", with(step, "csrf", token), []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"another site's referer", with(step, "csrf", token), []string{"Referer", "https://evil.example/page"}, http.StatusForbidden},
		{"this site", with(step, "csrf", token), []string{"Origin", n.URL}, http.StatusOK},
		{"this site's referer", with(step, "csrf", token), []string{"Referer", n.URL + "/admin/pools/new"}, http.StatusOK},
	} {
		if r := n.post("/admin/pools/new", c2.form, c, c2.header...); r.Status != c2.want {
			t.Errorf("%s: %d, want %d: %s", c2.name, r.Status, c2.want, r.Body)
		}
	}
	// The login form, which has no session yet, checks where it comes from.
	if r := n.post("/admin/login", url.Values{"token": {n.Token}}, nil, "Origin", "https://evil.example"); r.Status != http.StatusForbidden {
		t.Errorf("a login from another site: %d", r.Status)
	}
}

func TestEveryPageKeepsOutOfFramesAndRunsOnlyItsOwnScripts(t *testing.T) {
	n := startNode(t)
	c := signInHTTP(t, n, n.Token)
	for _, path := range []string{"/admin/login", "/admin/pools", "/admin/pools/new", "/admin/calls", "/admin/campaigns", "/admin/cluster", "/admin/nowhere"} {
		r := n.Send("GET", path, nil, "Cookie", c.String())
		h, body := r.Header, string(r.Body)
		csp := h.Get("Content-Security-Policy")
		if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") ||
			!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
			h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, h)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
			t.Errorf("%s has inline script or style, which its policy blocks", path)
		}
	}
	if r := n.Send("GET", "/admin", nil); r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != "/admin/" {
		t.Errorf("/admin: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if r := n.Send("GET", "/admin/login?next=//evil.example/", nil); r.Status != http.StatusOK {
		t.Errorf("the login form with a next elsewhere: %d", r.Status)
	}
	r := n.post("/admin/login", url.Values{"token": {n.Token}, "next": {"//evil.example/"}}, nil, "Origin", n.URL)
	if loc := r.Header.Get("Location"); loc != "/admin/pools" {
		t.Errorf("a login asked to go elsewhere goes to %q", loc)
	}
}
