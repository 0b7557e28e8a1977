package snippet_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/dni-dev/dni/snippet"
)

// maxGzip is the snippet's budget on the wire: 4 KB minified and gzipped.
const maxGzip = 4096

func TestTheServedScriptIsAtMost4KBMinifiedAndGzipped(t *testing.T) {
	s := snippet.Get()
	t.Logf("dni.js: %d bytes as written, %d minified, %d minified and gzipped (budget %d)",
		len(snippet.Source()), len(s.JS), len(s.Gzip), maxGzip)
	if len(s.Gzip) > maxGzip {
		t.Errorf("dni.js is %d bytes minified and gzipped, over its budget of %d", len(s.Gzip), maxGzip)
	}
	if len(s.JS) >= len(snippet.Source())/2 {
		t.Errorf("minified to %d bytes from %d: is the minifier at work?", len(s.JS), len(snippet.Source()))
	}
}

func TestTheGzipCopyAndTheIntegrityHashAreOfTheServedBytes(t *testing.T) {
	s := snippet.Get()
	r, err := gzip.NewReader(bytes.NewReader(s.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(unzipped, s.JS) {
		t.Fatalf("the gzip copy is not the script (%v)", err)
	}
	sum := sha512.Sum384(s.JS)
	if want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); s.Integrity != want {
		t.Errorf("integrity %s, want %s", s.Integrity, want)
	}
	if !regexp.MustCompile(`^W/"[A-Za-z0-9_-]+"$`).MatchString(s.ETag) {
		t.Errorf("ETag %s", s.ETag)
	}
}

func TestMinifyingIsDeterministicSoTheHashIsStable(t *testing.T) {
	a, err := snippet.Minify(snippet.Source())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, snippet.Get().JS) {
		t.Error("minifying dni.js twice gave two scripts: the integrity hash would change between nodes")
	}
}

func TestMinifyRefusesJavaScriptThatDoesNotParse(t *testing.T) {
	if _, err := snippet.Minify([]byte("const x = (;")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("got %v, want an error naming the line", err)
	}
}

// The snippet runs on customers' pages: it must never run strings as
// code, nor write markup, which would open them to injection.
func TestTheScriptNeitherEvaluatesStringsNorWritesMarkup(t *testing.T) {
	for _, banned := range []string{"eval(", "Function(", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "setTimeout(\"", "setTimeout('"} {
		for name, code := range map[string][]byte{"dni.js": snippet.Source(), "the served script": snippet.Get().JS} {
			if bytes.Contains(code, []byte(banned)) {
				t.Errorf("%s uses %s", name, banned)
			}
		}
	}
}

func TestTheInstallTagNamesThePoolPinsTheScriptAndEscapesWhatItQuotes(t *testing.T) {
	s := snippet.Get()
	tag := s.Tag("https://calls.example.com/", "pk_0123", false)
	want := `<script src="https://calls.example.com/dni.js" data-pool="pk_0123" integrity="` + s.Integrity +
		`" crossorigin="anonymous" async></script>`
	if tag != want {
		t.Errorf("tag\n%s\nwant\n%s", tag, want)
	}
	if tag := s.Tag("https://calls.example.com", "pk_0123", true); !strings.Contains(tag, ` data-pool="pk_0123" data-tracking="gclid" `) {
		t.Errorf("a Google Ads pool's tag: %s", tag)
	}
	if tag := s.Tag(`http://x"><img src=y>`, `k"<`, false); strings.ContainsAny(strings.TrimSuffix(strings.TrimPrefix(tag, "<script "), "></script>"), "<>") {
		t.Errorf("the tag does not escape what it quotes: %s", tag)
	}
}
