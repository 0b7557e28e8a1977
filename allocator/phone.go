package allocator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ValidE164 reports whether s is a phone number in E.164 form: a plus sign,
// a non-zero country code digit and 8 to 15 digits in all.
func ValidE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Digits returns the decimal digits of s, dropping everything else.
func Digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Phone numbers as people write them are read, checked and formatted with
// libphonenumber (github.com/nyaruka/phonenumbers); dni stores E.164.
// Only the API and the pages call the library, before a write reaches the
// log: its metadata changes from one version to the next, and Apply must
// decide the same on every node, whatever version it runs. Apply checks
// shapes only (ValidE164, a country's two letters).

// DefaultCountry is a pool's country unless it names one: the one whose
// layouts pools had before they had a country.
const DefaultCountry = "US"

// validCountryShape reports whether c looks like an ISO 3166 code: two
// capital letters. KnownCountry says whether it is one.
func validCountryShape(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

// KnownCountry reports whether c is an ISO 3166 country code whose phone
// numbers libphonenumber knows.
func KnownCountry(c string) bool {
	return validCountryShape(c) && phonenumbers.GetCountryCodeForRegion(c) != 0
}

// ParsePhone reads a number written in any layout of country, national
// ("020 7946 0018", "(416) 555-0100") or international ("+44 (0)20 7946
// 0018"), and returns its E.164 form; one that is not a valid number is
// an error saying so.
func ParsePhone(s, country string) (string, error) {
	if strings.ContainsAny(s, "\n\r\t<>\"") || len(s) > 64 {
		return "", fmt.Errorf("%q is not a phone number", s)
	}
	n, err := phonenumbers.Parse(s, country)
	if err != nil {
		return "", fmt.Errorf("%q is not a phone number of %s", s, country)
	}
	if !phonenumbers.IsValidNumber(n) {
		if phonenumbers.GetRegionCodeForNumber(n) == "ZZ" && phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode())) == "ZZ" {
			return "", fmt.Errorf("%q: +%d is not a country's calling code", s, n.GetCountryCode())
		}
		return "", fmt.Errorf("%q is not a valid phone number of %s", s, regionOf(n, country))
	}
	e := phonenumbers.Format(n, phonenumbers.E164)
	if !ValidE164(e) {
		// A short number the library knows (Germany has some of 7 digits
		// with the country code) that dni's stored form does not take.
		return "", fmt.Errorf("%q is shorter than a number dni can call", s)
	}
	return e, nil
}

// regionOf names the country a parsed number belongs to, or the one it
// was read in.
func regionOf(n *phonenumbers.PhoneNumber, country string) string {
	if r := phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode())); r != "ZZ" {
		return r
	}
	return country
}

// SwapTargetE164 reads a business number as a website of country shows
// it, in any of its layouts, and returns its E.164 form.
//
// The text may hold words around the number ("Call 415.555.0100 today"):
// the longest run of digits and the marks numbers are written with is
// read then.
func SwapTargetE164(s, country string) (string, error) {
	if country == "" {
		country = DefaultCountry
	}
	e, err := ParsePhone(s, country)
	if err != nil {
		if run := numberRun(s); run != "" && run != strings.TrimSpace(s) {
			if e, err2 := ParsePhone(run, country); err2 == nil {
				return e, nil
			}
		}
	}
	return e, err
}

// numberRun is the longest run of s that a phone number could be written
// as: digits, and the spaces and marks between them.
func numberRun(s string) string {
	best, start := "", -1
	for i := 0; i <= len(s); i++ {
		in := i < len(s) && strings.IndexByte("0123456789+()-./ ", s[i]) >= 0
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			if run := strings.TrimSpace(s[start:i]); len(Digits(run)) > len(Digits(best)) {
				best = run
			}
			start = -1
		}
	}
	return best
}

// NationalFormat writes an E.164 number as its own country writes it:
// "(415) 555-0123", "020 7946 0018". A number the library cannot read
// stays as it is.
func NationalFormat(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.NATIONAL)
}

// CountryOf is the country (ISO 3166) an E.164 number belongs to, or
// "ZZ" when the library cannot tell.
func CountryOf(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "ZZ"
	}
	return phonenumbers.GetRegionCodeForNumber(n)
}

// AreaDigits are a number's country code and area code (national
// destination code), the digits numbers "near" it share: "4420" for
// +442079460018, "1415" for +14155550100; its country code alone when it
// has no area code.
func AreaDigits(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	cc := strconv.Itoa(int(n.GetCountryCode()))
	nsn := phonenumbers.GetNationalSignificantNumber(n)
	return cc + nsn[:min(len(nsn), phonenumbers.GetLengthOfNationalDestinationCode(n))]
}

// CallingCode is a country's calling code ("44" for GB), or "".
func CallingCode(country string) string {
	if cc := phonenumbers.GetCountryCodeForRegion(country); cc != 0 {
		return strconv.Itoa(cc)
	}
	return ""
}

// TrunkPrefix is what a country dials before an area code within the
// country ("0" in GB, AU and DE; "1" in North America), or "".
func TrunkPrefix(country string) string { return phonenumbers.GetNddPrefixForRegion(country, true) }

// PhoneParts splits an E.164 number as the snippet finds numbers: its
// national significant number ("2079460018"), its country code ("44")
// and the trunk prefix its country dials before it ("0"; "" for none).
func PhoneParts(e164 string) (national, countryCode, trunk string, ok bool) {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "", "", "", false
	}
	return phonenumbers.GetNationalSignificantNumber(n), strconv.Itoa(int(n.GetCountryCode())),
		TrunkPrefix(phonenumbers.GetRegionCodeForNumber(n)), true
}

// InternationalFormat writes an E.164 number for any reader: "+44 20
// 7946 0018".
func InternationalFormat(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// CheckNumbers checks the settings' phone numbers with the library: the
// country is one, the swap target is a valid number of it, and every
// forwarding number is valid (of any country). The API and the pages call
// it beside Validate; Apply does not (see above).
func (s *Settings) CheckNumbers() error {
	if !KnownCountry(s.Country) {
		return invalid("country", "%q is not an ISO 3166 country code such as US, CA, GB, AU or DE", s.Country)
	}
	e, err := SwapTargetE164(s.SwapTarget, s.Country)
	if err != nil {
		return invalid("swap_target", "%v: write the business number as the website shows it", err)
	}
	if c := CountryOf(e); c != s.Country {
		return invalid("swap_target", "%q is a number of %s, and the pool's website is in %s", s.SwapTarget, c, s.Country)
	}
	for _, f := range s.ForwardTo {
		if _, err := ParsePhone(f, s.Country); err != nil {
			return invalid("forward_to", "%v", err)
		}
	}
	return nil
}

// NormalizeForwardTo turns forwarding numbers written in any layout of
// country (or internationally) into E.164, naming the field on a mistake.
func NormalizeForwardTo(numbers []string, country string) ([]string, error) {
	out := make([]string, len(numbers))
	for i, f := range numbers {
		e, err := ParsePhone(strings.TrimSpace(f), country)
		if err != nil {
			return nil, invalid("forward_to", "%v", err)
		}
		out[i] = e
	}
	return out, nil
}

// ValidAreaCode reports whether s is a North American area code: three
// digits, the first 2 to 9.
func ValidAreaCode(s string) bool {
	return len(s) == 3 && s[0] >= '2' && s[0] <= '9' &&
		s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}
