package httpapi

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/snippet"
)

// snippetCacheControl lets browsers and CDNs keep dni.js for five minutes,
// so that a deploy reaches every website within minutes (a tag with an
// integrity hash pins its build anyway), and then use the copy they have
// for a day while they revalidate it in the background: a returning
// visitor never waits for the script, which is what lets the next page
// swap before it paints.
const snippetCacheControl = "public, max-age=300, stale-while-revalidate=86400"

// serveSnippet serves dni.js to any website. It is loaded with
// crossorigin="anonymous" for its integrity hash, so it needs CORS too.
func (s *Server) serveSnippet(rc *fasthttp.RequestCtx, _ []string) {
	sc := snippet.Get()
	h := &rc.Response.Header
	h.Set("Cache-Control", snippetCacheControl)
	h.Set("ETag", sc.ETag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(rc.Request.Header.Peek("If-None-Match"), sc.ETag) {
		rc.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	rc.SetContentType("text/javascript; charset=utf-8")
	body := sc.JS
	if rc.Request.Header.HasAcceptEncoding("gzip") {
		h.Set("Content-Encoding", "gzip")
		body = sc.Gzip
	}
	// The script's bytes never change while the process runs: no copy.
	rc.Response.SetBodyRaw(body)
}

// etagMatches reports whether an If-None-Match header names etag, or is
// "*". The comparison is weak (RFC 9110, 13.1.2): W/ prefixes are ignored.
func etagMatches(header []byte, etag string) bool {
	want := bytes.TrimPrefix([]byte(etag), []byte("W/"))
	for len(header) > 0 {
		var tag []byte
		tag, header, _ = bytes.Cut(header, []byte(","))
		tag = bytes.TrimSpace(tag)
		if string(tag) == "*" || bytes.Equal(bytes.TrimPrefix(tag, []byte("W/")), want) {
			return true
		}
	}
	return false
}
