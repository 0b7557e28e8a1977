package allocator

import (
	"errors"
	"strings"
	"testing"
)

func TestAnOriginIsWrittenAsBrowsersSendIt(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://shop.example", "https://shop.example"},
		{"https://Shop.Example/", "https://shop.example"},
		{"https://shop.example:443", "https://shop.example"},
		{"http://shop.example:80", "http://shop.example"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"https://shop.example:8443/", "https://shop.example:8443"},
		{"https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
		{"shop.example", ""},
		{"ftp://shop.example", ""},
		{"https://", ""},
		{"https://shop.example/spring", ""},
		{"https://shop.example/?q=1", ""},
		{"https://shop.example/#top", ""},
		{"https://ann@shop.example", ""},
		{"https://shop.example?", ""},
		{"mailto:ann@shop.example", ""},
		{"", ""},
	} {
		got, err := CanonicalOrigin(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestAPoolWithAllowedOriginsTakesVisitsOnlyFromThem(t *testing.T) {
	open := Settings{}
	shop := Settings{AllowedOrigins: []string{"https://shop.example", "http://localhost:8080"}}
	for _, c := range []struct {
		origin, page string
		open, shop   bool
	}{
		{"https://shop.example", "https://shop.example/spring?utm_source=google", true, true},
		{"https://SHOP.example", "https://shop.example:443/", true, true},
		{"http://localhost:8080", "http://localhost:8080/", true, true},
		{"https://evil.example", "https://shop.example/spring", true, false},
		{"https://shop.example", "https://evil.example/spring", true, false},
		{"https://shop.example.evil.example", "https://shop.example.evil.example/", true, false},
		{"http://shop.example", "http://shop.example/", true, false},
		{"https://shop.example:8443", "https://shop.example:8443/", true, false},
		{"", "", true, false},
		{"null", "https://shop.example/", true, false},
	} {
		for _, s := range []struct {
			name string
			st   Settings
			want bool
		}{{"any origin", open, c.open}, {"its own origins", shop, c.shop}} {
			if got := s.st.AllowsOrigin(c.origin) && s.st.AllowsPage(c.page); got != s.want {
				t.Errorf("a pool with %s: Origin %q on page %q allowed %v, want %v", s.name, c.origin, c.page, got, s.want)
			}
		}
	}
}

func TestAllowedOriginsAreValidatedNamingTheField(t *testing.T) {
	base := Settings{Name: "Shop", Size: 4, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"}}.WithDefaults()
	many := make([]string, MaxAllowedOrigins+1)
	for i := range many {
		many[i] = "https://shop" + strings.Repeat("x", i) + ".example"
	}
	for _, c := range []struct {
		origins []string
		ok      bool
	}{
		{nil, true},
		{[]string{}, true},
		{[]string{"https://shop.example", "http://localhost:8080"}, true},
		{many[:MaxAllowedOrigins], true},
		{many, false},
		{[]string{"https://Shop.example"}, false},
		{[]string{"https://shop.example/"}, false},
		{[]string{"shop.example"}, false},
		{[]string{"https://shop.example", "https://shop.example"}, false},
		{[]string{"https://" + strings.Repeat("a", MaxOriginLen) + ".example"}, false},
	} {
		st := base
		st.AllowedOrigins = c.origins
		err := st.Validate()
		var ve *ValidationError
		switch {
		case c.ok && err != nil:
			t.Errorf("%q: %v", c.origins, err)
		case !c.ok && (!errors.As(err, &ve) || ve.Field != "allowed_origins"):
			t.Errorf("%q: %v, want an error about allowed_origins", c.origins, err)
		}
	}
}
