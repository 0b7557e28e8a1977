package web

import "github.com/dni-dev/dni/allocator"

// country is one the pool forms offer: its ISO 3166 code, its name, and a
// business number as its websites write one (a fictional range), which
// the phone fields show as their example.
type country struct {
	Code, Name, Example string
}

// countries are the forms' choice, the United States first: it is the
// default, and the countries whose layouts allocator's tests read. The
// API takes any country; countryChoices keeps a pool's own.
var countries = []country{
	{allocator.DefaultCountry, "United States", "(415) 555-0100"},
	{"CA", "Canada", "(416) 555-0100"},
	{"GB", "United Kingdom", "020 7946 0018"},
	{"AU", "Australia", "(02) 9374 4000"},
	{"DE", "Germany", "030 1234567"},
}

// countryOf is the country with the code; one the forms do not offer is
// named by its code and has no example.
func countryOf(code string) country {
	for _, c := range countries {
		if c.Code == code {
			return c
		}
	}
	return country{Code: code, Name: code}
}

type countryChoice struct {
	country
	Selected bool
}

// countryChoices are the options of a form's country select, the form's
// own selected. A country the API gave the pool is offered too, so that
// saving the edit form keeps it.
func countryChoices(selected string) []countryChoice {
	out := make([]countryChoice, 0, len(countries)+1)
	found := false
	for _, c := range countries {
		out = append(out, countryChoice{country: c, Selected: c.Code == selected})
		found = found || c.Code == selected
	}
	if !found && selected != "" {
		out = append(out, countryChoice{country: countryOf(selected), Selected: true})
	}
	return out
}

// localPhone writes an E.164 number as it is dialled in the pool's
// country: in the national layout for a number of that country ("020 7946
// 0999"), in the international one for a number abroad, whose national
// layout would read as another number there.
func localPhone(country, e164 string) string {
	national := allocator.NationalFormat(e164)
	if e, err := allocator.ParsePhone(national, country); err == nil && e == e164 {
		return national
	}
	return allocator.InternationalFormat(e164)
}
