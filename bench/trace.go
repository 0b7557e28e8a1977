package bench

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
)

// A trace plays the visitor model in simulated time straight against the
// state machine (allocator.State), with no cluster, no HTTP and no wall
// clock: a day and a half of one pool's traffic takes seconds, the same
// every time for a seed. It exists for the pool-size advisor, which judges
// a pool by its usage hour by hour and says nothing before AdviceMinHours
// hours of it; a run over HTTP lasts minutes.
//
// The trace does what a node does for the snippet's requests: a first page
// is an Assign; a heartbeat is a Touch while the visit holds a number, a
// Refresh when it lost its number and one is free, and nothing while it
// waits; a heartbeat for a visit that ended (a 410) starts a new one. The
// leader's Expire runs every cluster.DefaultExpireEvery. A call is a
// RecordCall to the number on the caller's screen, scored as a run's calls
// are (Accuracy).

// TraceOptions say which pool to trace, with which visitors, for how long.
// Trace fills the zero fields with the defaults below and the bench's.
type TraceOptions struct {
	// PoolSize numbers in one pool, which recycles (as the bench's pools
	// do, with no budget of new visits and no protection of recent ones).
	PoolSize          int
	IdleTimeout       time.Duration
	AttributionWindow time.Duration
	// The visitor model; Utilisation, if set, gives the rate instead
	// (Model.RateFor).
	Model       Model
	Utilisation float64
	// Hours of traffic to simulate.
	Hours int
	Seed  uint64
}

// Defaults for TraceOptions.
const (
	// DefaultTracePoolSize leaves the advisor room to grow the pool (one
	// at 95 % of MaxPoolSize could only be told to stay) and is large
	// enough that its busiest hour at 20 % stays under 75 %: the advisor
	// sizes for the peak, and a pool of 20 at 20 % (4 visits on average)
	// peaks at three or four times that in a day and a half, for some
	// seeds past 15.
	DefaultTracePoolSize = 25
	// DefaultTraceHours is half as much again as the advisor needs.
	DefaultTraceHours = 36
)

// traceStart is when every trace starts: a Monday at midnight UTC, so that
// the trace's hours are the usage's hours.
var traceStart = time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)

const traceKey = "trace"

func (o TraceOptions) withDefaults() (TraceOptions, error) {
	if o.PoolSize == 0 {
		o.PoolSize = DefaultTracePoolSize
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = allocator.DefaultIdleTimeout
	}
	if o.AttributionWindow == 0 {
		o.AttributionWindow = allocator.DefaultAttributionWindow
	}
	if o.Hours == 0 {
		o.Hours = DefaultTraceHours
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	o.Model = o.Model.withDefaults()
	if o.Utilisation > 0 {
		o.Model.Rate = o.Model.RateFor(o.Utilisation, o.PoolSize, o.IdleTimeout)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.PoolSize < allocator.MinPoolSize || o.PoolSize > allocator.MaxPoolSize {
		bad("pool size must be between %d and %d", allocator.MinPoolSize, allocator.MaxPoolSize)
	}
	if o.Hours < 1 || o.Hours > int(allocator.UsageHistory/time.Hour) {
		bad("a trace lasts 1 to %d hours", int(allocator.UsageHistory/time.Hour))
	}
	if o.Utilisation < 0 || o.Utilisation >= 1 {
		bad("utilisation must be between 0 and 1")
	}
	if o.Model.Rate <= 0 {
		bad("give a visitor rate or a utilisation")
	}
	if o.Model.Heartbeat >= o.IdleTimeout {
		bad("the heartbeat interval %v must be shorter than the idle timeout %v", o.Model.Heartbeat, o.IdleTimeout)
	}
	if err := o.Model.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("%w: %w", ErrBadOptions, errors.Join(errs...))
	}
	return o, nil
}

// TraceResult is what one trace measured.
type TraceResult struct {
	PoolSize int
	Hours    int
	Seed     uint64
	// Rate is visitors per second; Utilisation the share of numbers the
	// rate was chosen to keep held, if it was.
	Rate        float64
	Utilisation float64
	// Held is the share of the numbers held by visits, averaged over the
	// trace after its warm-up (Model.Steady), sampled at every expiry.
	Held float64
	// Usage and Advice are the pool's, at the end, over UsageHistory.
	Usage  allocator.Usage
	Advice allocator.Advice
	// Accuracy counts the calls placed after the warm-up.
	Accuracy Accuracy
	// CallsAfterEnd were due after the trace ended, and never placed.
	CallsAfterEnd int
}

// Trace plays o's visitors against one pool of o.PoolSize numbers for
// o.Hours of simulated time.
func Trace(o TraceOptions) (TraceResult, error) {
	o, err := o.withDefaults()
	if err != nil {
		return TraceResult{}, err
	}
	t, err := newTracer(o)
	if err != nil {
		return TraceResult{}, err
	}
	if err := t.play(); err != nil {
		return TraceResult{}, err
	}
	now := t.time(t.end)
	p := t.s.PoolByKey(traceKey)
	res := TraceResult{
		PoolSize: o.PoolSize, Hours: o.Hours, Seed: o.Seed, Rate: o.Model.Rate, Utilisation: o.Utilisation,
		Usage: p.Usage(now, allocator.UsageHistory), Advice: p.Advice(now, allocator.UsageHistory),
		Accuracy: t.acc, CallsAfterEnd: t.notPlaced,
	}
	if t.samples > 0 {
		res.Held = t.held / float64(t.samples)
	}
	return res, nil
}

// Advised is a trace and the same visitors replayed on a pool of the size
// the first one's advice recommends.
type Advised struct {
	Before, After TraceResult
}

// AdviseTrace traces a pool, asks the advisor for its size, and replays the
// same visitors (the same seed, at the same rate) on a pool of that size.
func AdviseTrace(o TraceOptions) (Advised, error) {
	before, err := Trace(o)
	if err != nil {
		return Advised{}, err
	}
	o.PoolSize, o.Utilisation, o.Model.Rate = before.Advice.Size, 0, before.Rate
	after, err := Trace(o)
	if err != nil {
		return Advised{}, fmt.Errorf("replay at the advised size %d: %w", o.PoolSize, err)
	}
	after.Utilisation = before.Utilisation
	return Advised{Before: before, After: after}, nil
}

// WriteAdvice writes traces and their replays as a table, then each
// advice's reason.
func WriteAdvice(w io.Writer, runs []Advised) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(runs) > 0 {
		b := runs[0].Before
		fmt.Fprintf(tw, "dni bench --trace: one pool, %d simulated hours from %s, seed %d\n\n",
			b.Hours, traceStart.Format("2006-01-02 15:04 MST"), b.Seed)
	}
	fmt.Fprintln(tw, "UTILISATION\tVISITORS/S\tSIZE\tHELD\tCALLS\tACCURACY\tAFTER LEAVING\tADVISED SIZE\tHELD\tCALLS\tACCURACY\tAFTER LEAVING")
	for _, r := range runs {
		b, a := r.Before, r.After
		target := "-"
		if b.Utilisation > 0 {
			target = fmt.Sprintf("%.0f%%", 100*b.Utilisation)
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%d\t%.1f%%\t%d\t%s\t%s\t%d\t%.1f%%\t%d\t%s\t%s\n",
			target, b.Rate, b.PoolSize, 100*b.Held, b.Accuracy.Calls, percent(b.Accuracy.Correct, b.Accuracy.Calls), tally(b.Accuracy.Late),
			a.PoolSize, 100*a.Held, a.Accuracy.Calls, percent(a.Accuracy.Correct, a.Accuracy.Calls), tally(a.Accuracy.Late))
	}
	fmt.Fprintln(tw, "(held: share of the numbers held, averaged after the warm-up; accuracy: calls matched to the caller's visit; after leaving: correct/calls among late callers)")
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range runs {
		target := fmt.Sprintf("%.4f visitors/s", r.Before.Rate)
		if r.Before.Utilisation > 0 {
			target = fmt.Sprintf("%.0f%%", 100*r.Before.Utilisation)
		}
		fmt.Fprintf(w, "\nadvice for %d numbers at %s: %d numbers. %s\n", r.Before.PoolSize, target, r.Before.Advice.Size, strings.TrimSpace(r.Before.Advice.Reason))
	}
	return nil
}

// tracer is one trace under way, on one goroutine: its visitors' mutexes
// are never contended.
type tracer struct {
	o          TraceOptions
	s          *allocator.State
	pool       *benchPool
	arr        *arrivals
	events     eventHeap
	seq        uint64
	warm, end  time.Duration
	visits     uint64 // visit ids drawn
	calls      int
	acc        Accuracy
	held       float64
	samples    int
	notPlaced  int
	expireNext time.Duration
}

func newTracer(o TraceOptions) (*tracer, error) {
	st := allocator.Settings{
		Name: "trace", Size: o.PoolSize, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"},
		Whisper: true, Overflow: allocator.OverflowRecycle, Allocation: allocator.AllocateLRU,
		IdleTimeout: o.IdleTimeout, AttributionWindow: o.AttributionWindow,
		VisitsPerMinute: allocator.MaxVisitsPerMinute, VisitBurst: allocator.MaxVisitBurst,
	}.WithDefaults()
	st.DisplaceAfter = 0 // as the bench's pools: see createPools
	s := allocator.New()
	if _, err := s.CreatePool(allocator.CreatePool{ID: traceKey, Key: traceKey, Settings: st, At: traceStart}); err != nil {
		return nil, fmt.Errorf("create the trace's pool: %w", err)
	}
	for i := range o.PoolSize {
		if _, err := s.AddNumber(allocator.AddNumber{Pool: traceKey, E164: fmt.Sprintf("+1646555%04d", i), At: traceStart}); err != nil {
			return nil, fmt.Errorf("add the trace's numbers: %w", err)
		}
	}
	return &tracer{
		o: o, s: s, pool: &benchPool{id: traceKey, key: traceKey},
		arr:  newArrivals(o.Model, o.Seed, 1),
		warm: o.Model.Steady(o.IdleTimeout), end: time.Duration(o.Hours) * time.Hour,
		acc:        Accuracy{Policy: string(allocator.AllocateLRU), ByMatch: map[string]Tally{}},
		expireNext: cluster.DefaultExpireEvery,
	}, nil
}

func (t *tracer) time(at time.Duration) time.Time { return traceStart.Add(at) }

func (t *tracer) push(e event) {
	t.seq++
	e.seq = t.seq
	heap.Push(&t.events, e)
}

// play runs the model until the end; the leader's expiry runs before every
// event, for every tick that came since the last.
func (t *tracer) play() error {
	first := t.arr.pop()
	t.push(event{at: first.arrive, kind: evNew, s: first})
	for len(t.events) > 0 && t.events[0].at < t.end {
		e := heap.Pop(&t.events).(event)
		t.expireUntil(e.at)
		var err error
		switch e.kind {
		case evNew:
			v := &visitor{s: e.s, pool: t.pool}
			if e.s.call >= 0 {
				t.push(event{at: e.s.arrive + e.s.call, kind: evCall, v: v})
			}
			err = t.startVisit(v, e.at)
			t.next(v, e.at)
			s := t.arr.pop()
			t.push(event{at: s.arrive, kind: evNew, s: s})
		case evBeat, evPage:
			err = t.heartbeat(e.v, e.kind == evPage, e.at)
			t.next(e.v, e.at)
		case evCall:
			err = t.call(e.v, e.at)
		}
		if err != nil {
			return err
		}
	}
	t.expireUntil(t.end)
	for _, e := range t.events {
		if e.kind == evCall {
			t.notPlaced++
		}
	}
	return nil
}

// expireUntil runs the expiry ticks up to at, and samples the pool's
// utilisation at each after the warm-up.
func (t *tracer) expireUntil(at time.Duration) {
	p := t.s.PoolByKey(traceKey)
	for ; t.expireNext <= at; t.expireNext += cluster.DefaultExpireEvery {
		t.s.Expire(t.time(t.expireNext))
		if t.expireNext >= t.warm {
			c := p.Counts()
			t.held += float64(c.Active-c.Free) / float64(max(c.Active, 1))
			t.samples++
		}
	}
}

func (t *tracer) next(v *visitor, now time.Duration) {
	v.mu.Lock()
	at, kind, stays := v.due(now, t.o.Model.Heartbeat)
	v.mu.Unlock()
	if stays {
		t.push(event{at: max(at, now), kind: kind, v: v})
	}
}

// visitID draws the next visit's id: the seed, then a count, so that the
// same visitors get the same ids whatever the pool's size.
func (t *tracer) visitID() allocator.VisitID {
	t.visits++
	var id allocator.VisitID
	binary.BigEndian.PutUint64(id[:8], t.o.Seed)
	binary.BigEndian.PutUint64(id[8:], t.visits)
	return id
}

// startVisit is the snippet's first page, or its new visit after a 410.
func (t *tracer) startVisit(v *visitor, at time.Duration) error {
	id := t.visitID()
	a, err := t.s.Assign(allocator.Assign{Visit: id, PoolKey: traceKey, At: t.time(at)})
	if err != nil {
		return fmt.Errorf("assign a visit at %v: %w", at, err)
	}
	v.visit, v.number = "", "" // a full pool: the business number
	if a.Number != nil {
		v.visit, v.number, v.lastAck = id.String(), a.Number.E164, at
	}
	return nil
}

// heartbeat is what a node does with a heartbeat (httpapi's): a Touch for
// a visit with a number, a Refresh for one that lost it when a number is
// free, nothing while it waits, and a new visit after a 410. The nodes
// refresh a visit at most every 10 s; a visitor asks at a heartbeat (every
// minute) or a page view (every 40 s on average), so that limit is left
// out.
func (t *tracer) heartbeat(v *visitor, page bool, at time.Duration) error {
	if v.visit == "" {
		if page {
			return t.startVisit(v, at)
		}
		return nil
	}
	id, err := allocator.ParseVisitID(v.visit)
	if err != nil {
		return err
	}
	sv := t.s.Visit(id)
	if sv == nil {
		return t.startVisit(v, at)
	}
	if n := sv.Number(); n != nil {
		t.s.Touch([]allocator.VisitID{id}, t.time(at))
		v.number, v.lastAck = n.E164, at
		return nil
	}
	v.number = ""
	if sv.Pool.Counts().Free == 0 {
		return nil
	}
	a, err := t.s.Refresh(allocator.Refresh{Visit: id, Req: allocator.RequestID(t.visitID()), At: t.time(at)})
	if err != nil {
		return fmt.Errorf("refresh a visit at %v: %w", at, err)
	}
	if a.Number != nil {
		v.number, v.lastAck = a.Number.E164, at
	}
	return nil
}

// call dials the number on the visitor's screen; calls after the warm-up
// are scored.
func (t *tracer) call(v *visitor, at time.Duration) error {
	counted := at >= t.warm
	if v.number == "" {
		if counted {
			t.acc.Untracked++
		}
		return nil
	}
	id, err := allocator.ParseVisitID(v.visit)
	if err != nil {
		return err
	}
	t.calls++
	sid := fmt.Sprintf("CA%032d", t.calls)
	c, err := t.s.RecordCall(allocator.RecordCall{
		SID: sid, To: v.number, From: fmt.Sprintf("+1212%07d", t.calls%10_000_000), At: t.time(at),
	})
	if err != nil {
		return fmt.Errorf("record a call at %v: %w", at, err)
	}
	if counted {
		t.acc.score(callTruth{sid: sid, visit: id, late: v.s.late, inWindow: true}, c)
	}
	return nil
}
