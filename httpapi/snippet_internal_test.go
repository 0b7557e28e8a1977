package httpapi

import (
	"strings"
	"testing"
)

func TestIfNoneMatchIsComparedWeaklyAcrossTheList(t *testing.T) {
	const etag = `W/"abc"`
	for header, want := range map[string]bool{
		`W/"abc"`:               true,
		`"abc"`:                 true,
		`"x", W/"abc"`:          true,
		` "x" ,"abc" `:          true,
		`*`:                     true,
		``:                      false,
		`"abcd"`:                false,
		`abc`:                   false,
		`W/"ab", "c"`:           false,
		`"x",,`:                 false,
		`W/W/"abc"`:             false,
		strings.Repeat(",", 99): false,
	} {
		if got := etagMatches([]byte(header), etag); got != want {
			t.Errorf("If-None-Match %q: %v, want %v", header, got, want)
		}
	}
}

// FuzzIfNoneMatch reads any If-None-Match: the current ETag, added to any
// list, always matches, and a list that never names it, nor "*", never
// does.
func FuzzIfNoneMatch(f *testing.F) {
	const etag = `W/"Zx3_kq"`
	for _, seed := range []string{``, `*`, `"a", W/"b"`, etag, `W/"Zx3_kq`, ",,,", `W/""`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if !etagMatches([]byte(header+", "+etag), etag) || !etagMatches([]byte(etag+","+header), etag) {
			t.Fatalf("%q with the ETag added does not match", header)
		}
		named := false
		for _, tag := range strings.Split(header, ",") {
			tag = strings.TrimSpace(tag)
			named = named || tag == "*" || strings.TrimPrefix(tag, "W/") == `"Zx3_kq"`
		}
		if etagMatches([]byte(header), etag) != named {
			t.Fatalf("%q: match %v, but names the ETag %v", header, !named, named)
		}
	})
}
