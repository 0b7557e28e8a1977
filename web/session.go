package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/fsm"
)

// A session is a signed-in browser. Its cookie holds no token: it holds
// the id of the admin token it signed in with, when it began and when it
// ends, and a random nonce, signed with a key derived from the cluster
// secret, so every node accepts it. It ends when the token is deleted from
// the cluster, or when a sign-out with the same token ends every session
// begun before it (fsm.EndSessions, replicated: on every node at once). It
// can do what its token's role allows, read from the cluster on every
// request. The cookie is HttpOnly, SameSite=Strict, Secure on HTTPS, and
// only sent under /admin.
//
// Every form that posts carries the session's CSRF token (an HMAC of the
// cookie under another label), and a POST whose Origin (or else Referer)
// names another host is refused: SameSite alone does not cover old
// browsers, nor a sibling site on the same registrable domain.

const (
	sessionCookie = "dni_session"
	sessionLife   = 12 * time.Hour
	cookiePath    = "/admin"
)

type session struct {
	tokenID string
	issued  time.Time // to the millisecond
	expires time.Time
	value   string   // the cookie, which the CSRF token is derived from
	role    fsm.Role // its token's, once authorized
}

// sign is the MAC of what, under a label that keeps session and CSRF MACs
// apart.
func (p *pages) sign(label, what string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(what))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession makes the cookie value of a session for a token, begun at
// issued.
func (p *pages) newSession(tokenID string, issued time.Time) session {
	var nonce [16]byte
	rand.Read(nonce[:])
	issued = issued.Truncate(time.Millisecond)
	expires := issued.Add(sessionLife).Truncate(time.Second)
	payload := "v2." + tokenID + "." + strconv.FormatInt(issued.UnixMilli(), 10) + "." + strconv.FormatInt(expires.Unix(), 10) +
		"." + base64.RawURLEncoding.EncodeToString(nonce[:])
	return session{tokenID: tokenID, issued: issued, expires: expires, value: payload + "." + p.sign("session", payload)}
}

// readSession checks a cookie value: signed by this cluster, not expired.
// Whether its token still exists, and has not ended it, is the caller's to
// check. A cookie from before sessions recorded when they began (v1) is
// refused: its browser signs in again.
func (p *pages) readSession(value string, now time.Time) (session, bool) {
	if p.key == nil {
		return session{}, false
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return session{}, false
	}
	payload, mac := value[:i], value[i+1:]
	if !hmac.Equal([]byte(mac), []byte(p.sign("session", payload))) {
		return session{}, false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 5 || parts[0] != "v2" {
		return session{}, false
	}
	issued, err1 := strconv.ParseInt(parts[2], 10, 64)
	exp, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || !now.Before(time.Unix(exp, 0)) {
		return session{}, false
	}
	return session{tokenID: parts[1], issued: time.UnixMilli(issued), expires: time.Unix(exp, 0), value: value}, true
}

// current is the session the request's cookie holds, with its token, if
// the cookie is good and neither a delete nor a sign-out has ended it.
func (p *pages) current(r *request) (session, fsm.Token, bool) {
	s, ok := p.readSession(string(r.ctx.Request.Header.Cookie(sessionCookie)), time.Now())
	if !ok {
		return session{}, fsm.Token{}, false
	}
	t, ok := p.srv.AdminToken(s.tokenID)
	if !ok || !s.issued.After(t.SessionsEnd) {
		return session{}, fsm.Token{}, false
	}
	s.role = t.Role
	return s, t, true
}

func (p *pages) csrfToken(s session) string { return p.sign("csrf", s.value) }

// authorize lets a request through with its session, or sends the browser
// to the login form. A POST must also carry the session's CSRF token and
// come from this site. A session whose token's role is below the page's
// is shown why not (403).
func (p *pages) authorize(r *request, rt *route) bool {
	s, _, ok := p.current(r)
	post := string(r.ctx.Method()) == fasthttp.MethodPost
	if !ok {
		if rt.access == signedInJS {
			r.ctx.SetStatusCode(http.StatusUnauthorized)
			return false
		}
		next := string(r.ctx.RequestURI())
		if post {
			next = "" // a form cannot be replayed after the login
		}
		r.redirect(loginURL(next, notSignedIn))
		return false
	}
	r.session = s
	if post {
		if !p.sameSite(r) {
			p.fail(r, http.StatusForbidden, "This form was sent from another website, so it was refused.")
			return false
		}
		if !hmac.Equal([]byte(r.form("csrf")), []byte(p.csrfToken(s))) {
			p.fail(r, http.StatusForbidden, "This form is out of date (its security token does not match your session). Go back, reload the page and send it again.")
			return false
		}
	}
	if !s.role.Allows(rt.role) {
		if rt.access == signedInJS {
			r.ctx.SetStatusCode(http.StatusForbidden)
			return false
		}
		p.fail(r, http.StatusForbidden, fmt.Sprintf("You signed in with a %s token, and this page needs the role %s. Sign in with a token that has it.", s.role, rt.role))
		return false
	}
	return true
}

// sameSite reports whether a POST comes from a page of this site: its
// Origin, or else its Referer, names the host it was sent to (or the
// public URL's). Browsers send at least one of them with a form; a request
// with neither still needs the CSRF token.
func (p *pages) sameSite(r *request) bool {
	from := string(r.ctx.Request.Header.Peek("Origin"))
	if from == "" {
		from = string(r.ctx.Request.Header.Referer())
	}
	if from == "" {
		return true
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, string(r.ctx.Host())) {
		return true
	}
	pub, err := url.Parse(r.api.PublicURL())
	return err == nil && strings.EqualFold(u.Host, pub.Host)
}

// secure reports whether the session cookie must be Secure: the request
// came over HTTPS, or the cluster's public URL is HTTPS (behind a proxy
// that ends TLS).
func (r *request) secure() bool {
	return r.ctx.IsTLS() || strings.HasPrefix(r.api.PublicURL(), "https://")
}

func (r *request) setSessionCookie(value string, maxAge int) {
	var c fasthttp.Cookie
	c.SetKey(sessionCookie)
	c.SetValue(value)
	c.SetPath(cookiePath)
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(r.secure())
	if maxAge > 0 {
		c.SetMaxAge(maxAge)
	} else {
		c.SetExpire(fasthttp.CookieExpireDelete)
	}
	r.ctx.Response.Header.SetCookie(&c)
}

// Why the login form is shown. The address names the reason, never the
// words: a link anyone can make must not put their text on dni's page.
const (
	notSignedIn = "signin"
	signedOut   = "signedout"
)

var loginMessages = map[string]string{
	notSignedIn: "Please sign in.",
	signedOut:   "You are signed out: every session begun with this token has ended, in every browser and on every node.",
}

// loginURL is the login form, with the page to go back to and why.
func loginURL(next, why string) string {
	q := url.Values{}
	if next != "" {
		q.Set("next", next)
	}
	if why != "" {
		q.Set("why", why)
	}
	if len(q) == 0 {
		return "/admin/login"
	}
	return "/admin/login?" + q.Encode()
}

// localPage returns next if it is one of the admin pages, else the first
// page: the login must not send anyone to another site.
func localPage(next string) string {
	if strings.HasPrefix(next, Prefix) && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/admin/pools"
}

type loginPage struct {
	Next    string
	Message string
	Error   string
}

func (p *pages) loginForm(r *request) {
	if _, _, ok := p.current(r); ok {
		r.redirect(localPage(r.query("next")))
		return
	}
	p.render(r, http.StatusOK, "login.html", "Sign in", "", loginPage{Next: r.query("next"), Message: loginMessages[r.query("why")]})
}

// login checks an admin token and begins a session for it. Wrong tokens
// are throttled per address, with the admin API's (httpapi.Server.SignIn).
func (p *pages) login(r *request) {
	page := loginPage{Next: r.form("next")}
	if !p.sameSite(r) {
		p.fail(r, http.StatusForbidden, "This form was sent from another website, so it was refused.")
		return
	}
	if p.key == nil {
		page.Error = "This node has no cluster secret, so it cannot keep anyone signed in. Start it with --cluster-secret."
		p.render(r, http.StatusUnauthorized, "login.html", "Sign in", "", page)
		return
	}
	t, wait, ok := p.srv.SignIn(r.ctx, r.form("token"))
	switch {
	case wait > 0:
		secs := max(1, int(math.Ceil(wait.Seconds())))
		r.ctx.Response.Header.Set("Retry-After", strconv.Itoa(secs))
		page.Error = fmt.Sprintf("Too many wrong tokens were tried from your address. Try again in %d seconds.", secs)
		p.render(r, http.StatusTooManyRequests, "login.html", "Sign in", "", page)
		return
	case !ok:
		page.Error = "That is not an admin token of this cluster. The node that first started the cluster keeps the first one in its data dir, in the file admin-token."
		p.render(r, http.StatusUnauthorized, "login.html", "Sign in", "", page)
		return
	case t.Role == fsm.RoleExport:
		// Every page needs more, so a session would only meet refusals.
		page.Error = "This is an export token: it only lets Google Ads and Microsoft Advertising fetch the conversion files; sign in with a reporting, operator or admin token."
		p.render(r, http.StatusForbidden, "login.html", "Sign in", "", page)
		return
	}
	// A session begins after the last sign-out of its token, even on a
	// node whose clock lags the one that stamped it.
	issued := time.Now().Truncate(time.Millisecond)
	if !issued.After(t.SessionsEnd) {
		issued = t.SessionsEnd.Add(time.Millisecond)
	}
	s := p.newSession(t.ID, issued)
	r.setSessionCookie(s.value, int(sessionLife/time.Second))
	r.redirect(localPage(page.Next))
}

// logout ends every session of the session's token, on every node: an
// admin token is often shared, and a sign-out must make a stolen cookie
// worthless wherever it is replayed.
func (p *pages) logout(r *request) {
	r.setSessionCookie("", 0)
	ctx, cancel := writeContext()
	defer cancel()
	err := p.srv.EndSessions(ctx, r.session.tokenID, r.session.issued)
	r.session = session{}
	if err != nil {
		p.fail(r, http.StatusServiceUnavailable, "You are signed out in this browser, but the cluster could not end this token's sessions elsewhere ("+
			err.Error()+"). Sign in and out again in a moment.")
		return
	}
	r.redirect(loginURL("", signedOut))
}
