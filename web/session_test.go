package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// These tests speak HTTP to the pages as a browser, or an attacker's page,
// would, without a browser.

// post sends a form, with the cookie and headers given.
func post(t *testing.T, target string, form url.Values, cookie *http.Cookie, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signInHTTP signs in with a token and returns the session cookie.
func signInHTTP(t *testing.T, n *node, token string) *http.Cookie {
	t.Helper()
	resp, body := post(t, n.url+"/admin/login", url.Values{"token": {token}, "next": {"/admin/calls"}}, nil, "Origin", n.url)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/calls" {
		t.Fatalf("sign in: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "dni_session" {
			return c
		}
	}
	t.Fatalf("sign in set no session cookie: %v", resp.Header["Set-Cookie"])
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's forms.
func csrf(t *testing.T, n *node, cookie *http.Cookie) string {
	t.Helper()
	resp, body := get(t, n.url+"/admin/pools", "Cookie", cookie.String())
	m := csrfField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("no CSRF token on the pools page: %d %s", resp.StatusCode, body)
	}
	return m[1]
}

func TestThePagesNeedASignedSessionCookieThatHoldsNoToken(t *testing.T) {
	n := startNode(t)

	resp, _ := get(t, n.url+"/admin/pools?x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/login?msg=Please+sign+in.&next=%2Fadmin%2Fpools%3Fx%3D1" {
		t.Fatalf("without a session: %d, to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := post(t, n.url+"/admin/login", url.Values{"token": {"dni_" + strings.Repeat("0", 64)}}, nil, "Origin", n.url)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not an admin token of this cluster") || len(resp.Cookies()) > 0 {
		t.Fatalf("a wrong token: %d %v %s", resp.StatusCode, resp.Cookies(), body)
	}

	c := signInHTTP(t, n, n.token)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin" || c.Secure || c.MaxAge <= 0 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin, not Secure over plain HTTP, a lifetime", c)
	}
	if strings.Contains(c.Value, strings.TrimPrefix(n.token, "dni_")) {
		t.Fatal("the cookie holds the admin token")
	}
	resp, _ = get(t, n.url+"/admin/pools", "Cookie", c.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the session: %d", resp.StatusCode)
	}

	// A cookie changed by hand is refused.
	forged := *c
	forged.Value = strings.Replace(c.Value, "v1.tok_", "v1.tok_0", 1)
	if resp, _ := get(t, n.url+"/admin/pools", "Cookie", forged.String()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a forged cookie: %d", resp.StatusCode)
	}

	// Signing out ends the session in the browser.
	resp, _ = post(t, n.url+"/admin/logout", url.Values{"csrf": {csrf(t, n, c)}}, c, "Origin", n.url)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Fatalf("sign out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if cs := resp.Cookies(); len(cs) != 1 || cs[0].Value != "" || cs[0].MaxAge >= 0 && cs[0].Expires.IsZero() {
		t.Fatalf("sign out sets %v", resp.Header["Set-Cookie"])
	}
}

func TestDeletingATokenEndsItsSessionsOnEveryPage(t *testing.T) {
	n := startNode(t)
	// A second token, to sign in with and then delete.
	body, _ := json.Marshal(map[string]string{"name": "a marketer's browser"})
	req, _ := http.NewRequest("POST", n.url+"/v1/tokens", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+n.token)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ ID, Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	c := signInHTTP(t, n, tok.Token)
	if resp, _ := get(t, n.url+"/admin/calls", "Cookie", c.String()); resp.StatusCode != http.StatusOK {
		t.Fatalf("with the session: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("DELETE", n.url+"/v1/tokens/"+tok.ID, nil)
	req.Header.Set("Authorization", "Bearer "+n.token)
	if resp, err := noRedirects.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete the token: %v %v", resp, err)
	}
	for _, path := range []string{"/admin/calls", "/admin/pools", "/admin/campaigns", "/admin/cluster"} {
		if resp, _ := get(t, n.url+path, "Cookie", c.String()); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s after its token was deleted: %d", path, resp.StatusCode)
		}
	}
	if resp, _ := get(t, n.url+"/admin/pools/x/progress", "Cookie", c.String()); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the progress a page polls, after its token was deleted: %d", resp.StatusCode)
	}
}

func TestAFormNeedsItsCSRFTokenAndToComeFromThisSite(t *testing.T) {
	n := startNode(t)
	c := signInHTTP(t, n, n.token)
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
		{"no CSRF token", step, []string{"Origin", n.url}, http.StatusForbidden},
		{"another session's token", with(step, "csrf", "x"+token[1:]), []string{"Origin", n.url}, http.StatusForbidden},
		{"another site's page", with(step, "csrf", token), []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"another site's referer", with(step, "csrf", token), []string{"Referer", "https://evil.example/page"}, http.StatusForbidden},
		{"this site", with(step, "csrf", token), []string{"Origin", n.url}, http.StatusOK},
		{"this site's referer", with(step, "csrf", token), []string{"Referer", n.url + "/admin/pools/new"}, http.StatusOK},
	} {
		resp, body := post(t, n.url+"/admin/pools/new", c2.form, c, c2.header...)
		if resp.StatusCode != c2.want {
			t.Errorf("%s: %d, want %d: %s", c2.name, resp.StatusCode, c2.want, body)
		}
	}
	// The login form, which has no session yet, checks where it comes from.
	if resp, _ := post(t, n.url+"/admin/login", url.Values{"token": {n.token}}, nil, "Origin", "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a login from another site: %d", resp.StatusCode)
	}
}

func TestEveryPageKeepsOutOfFramesAndRunsOnlyItsOwnScripts(t *testing.T) {
	n := startNode(t)
	c := signInHTTP(t, n, n.token)
	for _, path := range []string{"/admin/login", "/admin/pools", "/admin/pools/new", "/admin/calls", "/admin/campaigns", "/admin/cluster", "/admin/nowhere"} {
		resp, body := get(t, n.url+path, "Cookie", c.String())
		h := resp.Header
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
	if resp, _ := get(t, n.url+"/admin"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/admin/" {
		t.Errorf("/admin: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, n.url+"/admin/login?next=//evil.example/"); resp.StatusCode != http.StatusOK {
		t.Errorf("the login form with a next elsewhere: %d", resp.StatusCode)
	}
	resp, _ := post(t, n.url+"/admin/login", url.Values{"token": {n.token}, "next": {"//evil.example/"}}, nil, "Origin", n.url)
	if loc := resp.Header.Get("Location"); loc != "/admin/pools" {
		t.Errorf("a login asked to go elsewhere goes to %q", loc)
	}
}
