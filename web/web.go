// Package web is the admin pages: how marketers set up tracking (the pool
// wizard and the edit form), say what calls were worth, read which
// campaigns drive calls and pay for their ad spend, set what holds for
// every pool (the Settings page), and have call events sent to their
// other systems (webhooks), without touching the API. Every
// node serves them under /admin/, behind a login with an admin token.
//
// The pages hold no rules and reach no state of their own: each handler
// calls the admin API's Go functions (httpapi.Admin), the same ones the
// JSON handlers call, and renders the answer with html/template, which
// escapes everything a visitor chose. The JavaScript is one small file,
// for a copy button, the provisioning progress and the edit form's size
// preview; every page works without it.
//
// Where to look: routesTable lists every page and its handler; session.go
// is the login, the session cookie and the CSRF check; each other file is
// one area of the pages, named after it.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
)

//go:embed templates static
var files embed.FS

// Prefix is where the pages live.
const Prefix = "/admin/"

// writeTimeout bounds a change a page asks the cluster for.
const writeTimeout = 30 * time.Second

// pages serves the admin pages of one node.
type pages struct {
	srv    *httpapi.Server
	log    *slog.Logger
	key    []byte // signs sessions and CSRF tokens; nil: nobody can sign in
	routes []route
	tmpl   map[string]*template.Template // by page file name
	static map[string]staticFile         // by file name
}

// access says who may see a page.
type access uint8

const (
	anyone     access = iota // the login form and the static files
	signedIn                 // a session; POSTs carry its CSRF token
	signedInJS               // a session, for what the pages' script fetches: 401 without one
)

type route struct {
	method  string
	pattern string // "/admin/pools/{id}/edit"
	access  access
	role    fsm.Role // for a session: the least role its token needs
	handle  func(r *request)
	segs    []string
}

// routesTable lists every page. The handlers are in the file named after
// their area: pools.go, wizard.go, calls.go, campaigns.go (with spend.go
// and conversions.go), settings.go, cluster.go, webhooks.go, session.go.
func (p *pages) routesTable() []route {
	get, post := fasthttp.MethodGet, fasthttp.MethodPost
	// The roles of admin tokens, as the admin API's routes need them:
	// reporting reads, operator also sees the cluster and the webhooks,
	// admin changes pools and webhooks.
	reporting, operator, admin := fsm.RoleReporting, fsm.RoleOperator, fsm.RoleAdmin
	return []route{
		{method: get, pattern: "/admin/login", access: anyone, handle: p.loginForm},
		{method: post, pattern: "/admin/login", access: anyone, handle: p.login},
		{method: post, pattern: "/admin/logout", access: signedIn, role: reporting, handle: p.logout},
		{method: get, pattern: "/admin/static/{file}", access: anyone, handle: p.serveStatic},

		{method: get, pattern: "/admin/", access: signedIn, role: reporting, handle: p.home},
		{method: get, pattern: "/admin/pools", access: signedIn, role: reporting, handle: p.poolList},
		{method: get, pattern: "/admin/pools/new", access: signedIn, role: admin, handle: p.wizardStart},
		{method: post, pattern: "/admin/pools/new", access: signedIn, role: admin, handle: p.wizardStep},
		{method: get, pattern: "/admin/pools/{id}", access: signedIn, role: reporting, handle: p.poolPage},
		{method: get, pattern: "/admin/pools/{id}/progress", access: signedInJS, role: reporting, handle: p.poolProgress},
		{method: get, pattern: "/admin/pools/{id}/edit", access: signedIn, role: admin, handle: p.editForm},
		{method: post, pattern: "/admin/pools/{id}/edit", access: signedIn, role: admin, handle: p.edit},
		{method: get, pattern: "/admin/pools/{id}/delete", access: signedIn, role: admin, handle: p.deleteForm},
		{method: post, pattern: "/admin/pools/{id}/delete", access: signedIn, role: admin, handle: p.delete},
		{method: post, pattern: "/admin/pools/{id}/numbers/{number}/call", access: signedIn, role: admin, handle: p.simulateCall},
		{method: get, pattern: "/admin/demo/{id}", access: signedIn, role: admin, handle: p.demo},
		{method: get, pattern: "/admin/calls", access: signedIn, role: reporting, handle: p.calls},
		{method: get, pattern: "/admin/calls.csv", access: signedIn, role: reporting, handle: p.callsCSV},
		{method: get, pattern: "/admin/calls/{sid}", access: signedIn, role: reporting, handle: p.call},
		{method: post, pattern: "/admin/calls/{sid}", access: signedIn, role: admin, handle: p.markCall},
		{method: get, pattern: "/admin/calls/{sid}/recordings/{rec}/audio", access: signedIn, role: reporting, handle: p.recordingAudio},
		{method: post, pattern: "/admin/calls/{sid}/recordings/{rec}/delete", access: signedIn, role: admin, handle: p.deleteRecording},
		{method: get, pattern: "/admin/campaigns", access: signedIn, role: reporting, handle: p.campaigns},
		{method: get, pattern: "/admin/campaigns.csv", access: signedIn, role: reporting, handle: p.campaignsCSV},
		{method: post, pattern: "/admin/campaigns/spend", access: signedIn, role: admin, handle: p.addSpend},
		{method: post, pattern: spendUploadPath, access: signedIn, role: admin, handle: p.uploadSpend},
		{method: post, pattern: "/admin/campaigns/spend/delete", access: signedIn, role: admin, handle: p.deleteSpend},
		{method: post, pattern: "/admin/campaigns/settings", access: signedIn, role: admin, handle: p.setMarketing},
		{method: get, pattern: "/admin/settings", access: signedIn, role: reporting, handle: p.settings},
		{method: post, pattern: "/admin/settings/voicemail", access: signedIn, role: admin, handle: p.setVoicemail},
		{method: get, pattern: "/admin/conversions/{file}", access: signedIn, role: reporting, handle: p.conversions},
		{method: get, pattern: "/admin/cluster", access: signedIn, role: operator, handle: p.cluster},
		{method: get, pattern: "/admin/webhooks", access: signedIn, role: operator, handle: p.webhookList},
		{method: post, pattern: "/admin/webhooks", access: signedIn, role: admin, handle: p.addWebhook},
		{method: get, pattern: "/admin/webhooks/{id}", access: signedIn, role: operator, handle: p.webhookPage},
		{method: post, pattern: "/admin/webhooks/{id}", access: signedIn, role: admin, handle: p.editWebhook},
		{method: post, pattern: "/admin/webhooks/{id}/secret", access: signedIn, role: admin, handle: p.replaceWebhookSecret},
		{method: get, pattern: "/admin/webhooks/{id}/delete", access: signedIn, role: admin, handle: p.webhookDeleteForm},
		{method: post, pattern: "/admin/webhooks/{id}/delete", access: signedIn, role: admin, handle: p.deleteWebhook},
	}
}

// Handler returns the handler of the admin pages, for httpapi.Options.Pages:
// it serves every path under Prefix for srv's node.
func Handler(srv *httpapi.Server) fasthttp.RequestHandler {
	p := &pages{srv: srv, log: srv.Log(), key: srv.SessionKey()}
	p.routes = p.routesTable()
	for i := range p.routes {
		p.routes[i].segs = strings.Split(p.routes[i].pattern, "/")
	}
	srv.AcceptUploads(spendUploadPath)
	p.tmpl = parseTemplates()
	p.static = loadStatic()
	return p.serve
}

// request is one request to a page, with its session once checked.
type request struct {
	ctx     *fasthttp.RequestCtx
	api     httpapi.Admin
	params  []string
	session session
}

func (p *pages) serve(rc *fasthttp.RequestCtx) {
	securityHeaders(rc)
	rt, params, allowed := p.find(string(rc.Method()), string(rc.Path()))
	if rt == nil {
		if allowed != "" {
			rc.Response.Header.Set("Allow", allowed)
			p.fail(&request{ctx: rc}, http.StatusMethodNotAllowed, "This page does not take "+string(rc.Method())+" requests.")
			return
		}
		p.fail(&request{ctx: rc}, http.StatusNotFound, "There is no such page.")
		return
	}
	r := &request{ctx: rc, api: p.srv.Admin(rc), params: params}
	if rt.access != anyone && !p.authorize(r, rt) {
		return
	}
	rt.handle(r)
}

// find matches a path against the routes; a {param} matches one non-empty
// segment. allowed lists the methods of the routes the path matches.
func (p *pages) find(method, path string) (*route, []string, string) {
	segs := strings.Split(path, "/")
	var methods []string
	for i := range p.routes {
		rt := &p.routes[i]
		params, ok := match(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, params, ""
		}
		methods = append(methods, rt.method)
	}
	return nil, nil, strings.Join(methods, ", ")
}

func match(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params []string
	for i, ps := range pattern {
		if strings.HasPrefix(ps, "{") {
			v, err := url.PathUnescape(segs[i])
			if segs[i] == "" || err != nil {
				return nil, false
			}
			params = append(params, v)
		} else if ps != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// securityHeaders keeps the pages out of frames (clickjacking) and lets
// them run only the scripts and styles they are served with.
func securityHeaders(rc *fasthttp.RequestCtx) {
	h := &rc.Response.Header
	h.Set("Content-Security-Policy", contentSecurityPolicy(""))
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// contentSecurityPolicy allows the pages' own files and, for the demo
// page, the origin dni.js is loaded from.
func contentSecurityPolicy(snippetOrigin string) string {
	scripts, connect := "'self'", "'self'"
	if snippetOrigin != "" {
		scripts += " " + snippetOrigin
		connect += " " + snippetOrigin
	}
	return "default-src 'none'; script-src " + scripts + "; style-src 'self'; img-src 'self' data:; connect-src " + connect +
		"; media-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

func (r *request) param(i int) string { return r.params[i] }

func (r *request) query(name string) string { return string(r.ctx.QueryArgs().Peek(name)) }

// maxFormBody bounds a multipart form once decompressed: the node has
// already capped what it received (httpapi's maxPageBody), but a body sent
// gzipped may expand far beyond it.
const maxFormBody = 4 << 20

// multipart is the request's form if it is multipart/form-data (the CSV
// upload), else nil: the other forms are URL-encoded, in PostArgs.
func (r *request) multipart() *multipart.Form {
	mf, err := r.ctx.MultipartFormWithLimit(maxFormBody)
	if err != nil {
		return nil
	}
	return mf
}

func (r *request) form(name string) string {
	if mf := r.multipart(); mf != nil {
		if v := mf.Value[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return string(r.ctx.PostArgs().Peek(name))
}

func (r *request) formAll(name string) []string {
	if mf := r.multipart(); mf != nil {
		return mf.Value[name]
	}
	var out []string
	for _, v := range r.ctx.PostArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	return out
}

// trimmed is a form field without the spaces around it.
func (r *request) trimmed(name string) string { return strings.TrimSpace(r.form(name)) }

// formHas reports whether the form sent a field, empty or not.
func (r *request) formHas(name string) bool {
	if mf := r.multipart(); mf != nil {
		_, ok := mf.Value[name]
		return ok
	}
	return r.ctx.PostArgs().Has(name)
}

// redirect sends the browser to a page with GET (303 See Other), as after
// every form that changes something. The location stays relative, so it is
// right behind a proxy that rewrites the host.
func (r *request) redirect(to string) {
	r.ctx.Response.Header.Set("Location", to)
	r.ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// writeContext bounds a change the page asks the cluster for.
func writeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), writeTimeout)
}

// view is what every page template gets: the frame's own fields and the
// page's data.
type view struct {
	Title    string
	Nav      string // the section of the navigation the page belongs to
	SignedIn bool
	CSRF     string // the session's token, for every form that posts
	Sandbox  bool   // the node runs the Twilio stand-in
	Page     any
	role     fsm.Role // the session's
}

// Can reports whether the session may open pages that need role: the
// pages offer only what it may do.
func (v view) Can(role fsm.Role) bool { return v.role.Allows(role) }

// render writes a page: its template, in the layout.
func (p *pages) render(r *request, status int, name, title, nav string, data any) {
	t := p.tmpl[name]
	v := view{Title: title, Nav: nav, Page: data}
	if r.session.tokenID != "" {
		v.SignedIn, v.CSRF, v.Sandbox, v.role = true, p.csrfToken(r.session), r.api.Sandboxed(), r.session.role
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		p.log.Error("render an admin page", "page", name, "err", err)
		r.ctx.Error("the page could not be rendered", fasthttp.StatusInternalServerError)
		return
	}
	r.ctx.SetStatusCode(status)
	r.ctx.SetContentType("text/html; charset=utf-8")
	r.ctx.SetBody(buf.Bytes())
}

// renderBare writes a page that stands on its own, without the layout.
func (p *pages) renderBare(r *request, name string, data any) {
	var buf bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&buf, "page", data); err != nil {
		p.log.Error("render an admin page", "page", name, "err", err)
		r.ctx.Error("the page could not be rendered", fasthttp.StatusInternalServerError)
		return
	}
	r.ctx.SetContentType("text/html; charset=utf-8")
	r.ctx.SetBody(buf.Bytes())
}

// fail shows a page that says what went wrong.
func (p *pages) fail(r *request, status int, msg string) {
	p.render(r, status, "error.html", http.StatusText(status), "", msg)
}

// failErr shows what an admin function's error means for the marketer.
func (p *pages) failErr(r *request, err error) {
	status := httpapi.ErrorStatus(err)
	var nl *cluster.NotLeaderError
	switch {
	case errors.Is(err, allocator.ErrUnknownPool):
		p.fail(r, status, "There is no such pool.")
	case errors.Is(err, allocator.ErrPoolDeleted):
		p.fail(r, status, "This pool was deleted: it can no longer change.")
	case errors.Is(err, httpapi.ErrUnknownWebhook):
		p.fail(r, status, "There is no such webhook endpoint: it may have been deleted.")
	case errors.As(err, &nl), status == http.StatusServiceUnavailable:
		p.fail(r, http.StatusServiceUnavailable, "The cluster could not take the change right now ("+err.Error()+"). Nothing was changed; try again in a moment.")
	default:
		p.fail(r, status, "Something went wrong: "+err.Error())
	}
}

func (p *pages) home(r *request) { r.redirect("/admin/pools") }

// staticFile is one of the pages' CSS or JavaScript files.
type staticFile struct {
	body        []byte
	contentType string
}

func loadStatic() map[string]staticFile {
	out := map[string]staticFile{}
	entries, err := fs.ReadDir(files, "static")
	if err != nil {
		panic(err) // embedded: a broken build
	}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	for _, e := range entries {
		b, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		out[e.Name()] = staticFile{body: b, contentType: types[path.Ext(e.Name())]}
	}
	return out
}

func (p *pages) serveStatic(r *request) {
	f, ok := p.static[r.param(0)]
	if !ok {
		p.fail(r, http.StatusNotFound, "There is no such file.")
		return
	}
	r.ctx.Response.Header.Set("Cache-Control", "public, max-age=300")
	r.ctx.SetContentType(f.contentType)
	r.ctx.SetBody(f.body)
}

// parseTemplates reads every page template with the layout.
func parseTemplates() map[string]*template.Template {
	out := map[string]*template.Template{}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" {
			continue
		}
		t := template.New(base).Funcs(funcs)
		out[base] = template.Must(t.ParseFS(files, "templates/layout.html", name))
	}
	return out
}
