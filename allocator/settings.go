package allocator

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Tracking says which visitors of a pool get a tracking number.
type Tracking string

const (
	// TrackAll gives every visitor a number.
	TrackAll Tracking = "all"
	// TrackGCLID gives a number only to visitors who clicked a Google ad
	// (a gclid, or its iOS forms gbraid and wbraid); others see the
	// business number.
	TrackGCLID Tracking = "gclid"
)

// Overflow says what a pool with no free number does for a new visitor.
type Overflow string

const (
	// OverflowRecycle takes the number of the least recently seen live
	// visit, which is displaced.
	OverflowRecycle Overflow = "recycle"
	// OverflowNone gives no number: the visitor sees the business number.
	OverflowNone Overflow = "none"
)

// Allocation says which free number a new visitor gets.
type Allocation string

const (
	// AllocateLRU gives the number that has been free the longest, so a
	// late caller most likely still reaches the visit that saw it.
	AllocateLRU Allocation = "lru"
	// AllocateRandom is for comparison: a random free number, as many
	// home-grown trackers do; LRU keeps late callers attributable. The
	// choice comes from the request (a hash of the visit id), never from a
	// random source, so every replica makes the same one.
	AllocateRandom Allocation = "random"
)

// Limits on a pool's settings.
const (
	MinPoolSize          = 4
	MaxPoolSize          = 50
	MaxForwardNumbers    = 5
	MinRings             = 1
	MaxRings             = 10
	MaxNameLen           = 100
	MinIdleTimeout       = 90 * time.Second // the snippet heartbeats every 60 s
	MaxIdleTimeout       = 24 * time.Hour
	MinAttributionWindow = time.Minute
	MaxAttributionWindow = 7 * 24 * time.Hour
	MaxIDLen             = 64
	MaxDisplaceAfter     = MaxIdleTimeout
	MaxVisitsPerMinute   = 100_000
	MaxVisitBurst        = 100_000
	MaxAllowedOrigins    = 20
	MaxOriginLen         = 255
	MinLeadDuration      = time.Second
	MaxLeadDuration      = 2 * time.Hour
)

// Defaults for the settings a marketer may leave out.
const (
	DefaultRings             = 5 // 30 s, Twilio's own default dial timeout
	DefaultIdleTimeout       = 180 * time.Second
	DefaultAttributionWindow = 30 * time.Minute
	DefaultOverflow          = OverflowRecycle
	DefaultTracking          = TrackAll
	DefaultAllocation        = AllocateLRU
	// DefaultDisplaceAfter is two missed heartbeats (the snippet beats
	// every 60 s): a visitor still on the page is seen at most a minute
	// ago, so a full pool recycles only numbers whose visitor has most
	// likely left, and a burst of new visits cannot take a number from
	// someone reading the page.
	DefaultDisplaceAfter = 2 * time.Minute
	// DefaultLeadMinDuration is how long an answered call from a new
	// caller must last to be a lead by the rule: a minute, past wrong
	// numbers and hang-ups.
	DefaultLeadMinDuration = time.Minute
)

// Settings are what a marketer chooses for a pool.
type Settings struct {
	Name     string
	Tracking Tracking
	Size     int
	// Country is where the pool's website and numbers are (ISO 3166: US,
	// CA, GB, AU, DE...): how the swap target and forwarding numbers are
	// read, and where numbers are bought.
	Country string
	// AreaCode is where bought numbers are preferred: a 3-digit area code
	// in North America, elsewhere the area code as the country writes it
	// ("020" or "20" for London, "0161" for Manchester); empty means near
	// the business number.
	AreaCode string
	// SwapTarget is the business number exactly as the website shows it.
	SwapTarget string
	// ForwardTo lists the numbers a call is forwarded to, tried in order.
	ForwardTo         []string
	Rings             int
	Overflow          Overflow
	IdleTimeout       time.Duration
	AttributionWindow time.Duration
	// Whisper tells the agent where the caller came from before connecting.
	Whisper bool
	// Allocation picks among the free numbers; LRU unless comparing.
	Allocation Allocation
	// DisplaceAfter protects a holder from being displaced by a new visit
	// (overflow recycle) until its last heartbeat is at least this old; a
	// full pool with no such holder gives the newcomer no number. Zero lets
	// a new visit displace any holder.
	DisplaceAfter time.Duration
	// VisitsPerMinute and VisitBurst are the pool's budget of new visits
	// that get a number: VisitBurst at once, refilled at VisitsPerMinute.
	// Beyond it a new visit gets no number (OverBudget). Zero means
	// automatic (Budget).
	VisitsPerMinute int
	VisitBurst      int
	// AllowedOrigins lists the websites (origins: "https://shop.example")
	// whose pages may start and keep the pool's visits; empty, any may.
	// The node that takes a visit checks it (AllowsOrigin, AllowsPage).
	AllowedOrigins []string
	// The conversion rule: with LeadRule on, an answered call of at least
	// LeadMinDuration from a first-time caller is a lead worth LeadValue,
	// unless a person marks it otherwise.
	LeadRule        bool
	LeadMinDuration time.Duration
	LeadValue       Money
	// How calls are answered beyond forwarding (answering.go), and the
	// bounds the leader sizes the pool within.
	Voicemail Voicemail
	Hours     Hours
	Recording CallRecording
	Autoscale Autoscale
}

// owned returns s with lists of its own, so that the caller cannot change
// them later; an empty list of origins is nil, as a snapshot gives it back.
func (s Settings) owned() Settings {
	s.ForwardTo = slices.Clone(s.ForwardTo)
	s.AllowedOrigins = slices.Clone(s.AllowedOrigins)
	if len(s.AllowedOrigins) == 0 {
		s.AllowedOrigins = nil
	}
	s.Hours = s.Hours.owned()
	return s
}

// CanonicalOrigin returns a website's origin as browsers send it in the
// Origin header, scheme://host[:port], lower case and without the default
// port, from an origin or a URL with nothing after its host but "/"; or an
// error saying what is wrong with it.
func CanonicalOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("%q is not a website's origin such as https://shop.example", s)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("%q has more than a scheme and a host; write it as https://shop.example", s)
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https" {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return u.Scheme + "://" + host, nil
}

// AllowsOrigin reports whether a browser's request with this Origin header
// may start or keep one of the pool's visits: always if the pool lists no
// origins, else only from one it lists.
func (s *Settings) AllowsOrigin(origin string) bool {
	return len(s.AllowedOrigins) == 0 || slices.Contains(s.AllowedOrigins, strings.ToLower(origin))
}

// AllowsPage reports whether a visit may start on the page at pageURL:
// always if the pool lists no origins, else only on a page of one it lists.
func (s *Settings) AllowsPage(pageURL string) bool {
	if len(s.AllowedOrigins) == 0 {
		return true
	}
	u, err := url.Parse(pageURL)
	if err != nil {
		return false
	}
	origin, err := CanonicalOrigin(u.Scheme + "://" + u.Host)
	return err == nil && slices.Contains(s.AllowedOrigins, origin)
}

// Budget returns the pool's budget of new visits: how many a minute, and
// how many at once. Left automatic, it is twice the pool's size a minute
// and its size at once. A pool holds each number for at least the idle
// timeout (90 s or more) after its visitor's last heartbeat, so a pool sized
// for its site takes at most about 2/3 of its size in new visits a minute
// before it must recycle: a site three times past its pool's capacity does
// not reach the budget, and a visit it refuses would have displaced a
// visitor seen a minute before anyway. A script that starts visits as fast
// as it can reaches it within a second, and then takes one number every
// 30/size seconds instead of the whole pool.
func (s *Settings) Budget() (perMinute, burst int) {
	perMinute, burst = s.VisitsPerMinute, s.VisitBurst
	if perMinute == 0 {
		perMinute = 2 * s.Size
	}
	if burst == 0 {
		burst = s.Size
	}
	return perMinute, burst
}

// WithDefaults fills the settings left at their zero value with defaults.
// Whisper has no zero-value default; callers decide it explicitly. A
// DisplaceAfter of zero is a setting of its own (displace anyone): set it
// after WithDefaults, as Patched does.
func (s Settings) WithDefaults() Settings {
	if s.Tracking == "" {
		s.Tracking = DefaultTracking
	}
	if s.Rings == 0 {
		s.Rings = DefaultRings
	}
	if s.Overflow == "" {
		s.Overflow = DefaultOverflow
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = DefaultIdleTimeout
	}
	if s.AttributionWindow == 0 {
		s.AttributionWindow = DefaultAttributionWindow
	}
	if s.Allocation == "" {
		s.Allocation = DefaultAllocation
	}
	if s.DisplaceAfter == 0 {
		s.DisplaceAfter = DefaultDisplaceAfter
	}
	if s.LeadMinDuration == 0 {
		s.LeadMinDuration = DefaultLeadMinDuration
	}
	if s.Country == "" {
		s.Country = DefaultCountry
	}
	return s
}

// ValidationError says which setting is wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks every setting and returns the first problem found.
func (s *Settings) Validate() error {
	name := strings.TrimSpace(s.Name)
	switch {
	case name == "":
		return invalid("name", "must not be empty")
	case name != s.Name:
		return invalid("name", "must not start or end with spaces")
	case !utf8.ValidString(s.Name):
		return invalid("name", "must be valid UTF-8")
	case utf8.RuneCountInString(s.Name) > MaxNameLen:
		return invalid("name", "must be at most %d characters", MaxNameLen)
	}
	if s.Tracking != TrackAll && s.Tracking != TrackGCLID {
		return invalid("tracking", "must be %q or %q, got %q", TrackAll, TrackGCLID, s.Tracking)
	}
	if s.Size < MinPoolSize || s.Size > MaxPoolSize {
		return invalid("size", "must be between %d and %d, got %d", MinPoolSize, MaxPoolSize, s.Size)
	}
	switch nanp := s.Country == "US" || s.Country == "CA"; {
	case s.AreaCode == "":
	case nanp && !ValidAreaCode(s.AreaCode):
		return invalid("area_code", "must be a 3-digit North American area code, got %q", s.AreaCode)
	case !nanp && (len(s.AreaCode) > 6 || Digits(s.AreaCode) != s.AreaCode):
		return invalid("area_code", "must be the digits of an area code of %s, such as 020 for London, got %q", s.Country, s.AreaCode)
	}
	if s.SwapTarget == "" {
		return invalid("swap_target", "must be the business number as the website shows it")
	}
	if len(s.SwapTarget) > 40 {
		return invalid("swap_target", "must be at most 40 characters")
	}
	if strings.ContainsAny(s.SwapTarget, "\n\r\t<>\"") || len(Digits(s.SwapTarget)) < 4 {
		return invalid("swap_target", "%q is not a phone number", s.SwapTarget)
	}
	if !validCountryShape(s.Country) {
		return invalid("country", "must be an ISO 3166 country code of two capital letters, got %q", s.Country)
	}
	if len(s.ForwardTo) < 1 || len(s.ForwardTo) > MaxForwardNumbers {
		return invalid("forward_to", "must list 1 to %d numbers, got %d", MaxForwardNumbers, len(s.ForwardTo))
	}
	for i, f := range s.ForwardTo {
		if !ValidE164(f) {
			return invalid("forward_to", "%q is not an E.164 number such as +14155550100", f)
		}
		for _, g := range s.ForwardTo[:i] {
			if f == g {
				return invalid("forward_to", "%s is listed twice", f)
			}
		}
	}
	if s.Rings < MinRings || s.Rings > MaxRings {
		return invalid("rings", "must be between %d and %d, got %d", MinRings, MaxRings, s.Rings)
	}
	if s.Overflow != OverflowRecycle && s.Overflow != OverflowNone {
		return invalid("overflow", "must be %q or %q, got %q", OverflowRecycle, OverflowNone, s.Overflow)
	}
	if s.IdleTimeout < MinIdleTimeout || s.IdleTimeout > MaxIdleTimeout || s.IdleTimeout%time.Second != 0 {
		return invalid("idle_timeout_s", "must be whole seconds between %d and %d, got %v",
			int(MinIdleTimeout/time.Second), int(MaxIdleTimeout/time.Second), s.IdleTimeout)
	}
	if s.AttributionWindow < MinAttributionWindow || s.AttributionWindow > MaxAttributionWindow || s.AttributionWindow%time.Second != 0 {
		return invalid("attribution_window_s", "must be whole seconds between %d and %d, got %v",
			int(MinAttributionWindow/time.Second), int(MaxAttributionWindow/time.Second), s.AttributionWindow)
	}
	if s.Allocation != AllocateLRU && s.Allocation != AllocateRandom {
		return invalid("allocation", "must be %q or %q, got %q", AllocateLRU, AllocateRandom, s.Allocation)
	}
	if s.DisplaceAfter < 0 || s.DisplaceAfter > MaxDisplaceAfter || s.DisplaceAfter%time.Second != 0 {
		return invalid("displace_after_s", "must be whole seconds between 0 and %d, got %v",
			int(MaxDisplaceAfter/time.Second), s.DisplaceAfter)
	}
	if s.VisitsPerMinute < 0 || s.VisitsPerMinute > MaxVisitsPerMinute {
		return invalid("visits_per_minute", "must be between 1 and %d, or 0 for automatic (twice the size), got %d",
			MaxVisitsPerMinute, s.VisitsPerMinute)
	}
	if s.VisitBurst < 0 || s.VisitBurst > MaxVisitBurst {
		return invalid("visit_burst", "must be between 1 and %d, or 0 for automatic (the size), got %d",
			MaxVisitBurst, s.VisitBurst)
	}
	if len(s.AllowedOrigins) > MaxAllowedOrigins {
		return invalid("allowed_origins", "must list at most %d origins, got %d", MaxAllowedOrigins, len(s.AllowedOrigins))
	}
	for i, o := range s.AllowedOrigins {
		c, err := CanonicalOrigin(o)
		switch {
		case len(o) > MaxOriginLen:
			return invalid("allowed_origins", "an origin must be at most %d characters", MaxOriginLen)
		case err != nil:
			return invalid("allowed_origins", "%v", err)
		case c != o:
			return invalid("allowed_origins", "%q must be written as browsers send it: %s", o, c)
		case slices.Contains(s.AllowedOrigins[:i], o):
			return invalid("allowed_origins", "%s is listed twice", o)
		}
	}
	if s.LeadMinDuration < MinLeadDuration || s.LeadMinDuration > MaxLeadDuration || s.LeadMinDuration%time.Second != 0 {
		return invalid("lead_min_duration_s", "must be whole seconds between %d and %d, got %v",
			int(MinLeadDuration/time.Second), int(MaxLeadDuration/time.Second), s.LeadMinDuration)
	}
	if s.LeadValue < 0 || s.LeadValue > MaxMoney {
		return invalid("lead_value", "must be between 0 and %s, got %s", MaxMoney, s.LeadValue)
	}
	if err := s.Voicemail.validate(); err != nil {
		return err
	}
	// A pool on the cluster's voicemail counts on it: outside hours its
	// calls get that greeting, even while the default is off.
	if err := s.Hours.validate(s.Voicemail.On || s.Voicemail.UseDefault); err != nil {
		return err
	}
	if err := s.Recording.validate(); err != nil {
		return err
	}
	return s.Autoscale.validate(s.Size)
}

// Patch changes some of a pool's settings; nil fields stay as they are.
type Patch struct {
	Name              *string
	Tracking          *Tracking
	Size              *int
	AreaCode          *string
	SwapTarget        *string
	ForwardTo         []string // nil keeps the list
	Rings             *int
	Overflow          *Overflow
	IdleTimeout       *time.Duration
	AttributionWindow *time.Duration
	Whisper           *bool
	Allocation        *Allocation
	DisplaceAfter     *time.Duration
	VisitsPerMinute   *int
	VisitBurst        *int
	AllowedOrigins    []string // nil keeps the list; empty clears it
	LeadRule          *bool
	LeadMinDuration   *time.Duration
	LeadValue         *Money
	Country           *string
	Voicemail         *Voicemail
	Hours             *Hours
	Recording         *CallRecording
	Autoscale         *Autoscale
}

// Patched returns s with the fields the patch sets replaced.
func (s Settings) Patched(p *Patch) Settings {
	if p.Name != nil {
		s.Name = *p.Name
	}
	if p.Tracking != nil {
		s.Tracking = *p.Tracking
	}
	if p.Size != nil {
		s.Size = *p.Size
	}
	if p.AreaCode != nil {
		s.AreaCode = *p.AreaCode
	}
	if p.SwapTarget != nil {
		s.SwapTarget = *p.SwapTarget
	}
	if p.ForwardTo != nil {
		s.ForwardTo = p.ForwardTo
	}
	if p.Rings != nil {
		s.Rings = *p.Rings
	}
	if p.Overflow != nil {
		s.Overflow = *p.Overflow
	}
	if p.IdleTimeout != nil {
		s.IdleTimeout = *p.IdleTimeout
	}
	if p.AttributionWindow != nil {
		s.AttributionWindow = *p.AttributionWindow
	}
	if p.Whisper != nil {
		s.Whisper = *p.Whisper
	}
	if p.Allocation != nil {
		s.Allocation = *p.Allocation
	}
	if p.DisplaceAfter != nil {
		s.DisplaceAfter = *p.DisplaceAfter
	}
	if p.VisitsPerMinute != nil {
		s.VisitsPerMinute = *p.VisitsPerMinute
	}
	if p.VisitBurst != nil {
		s.VisitBurst = *p.VisitBurst
	}
	if p.AllowedOrigins != nil {
		s.AllowedOrigins = p.AllowedOrigins
	}
	if p.LeadRule != nil {
		s.LeadRule = *p.LeadRule
	}
	if p.LeadMinDuration != nil {
		s.LeadMinDuration = *p.LeadMinDuration
	}
	if p.LeadValue != nil {
		s.LeadValue = *p.LeadValue
	}
	if p.Country != nil {
		s.Country = *p.Country
	}
	if p.Voicemail != nil {
		s.Voicemail = *p.Voicemail
	}
	if p.Hours != nil {
		s.Hours = *p.Hours
	}
	if p.Recording != nil {
		s.Recording = *p.Recording
	}
	if p.Autoscale != nil {
		s.Autoscale = *p.Autoscale
	}
	return s
}

// validID reports whether s can be a pool id or key: 1 to 64 letters,
// digits, '-' or '_'.
func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
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
