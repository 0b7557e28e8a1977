package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/snippet"
)

func TestTheSnippetIsServedToAnyOriginWithCachingHeaders(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	s := snippet.Get()
	r := a.Send("GET", "/dni.js", nil, "Accept-Encoding", "identity", "Origin", "https://shop.example")
	wantStatus(t, r, http.StatusOK)
	if !bytes.Equal(r.Body, s.JS) {
		t.Fatal("the body is not the minified script")
	}
	for name, want := range map[string]string{
		"Content-Type":                 "text/javascript; charset=utf-8",
		"Cache-Control":                "public, max-age=300, stale-while-revalidate=86400",
		"ETag":                         s.ETag,
		"Vary":                         "Accept-Encoding",
		"Access-Control-Allow-Origin":  "*",
		"Cross-Origin-Resource-Policy": "cross-origin",
		"X-Content-Type-Options":       "nosniff",
		"Content-Encoding":             "",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func TestTheSnippetIsGzippedForClientsThatTakeIt(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for _, c := range []struct {
		accept string
		gzip   bool
	}{{"gzip, deflate, br", true}, {"br;q=1.0, GZIP;q=0.5", true}, {"gzip;q=0", false}, {"br", false}, {"identity", false}} {
		r := a.Send("GET", "/dni.js", nil, "Accept-Encoding", c.accept)
		wantStatus(t, r, http.StatusOK)
		body := r.Body
		if got := r.Header.Get("Content-Encoding") == "gzip"; got != c.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", c.accept, got, c.gzip)
			continue
		}
		if c.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(body, snippet.Get().JS) {
			t.Errorf("Accept-Encoding %q: not the script", c.accept)
		}
	}
}

func TestARevalidationWithTheCurrentETagIsAnsweredNotModified(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	etag := snippet.Get().ETag
	for _, c := range []struct {
		ifNoneMatch string
		status      int
	}{
		{etag, http.StatusNotModified},
		{strings.TrimPrefix(etag, "W/"), http.StatusNotModified},
		{`"old", ` + etag, http.StatusNotModified},
		{"*", http.StatusNotModified},
		{`W/"old"`, http.StatusOK},
	} {
		r := a.Send("GET", "/dni.js", nil, "If-None-Match", c.ifNoneMatch, "Accept-Encoding", "gzip")
		wantStatus(t, r, c.status)
		if c.status == http.StatusNotModified && (len(r.Body) != 0 || r.Header.Get("ETag") != etag || r.Header.Get("Cache-Control") == "") {
			t.Errorf("If-None-Match %s: 304 with %d bytes, ETag %q, Cache-Control %q", c.ifNoneMatch, len(r.Body), r.Header.Get("ETag"), r.Header.Get("Cache-Control"))
		}
	}
}

func TestHEADOfTheSnippetHasTheHeadersAndNoBody(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	r := a.Send("HEAD", "/dni.js", nil, "Accept-Encoding", "identity")
	wantStatus(t, r, http.StatusOK)
	if len(r.Body) != 0 || r.Header.Get("ETag") != snippet.Get().ETag || r.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD: %d bytes, headers %v", len(r.Body), r.Header)
	}
}

func TestAPoolCarriesItsInstallTagLoadingTheSnippetFromThePublicURL(t *testing.T) {
	a := startAPI(t, httpapi.Options{Telephony: httpapi.Telephony{PublicURL: "https://calls.example.com/"}})
	var p struct {
		ID, Key, Install string
	}
	a.Admin("POST", "/v1/pools", poolRequest(nil)).Decode(t, &p)
	if want := snippet.Get().Tag("https://calls.example.com", p.Key, false); p.Install != want {
		t.Errorf("install %s, want %s", p.Install, want)
	}
	a.Admin("POST", "/v1/pools", poolRequest(map[string]any{"tracking": "gclid"})).Decode(t, &p)
	if want := snippet.Get().Tag("https://calls.example.com", p.Key, true); p.Install != want {
		t.Errorf("a Google Ads pool's install %s, want %s", p.Install, want)
	}

	// Without a public URL, the tag names the host the admin reached.
	b := startAPI(t, httpapi.Options{})
	b.Admin("POST", "/v1/pools", poolRequest(nil)).Decode(t, &p)
	if want := `<script src="` + b.URL + `/dni.js" data-pool="` + p.Key + `"`; !strings.HasPrefix(p.Install, want) {
		t.Errorf("install %s, want it to start %s", p.Install, want)
	}
}
