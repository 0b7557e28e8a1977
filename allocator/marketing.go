package allocator

import (
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/currency"
)

// Marketing is the cluster's settings for what calls are worth and how
// conversions are reported to the ad platforms.
type Marketing struct {
	// Currency is the ISO 4217 code of every value and spend: one per
	// cluster, so that sums and ROAS mean something.
	Currency string
	// GoogleConversion and MicrosoftConversion name the conversion
	// actions (goals) the offline conversion files report to, exactly as
	// they are named in Google Ads and Microsoft Advertising.
	GoogleConversion    string
	MicrosoftConversion string
}

// DefaultMarketing is what a cluster starts with.
var DefaultMarketing = Marketing{Currency: "USD", GoogleConversion: "Phone call", MicrosoftConversion: "Phone call"}

// MaxConversionNameLen bounds a conversion action's name; both platforms
// allow 100 characters.
const MaxConversionNameLen = 100

// SetMarketing changes the cluster's marketing settings.
type SetMarketing struct {
	Marketing
	At time.Time
}

// Marketing returns the cluster's marketing settings. Safe for any
// goroutine.
func (s *State) Marketing() Marketing {
	if m := s.marketing.Load(); m != nil {
		return *m
	}
	return DefaultMarketing
}

// Validate checks the settings, naming the field at fault.
func (m *Marketing) Validate() error {
	if len(m.Currency) != 3 || strings.ToUpper(m.Currency) != m.Currency {
		return invalid("currency", "must be an ISO 4217 code in capitals, such as USD or EUR; got %q", m.Currency)
	}
	if _, err := currency.ParseISO(m.Currency); err != nil {
		return invalid("currency", "%q is not an ISO 4217 currency code", m.Currency)
	}
	for _, f := range []struct{ name, v string }{
		{"google_conversion", m.GoogleConversion}, {"microsoft_conversion", m.MicrosoftConversion},
	} {
		switch {
		case strings.TrimSpace(f.v) == "":
			return invalid(f.name, "must name the conversion action as the ad platform shows it")
		case !utf8.ValidString(f.v) || utf8.RuneCountInString(f.v) > MaxConversionNameLen:
			return invalid(f.name, "must be at most %d characters of UTF-8", MaxConversionNameLen)
		case strings.ContainsAny(f.v, "\r\n\t"):
			return invalid(f.name, "must be one line")
		}
	}
	return nil
}

// SetMarketing replaces the marketing settings. The currency may change
// only while nothing holds a value: a call's value and a day's spend are
// amounts in the currency they were entered in.
func (s *State) SetMarketing(c SetMarketing) (Marketing, error) {
	if _, err := stamp(c.At); err != nil {
		return Marketing{}, err
	}
	if err := c.Marketing.Validate(); err != nil {
		return Marketing{}, err
	}
	old := s.Marketing()
	if c.Currency != old.Currency {
		if n := s.valued(); n > 0 {
			return Marketing{}, invalid("currency", "%d calls and days of spend hold amounts in %s; delete them before changing the currency", n, old.Currency)
		}
	}
	m := c.Marketing
	s.marketing.Store(&m)
	return m, nil
}

// valued counts the calls and spend entries that hold an amount.
func (s *State) valued() int {
	n := s.spend.len()
	s.callLog.each(func(e *callEntry) bool {
		if e.cur.Load().Value != 0 {
			n++
		}
		return true
	})
	return n
}
