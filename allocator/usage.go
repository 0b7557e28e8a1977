package allocator

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// The pool-size advisor's rules, in one place. A pool is busy enough when
// its busiest hour keeps live visits at or below TargetUtilisation of its
// numbers: any fuller and the pool starts recycling numbers, so visitors
// share them and calls can no longer be told apart.
const (
	// TargetUtilisation is live visits over numbers in service that a pool
	// should stay at or below in its busiest hour: targetNum/targetDen.
	TargetUtilisation = float64(targetNum) / targetDen
	targetNum         = 3
	targetDen         = 4

	// UsageHistory is how far back a pool's usage is kept, and the
	// window Advice judges by.
	UsageHistory = 30 * 24 * time.Hour
	// AdviceMinHours is how many hours with live visits Advice wants to
	// see before it recommends a size other than the current one.
	AdviceMinHours = 24

	usageHours = int(UsageHistory / time.Hour)
	msPerHour  = int64(time.Hour / time.Millisecond)
)

// UsageWindow is a span of usage reported by name, such as "7d".
type UsageWindow struct {
	Name   string
	Length time.Duration
}

// UsageWindows are the windows the API and the metrics report usage over.
var UsageWindows = [...]UsageWindow{{"7d", 7 * 24 * time.Hour}, {"30d", UsageHistory}}

// hot reports whether live visits on active numbers are at or above the
// target utilisation.
func hot(live, active int32) bool {
	return live > 0 && int64(live)*targetDen >= int64(active)*targetNum
}

// usage is a pool's traffic by UTC hour over the last UsageHistory, kept by
// the apply path from the commands' own times, so every replica keeps the
// same. Readers read it beside the writer without a lock: every cell is an
// atomic, and an hour's tag is cleared while the hour is reset.
//
// The ring of hours starts small and grows (up to usageHours) as the hours
// from the first one seen to the latest grow: a cluster has a pool per
// site, most of them quiet.
type usage struct {
	ring atomic.Pointer[[]usageHour] // nil until the pool's first event
	// hotSince is where the stretch at or above the target that has not
	// been added to an hour yet began, or 0 while below it.
	hotSince atomic.Int64

	// Apply path only.
	clock        int64 // the latest event's time, ms: times never run back here
	first        int64 // the first hour kept
	live, active int32 // the counts after the latest event
}

// usageHour is one hour's cells. tag is the hour (since the Unix epoch)
// plus one; 0 while the hour is being reset.
type usageHour struct {
	tag       atomic.Uint32
	peak      atomic.Uint32 // most live visits at once
	numbers   atomic.Uint32 // numbers in service at that peak
	hotMillis atomic.Uint32 // time at or above the target
	recycled  atomic.Uint32 // new visits given a number taken from a live one
	refused   atomic.Uint32 // new visits given no number: the pool was full
	calls     atomic.Uint32 // calls recorded to the pool's numbers
	shared    atomic.Uint32 // of which matched MatchShared
	unmatched atomic.Uint32 // of which matched MatchNone
}

const firstRing = 4 // hours a pool's ring starts with

// note records the pool's counts after an event at time at: a new peak,
// and the start or end of a stretch at or above the target. Every write
// that changes how many visits are live or numbers active calls it.
func (u *usage) note(p *Pool, at int64) {
	h := u.hour(at)
	live, active := p.held.Load()+p.numberless.Load(), p.active.Load()
	if peak := uint32(max(live, 0)); peak > h.peak.Load() || peak == h.peak.Load() && uint32(active) < h.numbers.Load() {
		h.peak.Store(peak)
		h.numbers.Store(uint32(active))
	}
	if was, is := u.hotSince.Load() != 0, hot(live, active); was != is {
		if is {
			u.hotSince.Store(u.clock)
		} else {
			h.hotMillis.Add(uint32(u.clock - u.hotSince.Load()))
			u.hotSince.Store(0)
		}
	}
	u.live, u.active = live, active
}

func (u *usage) recycle(at int64) { u.hour(at).recycled.Add(1) }
func (u *usage) refuse(at int64)  { u.hour(at).refused.Add(1) }

// call counts a recorded call to one of the pool's numbers.
func (u *usage) call(at int64, k MatchKind) {
	h := u.hour(at)
	h.calls.Add(1)
	switch k {
	case MatchShared:
		h.shared.Add(1)
	case MatchNone:
		h.unmatched.Add(1)
	}
}

// hour moves the clock to at, unless at is earlier (another node's clock),
// and returns the current hour's cells.
func (u *usage) hour(at int64) *usageHour {
	at = max(at, u.clock)
	if ring := u.ring.Load(); ring != nil && at/msPerHour == u.clock/msPerHour {
		u.clock = at
		r := *ring
		return &r[at/msPerHour%int64(len(r))]
	}
	return u.roll(at)
}

// roll starts a new hour: it closes the hours since the clock's, which kept
// the counts of the latest event throughout, and grows the ring when the
// hours kept no longer fit.
func (u *usage) roll(at int64) *usageHour {
	to := at / msPerHour
	ring := u.ring.Load()
	from := u.clock / msPerHour
	if ring == nil {
		u.first, from = to, to-1
	}
	u.first = max(u.first, to-int64(usageHours)+1)
	if ring == nil || to-u.first+1 > int64(len(*ring)) {
		ring = u.grow(to)
	}
	r := *ring
	hotSince := u.hotSince.Load()
	if hotSince != 0 {
		if c := &r[from%int64(len(r))]; int64(c.tag.Load()) == from+1 {
			c.hotMillis.Add(uint32((from+1)*msPerHour - hotSince))
		}
		u.hotSince.Store(to * msPerHour)
	}
	quiet := u.live == 0 && hotSince == 0
	for h := max(from+1, to-int64(len(r))+1); h <= to; h++ {
		if quiet && h < to {
			continue // an hour with nothing live needs no cells: an untagged hour reads as empty
		}
		c := &r[h%int64(len(r))]
		c.tag.Store(0)
		c.peak.Store(uint32(u.live))
		c.numbers.Store(uint32(u.active))
		c.hotMillis.Store(0)
		if hotSince != 0 && h < to {
			c.hotMillis.Store(uint32(msPerHour))
		}
		c.recycled.Store(0)
		c.refused.Store(0)
		c.calls.Store(0)
		c.shared.Store(0)
		c.unmatched.Store(0)
		c.tag.Store(uint32(h + 1))
	}
	u.clock = at
	return &r[to%int64(len(r))]
}

// grow publishes a ring big enough for the hours from u.first to hour to,
// holding the hours of the old one.
func (u *usage) grow(to int64) *[]usageHour {
	need := int(to - u.first + 1)
	n := firstRing
	old := u.ring.Load()
	if old != nil {
		n = 2 * len(*old)
	}
	n = min(max(n, need), usageHours)
	r := make([]usageHour, n)
	if old != nil {
		for i := range *old {
			c := &(*old)[i]
			if h := int64(c.tag.Load()) - 1; h >= u.first && h <= to {
				r[h%int64(n)].copyFrom(c)
			}
		}
	}
	u.ring.Store(&r)
	return &r
}

func (c *usageHour) copyFrom(o *usageHour) {
	c.peak.Store(o.peak.Load())
	c.numbers.Store(o.numbers.Load())
	c.hotMillis.Store(o.hotMillis.Load())
	c.recycled.Store(o.recycled.Load())
	c.refused.Store(o.refused.Load())
	c.calls.Store(o.calls.Load())
	c.shared.Store(o.shared.Load())
	c.unmatched.Store(o.unmatched.Load())
	c.tag.Store(o.tag.Load())
}

// UsageHour is one hour of a pool's usage in an Image.
type UsageHour struct {
	Hour                     int64 // hours since the Unix epoch, UTC
	Peak, Numbers, HotMillis uint32
	Recycled, Refused        uint32
	Calls, Shared, Unmatched uint32
}

// UsageRecord is a pool's usage in an Image: the hours of the last
// UsageHistory that hold anything, oldest first.
type UsageRecord struct {
	Clock    int64 // the latest event's time
	HotSince int64 // 0 while below the target
	// Live and Active are the counts after the latest event, which the
	// hours until the next one keep.
	Live, Active int32
	Hours        []UsageHour
}

// record copies the usage out, or nil for a pool that never had an event.
// It must not run beside a write method.
func (u *usage) record() *UsageRecord {
	ring := u.ring.Load()
	if ring == nil {
		return nil
	}
	r := *ring
	ur := &UsageRecord{Clock: u.clock, HotSince: u.hotSince.Load(), Live: u.live, Active: u.active}
	now := u.clock / msPerHour
	for h := max(u.first, now-int64(len(r))+1); h <= now; h++ {
		c := &r[h%int64(len(r))]
		if int64(c.tag.Load()) != h+1 {
			continue
		}
		ur.Hours = append(ur.Hours, UsageHour{
			Hour: h, Peak: c.peak.Load(), Numbers: c.numbers.Load(), HotMillis: c.hotMillis.Load(),
			Recycled: c.recycled.Load(), Refused: c.refused.Load(),
			Calls: c.calls.Load(), Shared: c.shared.Load(), Unmatched: c.unmatched.Load(),
		})
	}
	return ur
}

// restore rebuilds the usage from its record, once the pool's numbers and
// visits are back, and checks the record is whole. A pool without a record
// (a snapshot from before usage was kept) starts from its counts.
func (u *usage) restore(p *Pool, ur *UsageRecord) error {
	if ur == nil {
		u.live, u.active = p.held.Load()+p.numberless.Load(), p.active.Load()
		return nil
	}
	now := ur.Clock / msPerHour
	switch {
	case ur.Clock <= 0 || !validMillis(ur.Clock):
		return fmt.Errorf("clock %d out of range", ur.Clock)
	case ur.HotSince != 0 && (ur.HotSince < now*msPerHour || ur.HotSince > ur.Clock):
		return fmt.Errorf("hot since %d, outside the hour of its clock %d", ur.HotSince, ur.Clock)
	case ur.Live < 0 || ur.Active < 0 || ur.Active > MaxPoolSize:
		return fmt.Errorf("%d live visits on %d numbers", ur.Live, ur.Active)
	}
	u.clock, u.first, u.live, u.active = ur.Clock, now, ur.Live, ur.Active
	if len(ur.Hours) > 0 {
		u.first = ur.Hours[0].Hour
	}
	for i, h := range ur.Hours {
		if h.Hour <= now-int64(usageHours) || h.Hour > now || i > 0 && h.Hour <= ur.Hours[i-1].Hour {
			return fmt.Errorf("hour %d out of order, or outside the %d hours before its clock", h.Hour, usageHours)
		}
		if h.HotMillis > uint32(msPerHour) || h.Numbers > MaxPoolSize || uint64(h.Shared)+uint64(h.Unmatched) > uint64(h.Calls) {
			return fmt.Errorf("hour %d has impossible counts", h.Hour)
		}
	}
	r := *u.grow(now)
	for _, h := range ur.Hours {
		c := &r[h.Hour%int64(len(r))]
		c.peak.Store(h.Peak)
		c.numbers.Store(h.Numbers)
		c.hotMillis.Store(h.HotMillis)
		c.recycled.Store(h.Recycled)
		c.refused.Store(h.Refused)
		c.calls.Store(h.Calls)
		c.shared.Store(h.Shared)
		c.unmatched.Store(h.Unmatched)
		c.tag.Store(uint32(h.Hour + 1))
	}
	u.hotSince.Store(ur.HotSince)
	return nil
}

// Usage is a pool's traffic over a window that ends now.
type Usage struct {
	Window time.Duration
	// Hours is how many hours of the window had a live visit.
	Hours int
	// The busiest hour: the most live visits at once (visits with a
	// number and those waiting for one), and the numbers in service then.
	// PeakHour is the hour's start, zero when no visit was live.
	PeakLive    int
	PeakNumbers int
	PeakHour    time.Time
	// HotTime is how long live visits were at or above TargetUtilisation
	// of the numbers in service.
	HotTime time.Duration
	// Recycled counts new visits given a number taken from another live
	// visit: the visitors who had to share a number. Refused counts new
	// visits given none because the pool was full. (A visit over the
	// pool's budget is refused before it reaches the log: it is not
	// counted.)
	Recycled, Refused int64
	// Calls counts calls to the pool's numbers; SharedCalls those that
	// could have come from either of two visits, UnmatchedCalls those that
	// matched no visit.
	Calls, SharedCalls, UnmatchedCalls int64
}

// PeakUtilisation is live visits over numbers in service in the busiest
// hour: above 1 when visits outnumbered numbers. A peak with no number in
// service counts as one number.
func (u Usage) PeakUtilisation() float64 {
	return float64(u.PeakLive) / float64(max(u.PeakNumbers, 1))
}

// SharedShare is the share of calls matched to two candidate visits.
func (u Usage) SharedShare() float64 { return share(u.SharedCalls, u.Calls) }

// UnmatchedShare is the share of calls matched to no visit.
func (u Usage) UnmatchedShare() float64 { return share(u.UnmatchedCalls, u.Calls) }

func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// Usage sums the pool's usage over the window ending at now, at most
// UsageHistory long. Safe for any goroutine.
func (p *Pool) Usage(now time.Time, window time.Duration) Usage {
	window = min(max(window, time.Hour), UsageHistory)
	out := Usage{Window: window}
	ring := p.use.ring.Load()
	if ring == nil {
		return out
	}
	nowMs := millis(now)
	last := nowMs / msPerHour
	first := last - int64(window/time.Hour) + 1
	var peakHour int64
	for i := range *ring {
		c := &(*ring)[i]
		tag := c.tag.Load()
		h := int64(tag) - 1
		if h < first || h > last {
			continue
		}
		peak, numbers := int(c.peak.Load()), int(c.numbers.Load())
		hotMs := int64(c.hotMillis.Load())
		recycled, refused := int64(c.recycled.Load()), int64(c.refused.Load())
		// A call counts in calls before shared or unmatched: reading them
		// first, a reader never sees more of them than calls.
		shared, unmatched := int64(c.shared.Load()), int64(c.unmatched.Load())
		calls := int64(c.calls.Load())
		if c.tag.Load() != tag {
			continue // reset meanwhile for a later hour
		}
		if peak > 0 {
			out.Hours++
		}
		if busier(peak, numbers, h, out.PeakLive, out.PeakNumbers, peakHour) {
			out.PeakLive, out.PeakNumbers, peakHour = peak, numbers, h
		}
		out.HotTime += time.Duration(hotMs) * time.Millisecond
		out.Recycled += recycled
		out.Refused += refused
		out.Calls += calls
		out.SharedCalls += shared
		out.UnmatchedCalls += unmatched
	}
	if since := p.use.hotSince.Load(); since != 0 {
		since = max(since, first*msPerHour)
		if nowMs > since {
			out.HotTime += time.Duration(nowMs-since) * time.Millisecond
		}
	}
	if out.PeakLive > 0 {
		out.PeakHour = fromMillis(peakHour * msPerHour)
	}
	return out
}

// busier orders hours by peak live visits, then by utilisation at the
// peak, then by time: the latest of equals wins.
func busier(peak, numbers int, h int64, bestPeak, bestNumbers int, bestHour int64) bool {
	if peak != bestPeak {
		return peak > bestPeak
	}
	if a, b := int64(peak)*int64(max(bestNumbers, 1)), int64(bestPeak)*int64(max(numbers, 1)); a != b {
		return a > b
	}
	return h > bestHour
}

// Advice is a recommended pool size, and why.
type Advice struct {
	Size   int
	Reason string
}

// Advice recommends a size for the pool from its usage over the window
// ending at now. Safe for any goroutine.
func (p *Pool) Advice(now time.Time, window time.Duration) Advice {
	return Advise(p.Usage(now, window), p.Settings().Size)
}

// Advise recommends a pool size for usage observed while the pool had size
// numbers: enough that the busiest hour's peak of live visits is at or
// below TargetUtilisation, within MinPoolSize..MaxPoolSize. With fewer than
// AdviceMinHours hours of traffic it keeps the size.
func Advise(u Usage, size int) Advice {
	size = min(max(size, MinPoolSize), MaxPoolSize)
	target := percent(TargetUtilisation)
	if u.Hours < AdviceMinHours {
		return Advice{Size: size, Reason: fmt.Sprintf(
			"Fewer than %d hours of traffic observed yet (%d so far): keep %d.", AdviceMinHours, u.Hours, size)}
	}
	need := NeedFor(u.PeakLive)
	rec := min(max(need, MinPoolSize), MaxPoolSize)
	reason := fmt.Sprintf("The busiest hour of the last %s (%s) had %s on %s (%s)",
		days(u.Window), u.PeakHour.UTC().Format("2 Jan 15:04 MST"),
		plural(u.PeakLive, "live visit"), plural(u.PeakNumbers, "number"), percent(u.PeakUtilisation()))
	switch {
	case u.Recycled > 0 && u.Refused > 0:
		reason += fmt.Sprintf(", %s had to share a number and %d got none", plural64(u.Recycled, "visitor"), u.Refused)
	case u.Recycled > 0:
		reason += fmt.Sprintf(", and %s had to share a number", plural64(u.Recycled, "visitor"))
	case u.Refused > 0:
		reason += fmt.Sprintf(", and %s got no number", plural64(u.Refused, "visitor"))
	}
	reason += fmt.Sprintf("; %s would keep it at %s", plural(need, "number"), target)
	switch {
	case need > MaxPoolSize:
		reason += fmt.Sprintf(", capped at %d.", MaxPoolSize)
	case need < MinPoolSize:
		reason += fmt.Sprintf(", and a pool has at least %d.", MinPoolSize)
	default:
		reason += "."
	}
	if u.HotTime >= time.Minute {
		reason += fmt.Sprintf(" It was at or above %s for %s in all.", target, span(u.HotTime))
	}
	if calls := callWords(u); calls != "" {
		reason += " " + calls
	}
	return Advice{Size: rec, Reason: reason}
}

// A share of shared or unmatched calls is worth a word from highShare on,
// once there are minCalls calls to judge by.
const (
	highShare = 0.10
	minCalls  = 10
)

func callWords(u Usage) string {
	if u.Calls < minCalls {
		return ""
	}
	shared, unmatched := u.SharedShare() >= highShare, u.UnmatchedShare() >= highShare
	switch {
	case shared && unmatched:
		return fmt.Sprintf("Of %d calls, %d (%s) could have come from either of two visitors and %d (%s) matched no visitor.",
			u.Calls, u.SharedCalls, percent(u.SharedShare()), u.UnmatchedCalls, percent(u.UnmatchedShare()))
	case shared:
		return fmt.Sprintf("Of %d calls, %d (%s) could have come from either of two visitors.",
			u.Calls, u.SharedCalls, percent(u.SharedShare()))
	case unmatched:
		return fmt.Sprintf("Of %d calls, %d (%s) matched no visitor.",
			u.Calls, u.UnmatchedCalls, percent(u.UnmatchedShare()))
	}
	return ""
}

func percent(f float64) string { return fmt.Sprintf("%d %%", int(math.Round(f*100))) }

func plural(n int, word string) string { return plural64(int64(n), word) }

func plural64(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if n := int(d / (24 * time.Hour)); n != 1 {
			return fmt.Sprintf("%d days", n)
		}
		return "day"
	}
	return plural(int(d/time.Hour), "hour")
}

func span(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%d min", m)
	case m == 0:
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}
