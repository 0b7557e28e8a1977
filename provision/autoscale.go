package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// An Autoscaler sizes the pools that set autoscale bounds, while its node
// leads (Run is a leader loop). Every look it reads each such pool's live
// visits and applies the advisor's rule to them (allocator.NeedFor: enough
// numbers to stay at or below 75 % utilisation), within the pool's bounds:
//
//   - it grows a pool whose need has stayed above its size for GrowAfter,
//     to the most it needed meanwhile, buying no more than DailyCap numbers
//     a day for it;
//   - it shrinks a pool whose need has stayed well below its size (a fifth
//     or more) for ShrinkAfter since its last change, releasing only
//     numbers nobody holds.
//
// The gap between the two (grow above the size, shrink only a fifth below
// it, after a long quiet) keeps a pool from see-sawing. Each change is one
// fsm.Resize naming the size it saw, so a change decided twice (a retry, a
// new leader) applies once; the reconciler then buys or releases, and
// adopts a number bought just before a crash instead of buying another. A
// new leader watches for a full GrowAfter or ShrinkAfter before it changes
// anything.
type Autoscaler struct {
	Every       time.Duration // between looks; 0 means 30 s
	GrowAfter   time.Duration // need above the size this long before growing; 0 means 10 min
	ShrinkAfter time.Duration // need well below it this long before shrinking; 0 means 3 days
	DailyCap    int           // numbers bought per pool in any 24 hours; 0 means 10
	Now         func() time.Time
	Log         *slog.Logger

	pools map[string]*watch // by pool id; Run's goroutine only
	start time.Time         // when this leader began watching
}

// Defaults of the Autoscaler.
const (
	DefaultAutoscaleEvery = 30 * time.Second
	DefaultGrowAfter      = 10 * time.Minute
	DefaultShrinkAfter    = 3 * 24 * time.Hour
	DefaultDailyCap       = 10
)

// watch is what the autoscaler saw of one pool while leading.
type watch struct {
	highSince time.Time // need above the size since, or zero
	highNeed  int       // the most needed since then
	// peaks holds the most needed over the last ShrinkAfter, as a
	// decreasing queue of (time, need): the front is the maximum.
	peaks []sample
}

type sample struct {
	at   time.Time
	need int
}

func (a *Autoscaler) settings() (every, grow, shrink time.Duration, cap int) {
	every, grow, shrink, cap = a.Every, a.GrowAfter, a.ShrinkAfter, a.DailyCap
	if every <= 0 {
		every = DefaultAutoscaleEvery
	}
	if grow <= 0 {
		grow = DefaultGrowAfter
	}
	if shrink <= 0 {
		shrink = DefaultShrinkAfter
	}
	if cap <= 0 {
		cap = DefaultDailyCap
	}
	return
}

func (a *Autoscaler) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Run looks at the pools every Every until ctx ends.
func (a *Autoscaler) Run(ctx context.Context, c Cluster) {
	every, _, _, _ := a.settings()
	if a.Log == nil {
		a.Log = slog.Default()
	}
	a.pools, a.start = map[string]*watch{}, a.now()
	for {
		if err := c.CatchUp(ctx); err == nil {
			a.Look(ctx, c)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// Look looks at every autoscaled pool once, and resizes those that need it.
func (a *Autoscaler) Look(ctx context.Context, c Cluster) {
	if a.pools == nil {
		a.pools, a.start = map[string]*watch{}, a.now()
	}
	seen := map[string]bool{}
	for _, p := range c.State().Pools() {
		st := p.Settings()
		if p.Deleted() || !st.Autoscale.On() {
			continue
		}
		seen[p.ID] = true
		w := a.pools[p.ID]
		if w == nil {
			w = &watch{}
			a.pools[p.ID] = w
		}
		if r := a.decide(p, w); r != nil {
			a.resize(ctx, c, r)
		}
	}
	for id := range a.pools {
		if !seen[id] {
			delete(a.pools, id)
		}
	}
}

// decide observes the pool and returns the resize it needs, or nil.
func (a *Autoscaler) decide(p *allocator.Pool, w *watch) *fsm.Resize {
	_, growAfter, shrinkAfter, cap := a.settings()
	now := a.now()
	st, counts := p.Settings(), p.Counts()
	bounds := st.Autoscale
	need := min(max(allocator.NeedFor(counts.Live), bounds.MinSize), bounds.MaxSize)
	w.observe(now, need, shrinkAfter)
	size := st.Size
	if p.Status() != allocator.PoolActive {
		w.highSince = time.Time{} // still buying: judge the pool once it has its numbers
		return nil
	}
	target := fmt.Sprintf("%d %% utilisation", int(allocator.TargetUtilisation*100))

	if need > size {
		if w.highSince.IsZero() {
			w.highSince, w.highNeed = now, need
		}
		w.highNeed = max(w.highNeed, need)
		if now.Sub(w.highSince) < growAfter {
			return nil
		}
		room := cap - p.GrownSince(now.Add(-24*time.Hour))
		to := min(w.highNeed, size+room)
		if to <= size {
			return nil // the day's purchases are spent; the state machine would refuse more
		}
		reason := fmt.Sprintf("Live visits needed %d numbers or more for %s to stay at %s (%d live on %d numbers now): grew from %d to %d",
			need, words(now.Sub(w.highSince)), target, counts.Live, counts.Active, size, to)
		if to < w.highNeed {
			reason += fmt.Sprintf(", the most the daily cap of %d numbers allows", cap)
		}
		w.highSince = time.Time{}
		return &fsm.Resize{Pool: p.ID, From: size, To: to, Reason: reason + ".", DailyCap: cap, At: now}
	}
	w.highSince = time.Time{}

	quiet := now.Sub(a.start) >= shrinkAfter
	if last := p.LastResize(); last != nil {
		quiet = quiet && now.Sub(last.At) >= shrinkAfter
	}
	peak := w.peak()
	if !quiet || peak > size-max(1, size/5) {
		return nil
	}
	to := max(peak, bounds.MinSize)
	if idle := counts.Free + max(size-counts.Active, 0); size-to > idle {
		to = size - idle // numbers held now stay: a visit never loses its number
	}
	if to >= size {
		return nil
	}
	return &fsm.Resize{Pool: p.ID, From: size, To: to, DailyCap: cap, At: now, Reason: fmt.Sprintf(
		"For the last %s live visits needed at most %d numbers to stay at %s: shrank from %d to %d, releasing numbers nobody held.",
		words(shrinkAfter), peak, target, size, to)}
}

// observe adds a sample and forgets those older than keep.
func (w *watch) observe(at time.Time, need int, keep time.Duration) {
	for len(w.peaks) > 0 && w.peaks[len(w.peaks)-1].need <= need {
		w.peaks = w.peaks[:len(w.peaks)-1]
	}
	w.peaks = append(w.peaks, sample{at, need})
	for len(w.peaks) > 1 && at.Sub(w.peaks[0].at) > keep {
		w.peaks = w.peaks[1:]
	}
}

// peak is the most needed over the samples kept.
func (w *watch) peak() int {
	if len(w.peaks) == 0 {
		return 0
	}
	return w.peaks[0].need
}

func (a *Autoscaler) resize(ctx context.Context, c Cluster, r *fsm.Resize) {
	rc, err := c.Commit(ctx, r)
	if err == nil {
		err = rc.Err
	}
	switch {
	case errors.Is(err, allocator.ErrStaleResize):
		a.Log.Info("a resize was decided on a size the pool no longer has; deciding again", "pool", r.Pool)
	case err != nil:
		a.Log.Warn("a resize failed", "pool", r.Pool, "from", r.From, "to", r.To, "err", err)
	default:
		a.Log.Info("resized a pool", "pool", r.Pool, "from", r.From, "to", r.To, "reason", r.Reason)
	}
}

// words writes a duration as a marketer reads it: "12 min", "3 days".
func words(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return fmt.Sprintf("%d s", int(d/time.Second))
}
