package allocator

import (
	"strings"
	"testing"
)

func FuzzParseVisitID(f *testing.F) {
	f.Add("0123456789abcdef0123456789abcdef")
	f.Add("0123456789ABCDEF0123456789abcdeg")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseVisitID(s)
		if err != nil {
			return
		}
		if !strings.EqualFold(id.String(), s) {
			t.Fatalf("%q parsed to %s", s, id)
		}
	})
}

func FuzzParsePhone(f *testing.F) {
	for _, c := range phoneLayouts {
		f.Add(c.written, c.country)
	}
	for _, s := range []string{"555-0100", "", "+", "(015) 555-0100", "+999 1234 5678", "020 7946 001"} {
		f.Add(s, "US")
	}
	f.Add("30000", "DE") // valid to the library, shorter than E.164 as dni stores it
	f.Fuzz(func(t *testing.T, s, country string) {
		e, err := ParsePhone(s, country)
		if err != nil {
			return
		}
		if !ValidE164(e) {
			t.Fatalf("%q in %s gave %q, which is not E.164", s, country, e)
		}
		// E.164 reads back as itself, from any country; so does the
		// number as its own country writes it.
		if back, err := ParsePhone(e, "US"); err != nil || back != e {
			t.Fatalf("%q read back as %q, %v", e, back, err)
		}
		if back, err := ParsePhone(InternationalFormat(e), "DE"); err != nil || back != e {
			t.Fatalf("%s written %q read back as %q, %v", e, InternationalFormat(e), back, err)
		}
	})
}
