package allocator

import (
	"errors"
	"slices"
	"time"
	"unicode/utf8"
)

// A pool that sizes itself: the leader's autoscaler (package provision)
// decides, and Resize applies its decision with the guards that make it
// safe to apply on any replica, retry, or decide twice across a change of
// leader. Every change of a pool's size, by hand or by the autoscaler, is
// kept in the pool's history with its reason.

// SizeChange is one change of a pool's size.
type SizeChange struct {
	At       time.Time
	From, To int
	Auto     bool   // the autoscaler's; else a person's
	Reason   string // in words a marketer reads
}

// Limits on the history.
const (
	MaxSizeHistory  = 100 // changes kept per pool, the latest
	MaxResizeReason = 500
)

// ErrStaleResize refuses a resize decided on a size the pool no longer
// has: a new leader, or a retry, decides again from the pool as it is.
var ErrStaleResize = errors.New("the pool's size changed since the resize was decided")

// Resize is the autoscaler's change of a pool's size.
type Resize struct {
	Pool     string
	From, To int // From: the size the decision saw
	Reason   string
	// DailyCap bounds the numbers the autoscaler adds to the pool in any
	// 24 hours, this resize included.
	DailyCap int
	At       time.Time
}

// Resize changes an autoscaled pool's size within its bounds. It grows by
// no more than the daily cap allows, and shrinks only by numbers nobody
// holds (the free ones, by the shrink rule), so no visit loses its number:
// a shrink that would need held numbers shrinks less. A resize from a size
// the pool no longer has is ErrStaleResize; one that changes nothing does
// nothing.
func (s *State) Resize(r Resize) (Update, error) {
	at, err := stamp(r.At)
	if err != nil {
		return Update{}, err
	}
	p := s.pools.get(r.Pool)
	switch {
	case p == nil:
		return Update{}, ErrUnknownPool
	case p.Deleted():
		return Update{}, ErrPoolDeleted
	case len(r.Reason) > MaxResizeReason*4 || utf8.RuneCountInString(r.Reason) > MaxResizeReason:
		return Update{}, invalid("reason", "must be at most %d characters", MaxResizeReason)
	case r.DailyCap < 0:
		return Update{}, invalid("daily_cap", "must not be negative")
	}
	st := p.Settings()
	switch {
	case !st.Autoscale.On():
		return Update{}, invalid("autoscale", "the pool does not size itself")
	case st.Size != r.From:
		return Update{Pool: p}, ErrStaleResize
	case r.To < st.Autoscale.MinSize || r.To > st.Autoscale.MaxSize:
		return Update{}, invalid("size", "must be within the pool's autoscale bounds (%d to %d), got %d",
			st.Autoscale.MinSize, st.Autoscale.MaxSize, r.To)
	}
	to := r.To
	if to > st.Size {
		room := r.DailyCap - p.grownSince(at-day)
		to = min(to, st.Size+max(room, 0))
	} else {
		// Only numbers nobody holds go: what is not in service yet first,
		// then the free ones.
		active := int(p.active.Load())
		idle := max(st.Size-active, 0) + int(p.free.n)
		to = max(to, st.Size-idle)
	}
	if to == st.Size {
		return Update{Pool: p}, nil
	}
	v := *p.view.Load()
	v.settings.Size, v.updatedAt = to, at
	v.history = appendHistory(v.history, SizeChange{At: fromMillis(at), From: st.Size, To: to, Auto: true, Reason: r.Reason})
	p.view.Store(&v)
	up := Update{Pool: p}
	if k := int(p.active.Load()) - to; k > 0 {
		up.Retired = s.shrink(p, k, at)
	}
	return up, nil
}

const day = int64(24 * time.Hour / time.Millisecond)

// grownSince counts the numbers the autoscaler added after since (ms).
func (p *Pool) grownSince(since int64) int {
	n := 0
	for _, c := range p.view.Load().history {
		if c.Auto && c.To > c.From && millis(c.At) > since {
			n += c.To - c.From
		}
	}
	return n
}

// GrownSince counts the numbers the autoscaler added to the pool after t.
func (p *Pool) GrownSince(t time.Time) int { return p.grownSince(millis(t)) }

// History lists the pool's size changes, oldest first; the latest
// MaxSizeHistory are kept. Shared: never changed.
func (p *Pool) History() []SizeChange { return p.view.Load().history }

// LastResize is the pool's latest size change, or nil.
func (p *Pool) LastResize() *SizeChange {
	h := p.view.Load().history
	if len(h) == 0 {
		return nil
	}
	return &h[len(h)-1]
}

// appendHistory returns h with c added, the oldest dropped past
// MaxSizeHistory, as a new slice: readers may hold the old one.
func appendHistory(h []SizeChange, c SizeChange) []SizeChange {
	out := make([]SizeChange, 0, min(len(h)+1, MaxSizeHistory))
	if len(h) >= MaxSizeHistory {
		h = h[len(h)-MaxSizeHistory+1:]
	}
	return append(append(out, h...), c)
}

// NeedFor is how many numbers keep live visits at or below the target
// utilisation: the advisor's rule, which the autoscaler applies to what it
// sees now.
func NeedFor(live int) int { return (live*targetDen + targetNum - 1) / targetNum }

func validHistory(h []SizeChange) bool {
	return len(h) <= MaxSizeHistory && !slices.ContainsFunc(h, func(c SizeChange) bool {
		return c.From < 0 || c.To < 0 || c.From > MaxPoolSize || c.To > MaxPoolSize ||
			!validMillis(millis(c.At)) || len(c.Reason) > MaxResizeReason*4
	})
}
