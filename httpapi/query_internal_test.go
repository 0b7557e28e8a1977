package httpapi

import (
	"net/url"
	"testing"

	"github.com/dni-dev/dni/allocator"
)

// FuzzQueryAttribution holds queryAttribution to what url.ParseQuery and
// Get make of the same query, whatever the query.
func FuzzQueryAttribution(f *testing.F) {
	for _, q := range []string{
		"utm_source=google&utm_campaign=spring+sale&gclid=Cj0KCQiA_abc-123",
		"gclid=a&gclid=b", "utm%5Fsource=x", "utm_source=%zz&utm_medium=email", "a;b=c&utm_term=%E2%82%AC",
		"utm_source", "=&&=", "utm_content=a=b", "fbclid=1;msclkid=2",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		var got allocator.Attribution
		queryAttribution(q, &got)
		want := allocator.Attribution{}
		values, _ := url.ParseQuery(q)
		for _, name := range allocator.QueryParams {
			*want.QueryField(name) = values.Get(name)
		}
		for _, name := range allocator.QueryParams {
			if g, w := *got.QueryField(name), *want.QueryField(name); g != w {
				t.Fatalf("query %q: %s is %q, url.ParseQuery says %q", q, name, g, w)
			}
		}
	})
}
