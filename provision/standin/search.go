package standin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// availableNumber is a number for sale as Twilio's search writes it.
// Latitude and longitude are left out when unknown: twilio-go cannot
// decode them empty.
type availableNumber struct {
	FriendlyName        string       `json:"friendly_name"`
	PhoneNumber         string       `json:"phone_number"`
	Lata                *string      `json:"lata"`
	Locality            *string      `json:"locality"`
	RateCenter          *string      `json:"rate_center"`
	Latitude            string       `json:"latitude,omitempty"`
	Longitude           string       `json:"longitude,omitempty"`
	Region              *string      `json:"region"`
	PostalCode          *string      `json:"postal_code"`
	IsoCountry          string       `json:"iso_country"`
	AddressRequirements string       `json:"address_requirements"`
	Beta                bool         `json:"beta"`
	Capabilities        searchedCaps `json:"capabilities"`
}

type searchedCaps struct {
	Voice bool `json:"voice"`
	SMS   bool `json:"SMS"`
	MMS   bool `json:"MMS"`
}

type searchAnswer struct {
	AvailablePhoneNumbers []availableNumber `json:"available_phone_numbers"`
	page
}

// maxDistance is the widest NearNumber search Twilio allows, in miles.
const maxDistance = 500

// search lists numbers for sale. Twilio answers a search that finds
// nothing with an empty list, not an error.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	country := r.PathValue("Country")
	var found []string
	var size int
	switch {
	case country == "US" || country == "CA":
		var codes []string
		var e *Error
		codes, size, e = searchScope(r.Form)
		if e != nil {
			writeError(w, e)
			return
		}
		// North America's area codes, of the country searched only (a new
		// list: codes may be the shared knownAreaCodes).
		var ofCountry []string
		for _, ac := range codes {
			if canadianAreaCodes[ac] == (country == "CA") {
				ofCountry = append(ofCountry, ac)
			}
		}
		found = s.forSale(ofCountry, size)
	case abroad[country] != nil:
		var e *Error
		if size, e = pageSize(r.Form.Get("PageSize")); e != nil {
			writeError(w, e)
			return
		}
		if !s.noLocal(country) {
			found = s.searchAbroad(country, r.Form, size)
		}
	default:
		writeError(w, errNotFound(r.URL.Path))
		return
	}
	writeSearch(w, r, found, size)
}

// writeSearch answers a search with the numbers found, one page.
func writeSearch(w http.ResponseWriter, r *http.Request, found []string, size int) {
	answer := searchAnswer{AvailablePhoneNumbers: make([]availableNumber, 0, len(found))}
	for _, e164 := range found {
		answer.AvailablePhoneNumbers = append(answer.AvailablePhoneNumbers, available(e164))
	}
	uri := r.URL.RequestURI()
	answer.page = page{URI: uri, FirstPageURI: uri, PageSize: size, End: max(len(found)-1, 0)}
	writeJSON(w, http.StatusOK, answer)
}

// searchScope reads a search: the area codes to look in, nearest first,
// and how many numbers to return.
func searchScope(q url.Values) ([]string, int, *Error) {
	size, e := pageSize(q.Get("PageSize"))
	if e != nil {
		return nil, 0, e
	}
	ac := q.Get("AreaCode")
	if ac != "" && !validAreaCode(ac) {
		return nil, 0, apiError(http.StatusBadRequest, codeBadAreaCode, "AreaCode %q is not a valid North American area code", ac)
	}
	var codes []string
	switch nearNumber := q.Get("NearNumber"); {
	case nearNumber != "":
		e164 := nanp(nearNumber)
		if e164 == "" {
			return nil, 0, apiError(http.StatusBadRequest, codeBadPhoneNumber, "NearNumber %q is not a North American number", nearNumber)
		}
		miles := 25
		if d := q.Get("Distance"); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 || n > maxDistance {
				return nil, 0, apiError(http.StatusBadRequest, codeInvalidParameter, "Distance %q is not between 0 and %d", d, maxDistance)
			}
			miles = n
		}
		for _, c := range near(e164[2:5], float64(miles)) {
			if ac == "" || c == ac {
				codes = append(codes, c)
			}
		}
	case ac != "":
		codes = []string{ac}
	default:
		codes = knownAreaCodes
	}
	if region := q.Get("InRegion"); region != "" {
		var in []string
		for _, c := range codes {
			if strings.EqualFold(places[c].state, region) {
				in = append(in, c)
			}
		}
		codes = in
	}
	return codes, size, nil
}

// nanp returns a North American number, written +1NXXNXXXXXX or with its
// 10 or 11 digits alone, in E.164 form, or "".
func nanp(s string) string {
	d := strings.TrimPrefix(s, "+")
	if len(d) == 10 {
		d = "1" + d
	}
	if len(d) != 11 || d[0] != '1' || !validAreaCode(d[1:4]) {
		return ""
	}
	for i := 4; i < 11; i++ {
		if !isDigit(d[i]) {
			return ""
		}
	}
	return "+" + d
}

// forSale returns up to limit numbers for sale in the area codes, in order.
func (s *Server) forSale(codes []string, limit int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ac := range codes {
		if s.isExhausted(ac) {
			continue
		}
		for line := lastLine; line >= firstLine && len(out) < limit; line-- {
			if e := inventoryNumber(ac, line); s.held.forSale(e) {
				out = append(out, e)
			}
		}
		if len(out) >= limit {
			break
		}
	}
	return out
}

func available(e164 string) availableNumber {
	a := availableNumber{
		FriendlyName: formatNANP(e164), PhoneNumber: e164, IsoCountry: countryOf(e164),
		AddressRequirements: "none", Capabilities: searchedCaps{Voice: true, SMS: true, MMS: true},
	}
	if regulated[a.IsoCountry] != nil {
		a.AddressRequirements = "any"
	}
	if r, _, ok := abroadRangeOf(e164); ok {
		a.Locality, a.Region = &r.locality, &r.region
		return a
	}
	if p, ok := places[e164[2:5]]; ok {
		rateCenter := strings.ToUpper(p.city)
		a.Locality, a.Region, a.RateCenter = &p.city, &p.state, &rateCenter
		a.Latitude = strconv.FormatFloat(p.lat, 'f', 6, 64)
		a.Longitude = strconv.FormatFloat(p.lon, 'f', 6, 64)
	}
	return a
}
