package standin

import (
	"net/http"
	"strings"
)

// Numbers outside the United States. Canada shares North America's
// numbering: its area codes are in places, with their provinces, and a
// search of one country never lists the other's. Elsewhere the stand-in
// sells numbers in ranges set aside for drama and examples (Ofcom's for
// Britain, ACMA's for Australia), so that no test ever dials a real
// subscriber: a prefix and a line from firstLine to lastLine.

// canadianAreaCodes are the area codes in places that are Canada's.
var canadianAreaCodes = map[string]bool{"416": true, "647": true, "437": true, "604": true, "778": true,
	"514": true, "438": true, "403": true, "613": true}

// abroadRange is a range of numbers for sale outside North America.
type abroadRange struct {
	locality, region string
	prefix           string // E.164, to which the line's three digits are added
}

// abroad lists each country's ranges, its biggest city first.
var abroad = map[string][]abroadRange{
	"GB": { // Ofcom's drama numbers
		{"London", "England", "+442079460"},
		{"Manchester", "England", "+441614960"},
		{"Birmingham", "England", "+441214960"},
	},
	"AU": { // ACMA's fictional numbers
		{"Sydney", "NSW", "+61255500"},
		{"Melbourne", "VIC", "+61355500"},
		{"Brisbane", "QLD", "+61755500"},
	},
	"DE": {
		{"Berlin", "Berlin", "+49301234"},
		{"Munich", "Bavaria", "+49891234"},
	},
}

// mobile lists the ranges of mobile numbers for sale, by country: Ofcom's
// drama mobile numbers (07700 900xxx) for Britain.
var mobile = map[string][]abroadRange{
	"GB": {{"", "", "+447700900"}},
}

// regulated are the countries whose numbers Twilio sells only with a
// regulatory bundle (Germany's local numbers need one), and the refusal
// of a purchase without it.
var regulated = map[string]*Error{
	"DE": {Status: http.StatusBadRequest, Code: codeBundleRequired,
		Message: "Phone Number Requires a Bundle: a Regulatory Bundle approved for DE local numbers must be given (BundleSid) to buy this number"},
}

// countryOf is the country a number of the stand-in's is in, or "".
func countryOf(e164 string) string {
	if strings.HasPrefix(e164, "+1") && len(e164) == 12 {
		if canadianAreaCodes[e164[2:5]] {
			return "CA"
		}
		return "US"
	}
	if _, country, ok := abroadRangeOf(e164); ok {
		return country
	}
	return ""
}

// abroadRangeOf finds the range a number outside North America is in.
func abroadRangeOf(e164 string) (abroadRange, string, bool) {
	if r, country, ok := rangeIn(abroad, e164); ok {
		return r, country, true
	}
	return rangeIn(mobile, e164)
}

func rangeIn(table map[string][]abroadRange, e164 string) (abroadRange, string, bool) {
	for country, ranges := range table {
		for _, r := range ranges {
			if strings.HasPrefix(e164, r.prefix) && len(e164) == len(r.prefix)+3 && inLines(e164[len(r.prefix):]) {
				return r, country, true
			}
		}
	}
	return abroadRange{}, "", false
}

// inLines reports whether three digits are a line from firstLine to lastLine.
func inLines(digits string) bool {
	line := 0
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return false
		}
		line = line*10 + int(digits[i]-'0')
	}
	return firstLine <= line && line <= lastLine
}

// matchesContains applies Twilio's Contains pattern to a number: its
// digits (and * for any one digit) somewhere in the number's.
func matchesContains(e164, pattern string) bool {
	p := strings.TrimPrefix(pattern, "+")
	d := strings.TrimPrefix(e164, "+")
	for i := 0; i+len(p) <= len(d); i++ {
		ok := true
		for j := 0; j < len(p) && ok; j++ {
			ok = p[j] == '*' || p[j] == d[i+j]
		}
		if ok {
			return true
		}
	}
	return false
}

// searchAbroad lists numbers for sale in a country outside North America,
// narrowed by Contains, InRegion and InLocality.
func (s *Server) searchAbroad(country string, q map[string][]string, limit int) []string {
	return s.searchRanges(abroad[country], q, limit)
}

// searchRanges lists the numbers for sale in ranges that the query's
// Contains, InRegion and InLocality keep.
func (s *Server) searchRanges(ranges []abroadRange, q map[string][]string, limit int) []string {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range ranges {
		if region := get("InRegion"); region != "" && !strings.EqualFold(region, r.region) {
			continue
		}
		if locality := get("InLocality"); locality != "" && !strings.EqualFold(locality, r.locality) {
			continue
		}
		for line := lastLine; line >= firstLine && len(out) < limit; line-- {
			e := r.prefix + itoa3(line)
			if s.held.forSale(e) && (get("Contains") == "" || matchesContains(e, get("Contains"))) {
				out = append(out, e)
			}
		}
	}
	return out
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

// searchMobile lists mobile numbers for sale: a country without local
// numbers left sells these.
func (s *Server) searchMobile(w http.ResponseWriter, r *http.Request) {
	country := r.PathValue("Country")
	ranges, ok := mobile[country]
	if !ok {
		writeError(w, errNotFound(r.URL.Path))
		return
	}
	size, e := pageSize(r.Form.Get("PageSize"))
	if e != nil {
		writeError(w, e)
		return
	}
	writeSearch(w, r, s.searchRanges(ranges, r.Form, size), size)
}
