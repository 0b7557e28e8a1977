package allocator

import (
	"sync/atomic"
	"time"
)

// A Visit is one browser tab session of one visitor, holding at most one
// number of one pool. It lives while its heartbeats keep coming.
type Visit struct {
	ID          VisitID
	Pool        *Pool
	Attribution *Attribution
	line        int8 // apply path only: the line held, or none
	FirstSeen   time.Time
	seq         uint64 // creation order
	req         RequestID

	cur   atomic.Pointer[Tenure] // current holding; nil while numberless
	seen  atomic.Int64           // last heartbeat while numberless, ms
	ended atomic.Int64           // when the visit ended, ms; 0 while live

	nlPrev, nlNext *Visit // the pool's numberless list (apply path only)
}

// Number returns the number the visit holds, or nil if it has none: it never
// got one, or lost it to a displacement or a shrink and waits for a free one.
func (v *Visit) Number() *Number {
	if t := v.cur.Load(); t != nil && t.until.Load() == 0 {
		return t.Number
	}
	return nil
}

// Live reports whether the visit has not ended.
func (v *Visit) Live() bool { return v.ended.Load() == 0 }

// Ended is when the visit ended, or the zero time.
func (v *Visit) Ended() time.Time { return maybeTime(v.ended.Load()) }

// LastSeen is the time of the visit's last heartbeat.
func (v *Visit) LastSeen() time.Time {
	if t := v.cur.Load(); t != nil && t.until.Load() == 0 {
		if s := v.Pool.seen[t.line].Load(); s != noHolder && v.Pool.holders[t.line].Load() == v {
			return fromMillis(s)
		}
	}
	return fromMillis(v.seen.Load())
}

// Outcome says what a visit got from Assign or Refresh.
type Outcome uint8

const (
	// Fresh: a free number, the one free the longest.
	Fresh Outcome = iota + 1
	// Recycled: the pool was full; the number of its least recently seen
	// visit, seen at least DisplaceAfter ago, which was displaced.
	Recycled
	// Sticky: the visit already existed; it keeps what it had.
	Sticky
	// Full: no free number, and the pool does not recycle, or every holder
	// was seen within the pool's DisplaceAfter (or it has no number at all).
	// No visit is created; the visitor sees the business number.
	Full
	// OverBudget: the pool's budget of new visits is spent for now
	// (Settings.Budget). No visit is created; the visitor sees the business
	// number.
	OverBudget
)

func (o Outcome) String() string {
	switch o {
	case Fresh:
		return "fresh"
	case Recycled:
		return "recycled"
	case Sticky:
		return "sticky"
	case Full:
		return "full"
	case OverBudget:
		return "over_budget"
	}
	return "unknown"
}

// Assignment is the result of Assign and Refresh.
type Assignment struct {
	Outcome Outcome
	Visit   *Visit  // nil when no visit was created
	Number  *Number // nil when the visit has no number
	// Displaced is the visit that lost its number to this one (Recycled).
	Displaced *Visit
}
