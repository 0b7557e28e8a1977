package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// The admin pages themselves are package web's, tested there in a browser.
// These tests hold what the server does for them: it hands them every path
// under /admin/, and the Go functions they sign in with.

func TestTheServerHandsEveryPathUnderAdminToThePages(t *testing.T) {
	var srv *httpapi.Server
	a := startAPI(t, httpapi.Options{Pages: func(s *httpapi.Server) fasthttp.RequestHandler {
		srv = s
		return func(rc *fasthttp.RequestCtx) {
			rc.SetContentType("text/html; charset=utf-8")
			rc.WriteString("page " + string(rc.Path()))
		}
	}})
	if srv == nil {
		t.Fatal("New did not give the pages their server")
	}
	for path, want := range map[string]string{"/admin/": "page /admin/", "/admin/pools/pl_1/edit": "page /admin/pools/pl_1/edit"} {
		r := a.Send("GET", path, nil)
		if r.Status != http.StatusOK || string(r.Body) != want {
			t.Errorf("GET %s: %s", path, r)
		}
	}
	// /admin leads to the pages at /admin/, above.
	if r := a.Send("GET", "/admin", nil); r.Status/100 != 3 || r.Header.Get("Location") != "/admin/" {
		t.Errorf("GET /admin: %s, Location %q; want a redirect to /admin/", r, r.Header.Get("Location"))
	}
	wantStatus(t, a.Send("GET", "/administrator", nil), http.StatusNotFound)
	if m := a.Send("GET", "/metrics", nil); !bytes.Contains(m.Body, []byte(`route="/admin/"`)) {
		t.Error("the pages' requests are not counted under one route label")
	}
	// The API is where it was.
	wantStatus(t, a.Admin("GET", "/v1/pools", nil), http.StatusOK)
}

func TestWithoutPagesThereIsNothingUnderAdmin(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	wantProblem(t, a.Send("GET", "/admin/", nil), http.StatusNotFound, "")
}

func TestThePagesSignInWithTheClustersTokensAndAKeyFromItsSecret(t *testing.T) {
	var srv *httpapi.Server
	a := startAPI(t, httpapi.Options{Pages: func(s *httpapi.Server) fasthttp.RequestHandler {
		srv = s
		return func(*fasthttp.RequestCtx) {}
	}})
	// The login form's requests, as the pages hand them over.
	var form fasthttp.RequestCtx
	tok, _, ok := srv.SignIn(&form, " "+a.Token+"\n")
	if _, exists := srv.AdminToken(tok.ID); !ok || !strings.HasPrefix(tok.ID, "tok_") || tok.Role != fsm.RoleAdmin || !exists {
		t.Fatalf("the admin token: %+v, %v", tok, ok)
	}
	for _, wrong := range []string{"", "   ", a.Token + "x", "dni_" + strings.Repeat("0", 64)} {
		if _, _, ok := srv.SignIn(&form, wrong); ok {
			t.Errorf("%q was taken for an admin token", wrong)
		}
	}
	if _, exists := srv.AdminToken("tok_000000000000"); exists {
		t.Error("a token id the cluster never had exists")
	}
	key := srv.SessionKey()
	if len(key) != 32 || bytes.Contains(key, []byte(testkit.Secret)) {
		t.Fatalf("session key %x", key)
	}

	// A second token signs in; once deleted, it no longer exists.
	var made struct{ ID, Token string }
	wantCreated(t, a.Admin("POST", "/v1/tokens", map[string]string{"name": "a browser"})).Decode(t, &made)
	if tok, _, ok := srv.SignIn(&form, made.Token); !ok || tok.ID != made.ID {
		t.Fatalf("the new token: %+v %v", tok, ok)
	}
	wantStatus(t, a.Admin("DELETE", "/v1/tokens/"+made.ID, nil), http.StatusNoContent)
	if _, exists := srv.AdminToken(made.ID); exists {
		t.Fatal("a deleted token still exists")
	}
}

func wantCreated(t *testing.T, r testkit.Reply) testkit.Reply {
	t.Helper()
	wantStatus(t, r, http.StatusCreated)
	if !json.Valid(r.Body) {
		t.Fatalf("not JSON: %s", r)
	}
	return r
}
