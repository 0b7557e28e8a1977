package allocator

import (
	"errors"
	"testing"
)

// phoneLayouts are business numbers as websites in each country write
// them (fictional ranges: Ofcom's drama numbers, ACMA's, North America's
// 555-01xx), with their E.164 form.
var phoneLayouts = []struct{ written, country, e164 string }{
	{"(415) 555-0100", "US", "+14155550100"},
	{"415-555-0100", "US", "+14155550100"},
	{"415.555.0100", "US", "+14155550100"},
	{"+1 415 555 0100", "US", "+14155550100"},
	{"1-415-555-0100", "US", "+14155550100"},
	{"(416) 555-0100", "CA", "+14165550100"},
	{"416-555-0100", "CA", "+14165550100"},
	{"416.555.0100", "CA", "+14165550100"},
	{"+1 (416) 555-0100", "CA", "+14165550100"},
	{"1 416 555 0100", "CA", "+14165550100"},
	{"020 7946 0018", "GB", "+442079460018"},
	{"+44 20 7946 0018", "GB", "+442079460018"},
	{"+44 (0)20 7946 0018", "GB", "+442079460018"},
	{"(020) 7946 0018", "GB", "+442079460018"},
	{"020-7946-0018", "GB", "+442079460018"},
	{"0044 20 7946 0018", "GB", "+442079460018"},
	{"(02) 9374 4000", "AU", "+61293744000"},
	{"02 9374 4000", "AU", "+61293744000"},
	{"+61 2 9374 4000", "AU", "+61293744000"},
	{"+61 (0)2 9374 4000", "AU", "+61293744000"},
	{"02-9374-4000", "AU", "+61293744000"},
	{"030 1234567", "DE", "+49301234567"},
	{"030/1234567", "DE", "+49301234567"},
	{"+49 30 1234567", "DE", "+49301234567"},
	{"+49 (0)30 1234567", "DE", "+49301234567"},
	{"(030) 123 45 67", "DE", "+49301234567"},
}

func TestABusinessNumberIsReadInEveryLayoutOfItsCountry(t *testing.T) {
	for _, c := range phoneLayouts {
		e, err := SwapTargetE164(c.written, c.country)
		if err != nil || e != c.e164 {
			t.Errorf("%q in %s: %q, %v; want %s", c.written, c.country, e, err, c.e164)
		}
	}
	// Pools made before they had a country are North American.
	if e, err := SwapTargetE164("(415) 555-0100", ""); err != nil || e != "+14155550100" {
		t.Errorf("no country: %q %v", e, err)
	}
}

func TestNumbersAreWrittenAsTheirCountryWritesThem(t *testing.T) {
	for e164, want := range map[string]string{
		"+14155550100": "(415) 555-0100", "+442079460018": "020 7946 0018", "+61293744000": "(02) 9374 4000",
		"+49301234567": "030 1234567", "+12": "+12",
	} {
		if got := NationalFormat(e164); got != want {
			t.Errorf("%s: %q, want %q", e164, got, want)
		}
	}
	if got := InternationalFormat("+442079460018"); got != "+44 20 7946 0018" {
		t.Errorf("international: %q", got)
	}
}

func TestBadNumbersAndCountriesAreRefusedNamingTheField(t *testing.T) {
	base := Settings{Name: "p", Size: 4, SwapTarget: "020 7946 0018", Country: "GB", ForwardTo: []string{"+442079460999"}}.WithDefaults()
	for _, tc := range []struct {
		what  string
		edit  func(*Settings)
		field string
	}{
		{"a US number on a British site", func(s *Settings) { s.SwapTarget = "(415) 555-0100" }, "swap_target"},
		{"a German number, written internationally, on a British site", func(s *Settings) { s.SwapTarget = "+49 30 1234567" }, "swap_target"},
		{"too few digits for the country", func(s *Settings) { s.SwapTarget = "020 7946 001" }, "swap_target"},
		{"a country that does not exist", func(s *Settings) { s.Country = "XX" }, "country"},
		{"a country in lower case", func(s *Settings) { s.Country = "gb" }, "country"},
		{"a forwarding number of no country", func(s *Settings) { s.ForwardTo = []string{"+999 123 4567"} }, "forward_to"},
		{"a forwarding number that is not one", func(s *Settings) { s.ForwardTo = []string{"020 7946"} }, "forward_to"},
		{"an area code with letters", func(s *Settings) { s.AreaCode = "SW1" }, "area_code"},
	} {
		st := base
		st.ForwardTo = append([]string(nil), base.ForwardTo...)
		tc.edit(&st)
		err := st.CheckNumbers()
		if err == nil {
			err = st.Validate()
		}
		var v *ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%s: %v, want an error naming %s", tc.what, err, tc.field)
		}
	}
	if err := base.CheckNumbers(); err != nil {
		t.Errorf("good settings: %v", err)
	}
	if got, err := NormalizeForwardTo([]string{"020 7946 0999", "+1 415 555 0100"}, "GB"); err != nil || got[0] != "+442079460999" || got[1] != "+14155550100" {
		t.Errorf("forwarding numbers: %v %v", got, err)
	}
}

func TestAreaDigitsAreTheCountryAndAreaCodes(t *testing.T) {
	for e164, want := range map[string]string{"+442079460018": "4420", "+441614960100": "44161", "+14155550100": "1415", "+61293744000": "612", "+49301234567": "4930"} {
		if got := AreaDigits(e164); got != want {
			t.Errorf("%s: %q, want %q", e164, got, want)
		}
	}
}
