// Package snippet is dni.js, the script a website includes so that every
// visitor sees a tracking number in place of the business number, and what
// a node needs to serve it: the minified bytes, a gzip copy, an ETag, the
// Subresource Integrity hash, and the install tag.
//
// dni.js is written readable and minified once per process, with esbuild,
// so the bytes served (and their hash) change only with dni.js or esbuild.
package snippet

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"
)

//go:embed dni.js
var source []byte

// Source is dni.js as written, before minification.
func Source() []byte { return source }

// Script is dni.js as a node serves it.
type Script struct {
	JS        []byte // minified
	Gzip      []byte // JS, gzip-compressed
	ETag      string // a weak validator, the same for both encodings
	Integrity string // the SRI hash of JS: "sha384-" and its base64
}

// Get returns the script, built on first use.
func Get() *Script { return get() }

var get = sync.OnceValue(func() *Script {
	js, err := Minify(source)
	if err != nil {
		// dni.js is embedded and tested: this is a broken build.
		panic(err)
	}
	return newScript(js)
})

// Target is the JavaScript version dni.js is lowered to: browsers from
// 2018 on (Safari 11.1, Chrome 66, Firefox 60) run it.
const Target = api.ES2018

// Minify returns src minified, as served.
func Minify(src []byte) ([]byte, error) {
	r := api.Transform(string(src), api.TransformOptions{
		Loader:            api.LoaderJS,
		Target:            Target,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Charset:           api.CharsetASCII,
		LegalComments:     api.LegalCommentsNone,
		LogLevel:          api.LogLevelSilent,
	})
	if len(r.Errors) > 0 {
		m := r.Errors[0]
		if m.Location != nil {
			return nil, fmt.Errorf("minify dni.js: line %d: %s", m.Location.Line, m.Text)
		}
		return nil, fmt.Errorf("minify dni.js: %s", m.Text)
	}
	return r.Code, nil
}

func newScript(js []byte) *Script {
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(js)
	w.Close()
	sri := sha512.Sum384(js)
	etag := sha256.Sum256(js)
	return &Script{
		JS:        js,
		Gzip:      gz.Bytes(),
		ETag:      `W/"` + base64.RawURLEncoding.EncodeToString(etag[:12]) + `"`,
		Integrity: "sha384-" + base64.StdEncoding.EncodeToString(sri[:]),
	}
}

// Tag is the install tag for a pool: the <script> element a website puts
// on its pages. base is the URL the node is reached at ("https://dni.example.com"),
// key the pool's public key; a pool that tracks Google Ads clicks only
// says so, so that the script asks for no number without a click id. The
// integrity attribute pins this build of dni.js: after an upgrade that
// changes it, a page with the old tag keeps its business number until the
// tag is replaced.
func (s *Script) Tag(base, key string, googleAdsOnly bool) string {
	var b strings.Builder
	b.WriteString(`<script src="`)
	b.WriteString(html.EscapeString(strings.TrimRight(base, "/") + "/dni.js"))
	b.WriteString(`" data-pool="`)
	b.WriteString(html.EscapeString(key))
	b.WriteString(`"`)
	if googleAdsOnly {
		b.WriteString(` data-tracking="gclid"`)
	}
	b.WriteString(` integrity="`)
	b.WriteString(s.Integrity)
	b.WriteString(`" crossorigin="anonymous" async></script>`)
	return b.String()
}
