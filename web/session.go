package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// A session is a signed-in browser. Its cookie holds no token: it holds
// the id of the admin token it signed in with, when it ends and a random
// nonce, signed with a key derived from the cluster secret, so every node
// accepts it, and it ends when the token is deleted from the cluster. The
// cookie is HttpOnly, SameSite=Strict, Secure on HTTPS, and only sent
// under /admin.
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
	expires time.Time
	value   string // the cookie, which the CSRF token is derived from
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

// newSession makes the cookie value of a session for a token.
func (p *pages) newSession(tokenID string, now time.Time) session {
	var nonce [16]byte
	rand.Read(nonce[:])
	expires := now.Add(sessionLife).Truncate(time.Second)
	payload := "v1." + tokenID + "." + strconv.FormatInt(expires.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(nonce[:])
	return session{tokenID: tokenID, expires: expires, value: payload + "." + p.sign("session", payload)}
}

// readSession checks a cookie value: signed by this cluster, not expired.
// Whether its token still exists is the caller's to check.
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
	if len(parts) != 4 || parts[0] != "v1" {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return session{}, false
	}
	return session{tokenID: parts[1], expires: time.Unix(exp, 0), value: value}, true
}

func (p *pages) csrfToken(s session) string { return p.sign("csrf", s.value) }

// authorize lets a request through with its session, or sends the browser
// to the login form. A POST must also carry the session's CSRF token and
// come from this site.
func (p *pages) authorize(r *request, a access) bool {
	s, ok := p.readSession(string(r.ctx.Request.Header.Cookie(sessionCookie)), time.Now())
	if ok && !p.srv.AdminTokenExists(s.tokenID) {
		ok = false // the token was deleted: so is every session it began
	}
	post := string(r.ctx.Method()) == fasthttp.MethodPost
	if !ok {
		if a == signedInJS {
			r.ctx.SetStatusCode(http.StatusUnauthorized)
			return false
		}
		next := string(r.ctx.RequestURI())
		if post {
			next = "" // a form cannot be replayed after the login
		}
		r.redirect(loginURL(next, "Please sign in."))
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

// loginURL is the login form, with the page to go back to and a message.
func loginURL(next, msg string) string {
	q := url.Values{}
	if next != "" {
		q.Set("next", next)
	}
	if msg != "" {
		q.Set("msg", msg)
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
	if s, ok := p.readSession(string(r.ctx.Request.Header.Cookie(sessionCookie)), time.Now()); ok && p.srv.AdminTokenExists(s.tokenID) {
		r.redirect(localPage(r.query("next")))
		return
	}
	p.render(r, http.StatusOK, "login.html", "Sign in", "", loginPage{Next: r.query("next"), Message: r.query("msg")})
}

// login checks an admin token and begins a session for it.
func (p *pages) login(r *request) {
	page := loginPage{Next: r.form("next")}
	if !p.sameSite(r) {
		p.fail(r, http.StatusForbidden, "This form was sent from another website, so it was refused.")
		return
	}
	id, ok := p.srv.AdminTokenID(r.form("token"))
	switch {
	case p.key == nil:
		page.Error = "This node has no cluster secret, so it cannot keep anyone signed in. Start it with --cluster-secret."
	case !ok:
		page.Error = "That is not an admin token of this cluster. Tokens start with dni_; the node printed the first one when it first started."
	}
	if page.Error != "" {
		p.render(r, http.StatusUnauthorized, "login.html", "Sign in", "", page)
		return
	}
	s := p.newSession(id, time.Now())
	r.setSessionCookie(s.value, int(sessionLife/time.Second))
	r.redirect(localPage(page.Next))
}

func (p *pages) logout(r *request) {
	r.setSessionCookie("", 0)
	r.redirect(loginURL("", "You are signed out."))
}
