package allocator

import (
	"strings"
	"unicode/utf8"
)

// Attribution is what a visit tells about where the visitor came from. It
// never changes once the visit starts; calls keep a pointer to it.
type Attribution struct {
	Source   string // utm_source
	Medium   string // utm_medium
	Campaign string // utm_campaign
	Term     string // utm_term
	Content  string // utm_content

	GCLID   string // Google Ads click id
	GBRAID  string // Google Ads click id for iOS app-to-web
	WBRAID  string // Google Ads click id for iOS web-to-app
	FBCLID  string // Meta click id
	MSCLKID string // Microsoft Advertising click id

	Referrer    string
	LandingPage string
	UserAgent   string
}

// Length caps, in bytes, on what a visitor sends. Anything longer is cut at
// a character boundary before it enters the log.
const (
	MaxUTMLen     = 256
	MaxClickIDLen = 256
	MaxURLLen     = 1024
	MaxUALen      = 512
)

// Clamp makes every field valid UTF-8 and no longer than its cap. The node
// that accepts a visit clamps its attribution before proposing it.
func (a *Attribution) Clamp() {
	for _, f := range a.capped() {
		if len(*f.s) > f.max || !utf8.ValidString(*f.s) {
			*f.s = clampString(*f.s, f.max)
		}
	}
}

// clampLengths cuts fields longer than their caps, without checking UTF-8:
// the state machine's cheap guard against a node that did not clamp.
func (a *Attribution) clampLengths() {
	for _, f := range a.capped() {
		if len(*f.s) > f.max {
			*f.s = clampString(*f.s, f.max)
		}
	}
}

type cappedField struct {
	s   *string
	max int
}

func (a *Attribution) capped() [13]cappedField {
	return [...]cappedField{
		{&a.Source, MaxUTMLen}, {&a.Medium, MaxUTMLen}, {&a.Campaign, MaxUTMLen},
		{&a.Term, MaxUTMLen}, {&a.Content, MaxUTMLen},
		{&a.GCLID, MaxClickIDLen}, {&a.GBRAID, MaxClickIDLen}, {&a.WBRAID, MaxClickIDLen},
		{&a.FBCLID, MaxClickIDLen}, {&a.MSCLKID, MaxClickIDLen},
		{&a.Referrer, MaxURLLen}, {&a.LandingPage, MaxURLLen}, {&a.UserAgent, MaxUALen},
	}
}

func clampString(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// MinGoogleClickIDLen is the shortest a Google click id (gclid, gbraid,
// wbraid) may be. Google documents no format, but the ids it puts on ad
// clicks are base64url text of tens of characters to about 150 (a gclid
// such as "Cj0KCQiA..." is usually near 90): 20 refuses what a script makes
// up ("x", "test", "123") and no real id. The longest is what dni keeps of
// any click id, MaxClickIDLen, far above any Google uses.
const MinGoogleClickIDLen = 20

// GoogleClick reports whether the visitor arrived by clicking a Google ad:
// a gclid, gbraid or wbraid that looks like one Google makes (base64url
// characters, A-Z a-z 0-9 - and _, from MinGoogleClickIDLen to
// MaxClickIDLen long).
func (a *Attribution) GoogleClick() bool {
	return googleClickID(a.GCLID) || googleClickID(a.GBRAID) || googleClickID(a.WBRAID)
}

func googleClickID(s string) bool {
	if len(s) < MinGoogleClickIDLen || len(s) > MaxClickIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// QueryParams are the query parameters a landing page URL carries
// attribution in, in the order of Attribution's fields.
var QueryParams = [...]string{
	"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
	"gclid", "gbraid", "wbraid", "fbclid", "msclkid",
}

// QueryParamIndex is a query parameter's place in QueryParams, or -1 for
// a parameter that carries no attribution.
func QueryParamIndex(name string) int {
	for i, p := range QueryParams {
		if p == name {
			return i
		}
	}
	return -1
}

// QueryFieldAt is the field the query parameter QueryParams[i] fills.
func (a *Attribution) QueryFieldAt(i int) *string {
	return [...]*string{
		&a.Source, &a.Medium, &a.Campaign, &a.Term, &a.Content,
		&a.GCLID, &a.GBRAID, &a.WBRAID, &a.FBCLID, &a.MSCLKID,
	}[i]
}

// QueryField is the field a query parameter (utm_source, gclid, ...)
// fills, or nil for a parameter that carries no attribution.
func (a *Attribution) QueryField(name string) *string {
	if i := QueryParamIndex(name); i >= 0 {
		return a.QueryFieldAt(i)
	}
	return nil
}

// PlausibleClickID reports whether s has the shape of an ad platform's
// click id (the base64url characters of Google's gclid, gbraid and wbraid,
// which Microsoft's hexadecimal msclkid also keeps to), long enough not to
// be made up: what the offline conversion files may carry.
func PlausibleClickID(s string) bool { return googleClickID(s) }
