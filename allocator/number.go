package allocator

import (
	"sync/atomic"
	"time"
)

// NumberState is where a tracking number is in its life.
type NumberState uint32

const (
	// NumberActive: in service, free or held by a visit.
	NumberActive NumberState = iota
	// NumberReleasing: taken out of service (pool shrunk or deleted, or
	// released by hand), waiting to be released at the provider.
	NumberReleasing
	// NumberReleased: given back to the provider; kept for history.
	NumberReleased
)

func (s NumberState) String() string {
	switch s {
	case NumberActive:
		return "active"
	case NumberReleasing:
		return "releasing"
	case NumberReleased:
		return "released"
	}
	return "unknown"
}

// A Number is one tracking number in one pool. A number given back to the
// provider and bought again later gets a new Number.
type Number struct {
	E164       string
	ProviderID string // the provider's id for it, such as a Twilio SID
	Pool       *Pool
	AddedAt    time.Time
	// Owned numbers were brought by the customer; bought ones were
	// provisioned by dni and are released at the provider when dropped.
	Owned bool
	seq   uint64 // order added, across all pools

	// The number's newest holding, live or ended, and the one before: all
	// that matching a call needs, even one recorded a little late.
	last         atomic.Pointer[Tenure]
	prev         atomic.Pointer[Tenure]
	lastAssigned atomic.Int64
	state        atomic.Uint32
	lastFreed    atomic.Int64 // when it last became free, ms
	releasedAt   atomic.Int64 // when it left service, ms

	line int8 // apply path only; none unless active
}

// State returns the number's state.
func (n *Number) State() NumberState { return NumberState(n.state.Load()) }

// Holder returns the live visit holding the number, or nil.
func (n *Number) Holder() *Visit {
	if t := n.last.Load(); t != nil && t.until.Load() == 0 {
		return t.Visit
	}
	return nil
}

// Tenures lists the number's recent holdings, newest first: at most the
// current one and the one before, which is all attribution needs.
func (n *Number) Tenures() []*Tenure {
	var out []*Tenure
	for _, t := range n.tenures() {
		if t != nil {
			out = append(out, t)
		}
	}
	return out
}

// tenures returns the newest tenure and the one before, either nil. The
// writer stores prev before last, so a reader that raced with it may see
// the same tenure twice; that one is dropped.
func (n *Number) tenures() [2]*Tenure {
	last, prev := n.last.Load(), n.prev.Load()
	if prev == last || last == nil {
		prev = nil
	}
	return [2]*Tenure{last, prev}
}

// LastAssigned is when a visit last took the number, or the zero time.
func (n *Number) LastAssigned() time.Time { return maybeTime(n.lastAssigned.Load()) }

// LastFreed is when the number last became free, or the zero time.
func (n *Number) LastFreed() time.Time { return maybeTime(n.lastFreed.Load()) }

// ReleasedAt is when the number left service, or the zero time.
func (n *Number) ReleasedAt() time.Time { return maybeTime(n.releasedAt.Load()) }

// EndReason says why a visit stopped holding a number.
type EndReason uint32

const (
	// Holding: the tenure has not ended.
	Holding EndReason = iota
	// EndExpired: the visit sent no heartbeat for the pool's idle timeout.
	EndExpired
	// EndDisplaced: a new visit took the number because the pool was full.
	EndDisplaced
	// EndShrunk: the pool shrank and the number was taken out of service.
	EndShrunk
	// EndReleased: the number was released by hand or lost at the provider.
	EndReleased
	// EndPoolDeleted: the pool was deleted.
	EndPoolDeleted
)

func (r EndReason) String() string {
	switch r {
	case Holding:
		return "holding"
	case EndExpired:
		return "expired"
	case EndDisplaced:
		return "displaced"
	case EndShrunk:
		return "shrunk"
	case EndReleased:
		return "released"
	case EndPoolDeleted:
		return "pool_deleted"
	}
	return "unknown"
}

// A Tenure is one visit holding one number for a while. Calls are matched
// to visits through the tenures of the number called.
type Tenure struct {
	Visit  *Visit
	Number *Number
	// Displaced is the visit whose number this tenure took when the pool
	// was full. That visitor may still have the number on screen, so a
	// call soon after is shared between the two.
	Displaced *Visit
	from      int64
	line      int8

	until  atomic.Int64 // ms; 0 while holding
	reason atomic.Uint32
}

// From is when the tenure began.
func (t *Tenure) From() time.Time { return fromMillis(t.from) }

// Until is when the tenure ended, or the zero time while it lasts.
func (t *Tenure) Until() time.Time { return maybeTime(t.until.Load()) }

// Reason says why the tenure ended, or Holding.
func (t *Tenure) Reason() EndReason { return EndReason(t.reason.Load()) }

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func maybeTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMillis(ms)
}
