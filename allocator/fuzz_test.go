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

func FuzzSwapTargetE164(f *testing.F) {
	for _, s := range []string{"(415) 555-0100", "415-555-0100", "415.555.0100", "+1 415 555 0100",
		"1-415-555-0100", "+44 20 7946 0958", "555-0100", "", "+", "(015) 555-0100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := SwapTargetE164(s)
		if err != nil {
			return
		}
		if !ValidE164(e) {
			t.Fatalf("%q gave %q, which is not E.164", s, e)
		}
		if Digits(e) != Digits(s) && Digits(e) != "1"+Digits(s) {
			t.Fatalf("%q gave %q with other digits", s, e)
		}
	})
}
