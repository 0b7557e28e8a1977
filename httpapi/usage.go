package httpapi

import (
	"time"

	"github.com/dni-dev/dni/allocator"
)

// PoolUsage is a pool's traffic over one window, as the admin API shows it.
type PoolUsage struct {
	Hours int `json:"hours"` // hours with a live visit
	// The busiest hour: its start (absent when no visit was live), the
	// most live visits at once, the numbers in service then, and the one
	// over the other.
	PeakHour        *time.Time `json:"peak_hour,omitempty"`
	PeakLiveVisits  int        `json:"peak_live_visits"`
	PeakNumbers     int        `json:"peak_numbers"`
	PeakUtilisation float64    `json:"peak_utilisation"`
	AtTargetS       int64      `json:"at_or_above_target_s"`
	RecycledVisits  int64      `json:"recycled_visits"`
	RefusedVisits   int64      `json:"refused_visits"`
	Calls           int64      `json:"calls"`
	SharedCalls     int64      `json:"shared_calls"`
	NoneCalls       int64      `json:"none_calls"`
	SharedShare     float64    `json:"shared_share"`
	NoneShare       float64    `json:"none_share"`
}

// PoolAdvice is the pool size the advisor recommends, and why.
type PoolAdvice struct {
	Size   int    `json:"size"`
	Reason string `json:"reason"`
}

// SizeChange is one change of a pool's size, as the admin API shows it.
type SizeChange struct {
	At     time.Time `json:"at"`
	From   int       `json:"from"`
	To     int       `json:"to"`
	By     string    `json:"by"` // "autoscaler" or "hand"
	Reason string    `json:"reason"`
}

func sizesOut(p *allocator.Pool) []SizeChange {
	out := []SizeChange{}
	for _, c := range p.History() {
		by := "hand"
		if c.Auto {
			by = "autoscaler"
		}
		out = append(out, SizeChange{At: c.At, From: c.From, To: c.To, By: by, Reason: c.Reason})
	}
	return out
}

func usageOut(p *allocator.Pool, now time.Time) map[string]PoolUsage {
	out := make(map[string]PoolUsage, len(allocator.UsageWindows))
	for _, w := range allocator.UsageWindows {
		u := p.Usage(now, w.Length)
		pu := PoolUsage{
			Hours: u.Hours, PeakLiveVisits: u.PeakLive, PeakNumbers: u.PeakNumbers, PeakUtilisation: u.PeakUtilisation(),
			AtTargetS: int64(u.HotTime / time.Second), RecycledVisits: u.Recycled, RefusedVisits: u.Refused,
			Calls: u.Calls, SharedCalls: u.SharedCalls, NoneCalls: u.UnmatchedCalls,
			SharedShare: u.SharedShare(), NoneShare: u.UnmatchedShare(),
		}
		if !u.PeakHour.IsZero() {
			pu.PeakHour = &u.PeakHour
		}
		out[w.Name] = pu
	}
	return out
}
