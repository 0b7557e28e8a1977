package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// The autoscaler under load: a cluster of dninode processes whose leader
// sizes one pool (min MinSize, max MaxSize) while visitors come at a rate
// that rises to Peak, holds, and falls to nothing. Visitors heartbeat
// through their stay and check that their number never changes. With
// KillOnResize the leader is killed (SIGKILL) the moment a resize shows,
// while its reconciler buys or releases, and started again DownFor later.
// The run ends once the pool is back at its minimum with nothing left to
// release, and checks the account against the pool: every number bought
// once, every number retired released once.

// AutoscaleOptions configure an autoscaling run. Zero fields take the
// defaults.
type AutoscaleOptions struct {
	Nodes    int
	Binary   string
	Dir      string
	KeepDir  bool
	MinSize  int
	MaxSize  int
	DailyCap int // the nodes' --autoscale-daily-cap
	// The nodes' autoscaler, compressed: it looks Every, grows after
	// GrowAfter of need and shrinks after ShrinkAfter of quiet.
	Every, GrowAfter, ShrinkAfter time.Duration
	// The traffic: new visitors a second rise from none to Peak over Rise,
	// hold for Hold, and fall to none over Fall. A visitor stays Stay on
	// average, heartbeating every Heartbeat.
	Peak                  float64
	Rise, Hold, Fall      time.Duration
	Stay, Heartbeat       time.Duration
	KillOnResize          bool
	DownFor               time.Duration
	Timeout               time.Duration // for the whole run
	Seed                  uint64
	Log                   *slog.Logger
	Progress              io.Writer
	IdleTimeout, Displace time.Duration // the pool's
}

// Defaults of an autoscaling run: a pool of 4 to 20 numbers whose
// visitors, at the peak, need about 27, so that the bound holds it.
const (
	DefaultAutoscaleMin  = 4
	DefaultAutoscaleMax  = 20
	DefaultAutoscaleCap  = 30
	DefaultAutoscalePeak = 0.22
	DefaultAutoscaleRise = 60 * time.Second
	DefaultAutoscaleHold = 60 * time.Second
	DefaultAutoscaleFall = 30 * time.Second
)

func (o AutoscaleOptions) withDefaults() AutoscaleOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Nodes == 0 {
		o.Nodes = DefaultNodes
	}
	if o.MinSize == 0 {
		o.MinSize = DefaultAutoscaleMin
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultAutoscaleMax
	}
	if o.DailyCap == 0 {
		o.DailyCap = DefaultAutoscaleCap
	}
	if o.Peak == 0 {
		o.Peak = DefaultAutoscalePeak
	}
	def(&o.Every, 500*time.Millisecond)
	def(&o.GrowAfter, 5*time.Second)
	def(&o.ShrinkAfter, 20*time.Second)
	def(&o.Rise, DefaultAutoscaleRise)
	def(&o.Hold, DefaultAutoscaleHold)
	def(&o.Fall, DefaultAutoscaleFall)
	def(&o.Stay, 30*time.Second)
	def(&o.Heartbeat, 5*time.Second)
	def(&o.DownFor, DefaultDownFor)
	def(&o.Timeout, 15*time.Minute)
	def(&o.IdleTimeout, 90*time.Second)
	def(&o.Displace, 2*time.Minute)
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// AutoscaleResult is what an autoscaling run saw.
type AutoscaleResult struct {
	MinSize, MaxSize, DailyCap int
	Visitors                   int64 // visits started
	NoNumber                   int64 // visits that got no number (the pool was full)
	LostNumber                 int64 // visits whose number changed or ended while the visitor was on the page
	PeakSize                   int   // the largest size seen
	PeakLive                   int   // the most live visits seen
	FinalSize                  int
	Grown, Shrunk              int // numbers added and taken away by the autoscaler
	GrownIn24h                 int // numbers the autoscaler added in the run's 24 hours (the run is shorter)
	Bought, Released           int64
	NumbersEver, NumbersGone   int // the pool's numbers ever, and those released
	Kills                      int
	History                    []struct {
		At     time.Time `json:"at"`
		From   int       `json:"from"`
		To     int       `json:"to"`
		By     string    `json:"by"`
		Reason string    `json:"reason"`
	}
	Timeline []AutoscaleSample
	Problems []string
	OK       bool
	LogDir   string `json:",omitempty"` // the nodes' data and logs, kept when asked or when the run failed
}

// AutoscaleSample is the pool at one moment of the run.
type AutoscaleSample struct {
	AtS     float64 `json:"at_s"`
	Rate    float64 `json:"rate"`
	Size    int     `json:"size"`
	Numbers int     `json:"numbers"`
	Live    int     `json:"live"`
}

// Autoscale runs the autoscaler under load and checks what it did.
func Autoscale(ctx context.Context, o AutoscaleOptions) (*AutoscaleResult, error) {
	o = o.withDefaults()
	if o.MinSize > o.MaxSize || o.Peak < 0 || o.Stay <= 0 || o.Heartbeat <= 0 || o.Heartbeat >= o.IdleTimeout {
		return nil, fmt.Errorf("%w: bounds, peak, stay or heartbeat", ErrBadOptions)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	bo := &Options{Nodes: o.Nodes, Binary: o.Binary, Dir: o.Dir, KeepDir: o.KeepDir, NodeArgs: []string{
		"--autoscale-every", o.Every.String(), "--autoscale-grow-after", o.GrowAfter.String(),
		"--autoscale-shrink-after", o.ShrinkAfter.String(), "--autoscale-daily-cap", fmt.Sprint(o.DailyCap),
	}}
	if bo.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the dninode binary: %w", err)
		}
		bo.Binary = exe
	}
	t, err := startLocal(ctx, bo, o.Log)
	if err != nil {
		return nil, err
	}
	res := &AutoscaleResult{MinSize: o.MinSize, MaxSize: o.MaxSize, DailyCap: o.DailyCap}
	defer func() {
		t.local.close(t)
		if !res.OK || o.KeepDir {
			res.LogDir = t.local.dir
		} else if o.Dir == "" {
			os.RemoveAll(t.local.dir)
		}
	}()

	var pool struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if err := t.admin(ctx, http.MethodPost, "/v1/pools", map[string]any{
		"name": "autoscaled", "size": o.MinSize, "area_code": "415", "swap_target": "(415) 555-0100",
		"forward_to": []string{"+14155550100"}, "idle_timeout_s": int(o.IdleTimeout / time.Second),
		"displace_after_s": int(o.Displace / time.Second),
		"autoscale":        map[string]any{"min_size": o.MinSize, "max_size": o.MaxSize},
	}, &pool); err != nil {
		return res, err
	}
	if _, err := waitPool(ctx, t, pool.ID, func(p autoscaledPool) bool { return p.Status == "active" }); err != nil {
		return res, fmt.Errorf("the pool never got its numbers: %w", err)
	}

	a := &autoscaleRun{o: o, t: t, pool: pool.ID, key: pool.Key, res: res, start: time.Now(),
		rng: rand.New(rand.NewPCG(o.Seed, 0xa5ca1e))}
	loadEnd := o.Rise + o.Hold + o.Fall
	var wg sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	wg.Add(1)
	go func() { defer wg.Done(); a.arrivals(loadCtx, loadEnd, &wg) }()

	// Watch the pool until the load is over and it is back at its minimum
	// with nothing to release.
	lastSize := o.MinSize
	err = nil
	for {
		p, perr := a.poll(ctx)
		if perr == nil {
			if p.Size != lastSize && o.KillOnResize {
				a.killLeader(ctx)
			}
			lastSize = p.Size
			if a.since() > loadEnd && p.Size == o.MinSize && p.Status == "active" && p.Stats.Releasing == 0 && a.live.Load() == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("the pool was not back at its minimum in time: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
			continue
		}
		break
	}
	stopLoad()
	wg.Wait()
	if err != nil {
		return res, err
	}
	a.check(ctx)
	return res, nil
}

type autoscaleRun struct {
	o     AutoscaleOptions
	t     *target
	pool  string
	key   string
	res   *AutoscaleResult
	start time.Time
	rng   *rand.Rand // arrivals' goroutine only
	live  atomic.Int64
	mu    sync.Mutex // res's counters and timeline
}

func (a *autoscaleRun) since() time.Duration { return time.Since(a.start) }

// rate is the arrival rate at d into the run.
func (a *autoscaleRun) rate(d time.Duration) float64 {
	o := a.o
	switch {
	case d < o.Rise:
		return o.Peak * float64(d) / float64(o.Rise)
	case d < o.Rise+o.Hold:
		return o.Peak
	case d < o.Rise+o.Hold+o.Fall:
		return o.Peak * (1 - float64(d-o.Rise-o.Hold)/float64(o.Fall))
	}
	return 0
}

// arrivals starts visitors as a Poisson process of the rate at each
// moment (thinning at the peak rate), until end.
func (a *autoscaleRun) arrivals(ctx context.Context, end time.Duration, wg *sync.WaitGroup) {
	for {
		gap := time.Duration(a.rng.ExpFloat64() / a.o.Peak * float64(time.Second))
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
		d := a.since()
		if d >= end {
			return
		}
		if a.rng.Float64()*a.o.Peak > a.rate(d) {
			continue
		}
		stay := time.Duration(math.Max(a.rng.ExpFloat64()*float64(a.o.Stay), float64(time.Second)))
		wg.Add(1)
		a.live.Add(1)
		go func() {
			defer wg.Done()
			defer a.live.Add(-1)
			a.visitor(ctx, stay)
		}()
	}
}

// visitor starts a visit, heartbeats through its stay and checks that
// its number stays its own.
func (a *autoscaleRun) visitor(ctx context.Context, stay time.Duration) {
	var v visitAnswer
	status, err := a.post(ctx, "/v1/visits", map[string]any{"pool": a.key, "url": "https://shop.example/?utm_source=google&utm_medium=cpc"}, &v)
	a.mu.Lock()
	a.res.Visitors++
	if err == nil && status == http.StatusOK {
		a.res.NoNumber++ // 200: no number, the business number stays
	}
	a.mu.Unlock()
	if err != nil || status != http.StatusCreated || v.Visit == "" || v.Number == "" {
		return
	}
	leave := time.After(stay)
	for {
		select {
		case <-ctx.Done():
			return
		case <-leave:
			return
		case <-time.After(a.o.Heartbeat):
		}
		var hb visitAnswer
		status, err := a.post(ctx, "/v1/visits/"+v.Visit+"/heartbeat", nil, &hb)
		if err != nil || status >= 500 {
			continue // no node answered: the visitor tries again
		}
		if status != http.StatusOK || hb.Number != v.Number {
			a.mu.Lock()
			a.res.LostNumber++
			a.mu.Unlock()
			a.o.Log.Warn("a visitor lost its number", "visit", v.Visit, "had", v.Number, "status", status, "now", hb.Number)
			return
		}
	}
}

// post sends a visitor request to a node that is up.
func (a *autoscaleRun) post(ctx context.Context, path string, body, out any) (int, error) {
	payload := []byte("{}")
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	var last error
	for _, n := range a.t.pick() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.addr+path, bytes.NewReader(payload))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("User-Agent", benchUserAgent) // a Go client's own would be taken for a bot
		resp, err := adminHTTP.Do(req)
		if err != nil {
			last = err
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			last = fmt.Errorf("HTTP 503")
			continue
		}
		if out != nil && resp.StatusCode < 300 {
			json.Unmarshal(b, out)
		}
		return resp.StatusCode, nil
	}
	if last == nil {
		last = errNoNode
	}
	return 0, last
}

// autoscaledPool is as much of the pool as the run reads.
type autoscaledPool struct {
	Size   int    `json:"size"`
	Status string `json:"status"`
	Stats  struct {
		Numbers    int `json:"numbers"`
		Releasing  int `json:"releasing"`
		LiveVisits int `json:"live_visits"`
	} `json:"stats"`
}

func waitPool(ctx context.Context, t *target, id string, ok func(autoscaledPool) bool) (autoscaledPool, error) {
	for {
		var p autoscaledPool
		if err := t.admin(ctx, http.MethodGet, "/v1/pools/"+id, nil, &p); err == nil && ok(p) {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// poll reads the pool once and adds it to the timeline.
func (a *autoscaleRun) poll(ctx context.Context) (autoscaledPool, error) {
	var p autoscaledPool
	if err := a.t.admin(ctx, http.MethodGet, "/v1/pools/"+a.pool, nil, &p); err != nil {
		return p, err
	}
	d := a.since()
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.res
	r.PeakSize, r.PeakLive = max(r.PeakSize, p.Size), max(r.PeakLive, p.Stats.LiveVisits)
	if n := len(r.Timeline); n == 0 || d.Seconds()-r.Timeline[n-1].AtS >= 5 || r.Timeline[n-1].Size != p.Size {
		r.Timeline = append(r.Timeline, AutoscaleSample{AtS: math.Round(d.Seconds()*10) / 10, Rate: math.Round(a.rate(d)*1000) / 1000,
			Size: p.Size, Numbers: p.Stats.Numbers, Live: p.Stats.LiveVisits})
	}
	if a.o.Progress != nil {
		fmt.Fprintf(a.o.Progress, "\r%5.0fs  rate %.2f/s  size %2d  numbers %2d  live %2d  ", d.Seconds(), a.rate(d), p.Size, p.Stats.Numbers, p.Stats.LiveVisits)
	}
	return p, nil
}

// killLeader kills the leader and starts it again DownFor later, in the
// background: the run goes on against the others meanwhile.
func (a *autoscaleRun) killLeader(ctx context.Context) {
	leader, err := a.t.leader(ctx)
	if err != nil || leader.proc == nil {
		return
	}
	a.mu.Lock()
	a.res.Kills++
	a.mu.Unlock()
	leader.down.Store(true)
	leader.proc.kill()
	go func() {
		time.Sleep(a.o.DownFor)
		if err := leader.proc.start(); err != nil {
			return
		}
		if waitReady(context.WithoutCancel(ctx), leader, time.Minute) == nil {
			leader.down.Store(false)
		}
	}()
}

// check compares the account with the pool and the bounds with what the
// run saw.
func (a *autoscaleRun) check(ctx context.Context) {
	r := a.res
	var pool struct {
		Size        int `json:"size"`
		SizeHistory []struct {
			At     time.Time `json:"at"`
			From   int       `json:"from"`
			To     int       `json:"to"`
			By     string    `json:"by"`
			Reason string    `json:"reason"`
		} `json:"size_history"`
	}
	var numbers struct {
		Numbers []struct {
			State string `json:"state"`
		} `json:"numbers"`
	}
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	// Wait for every node to be back, so the account is read settled.
	for _, n := range a.t.nodes {
		if waitReady(ctx, n, time.Minute) == nil {
			n.down.Store(false)
		}
	}
	if err := a.t.admin(ctx, http.MethodGet, "/v1/pools/"+a.pool, nil, &pool); err != nil {
		problem("read the pool: %v", err)
		return
	}
	if err := a.t.admin(ctx, http.MethodGet, "/v1/pools/"+a.pool+"/numbers", nil, &numbers); err != nil {
		problem("read the pool's numbers: %v", err)
		return
	}
	r.FinalSize = pool.Size
	for _, h := range pool.SizeHistory {
		r.History = append(r.History, h)
		if h.By == "autoscaler" && h.To > h.From {
			r.Grown += h.To - h.From
			if h.At.After(a.start.Add(-24 * time.Hour)) {
				r.GrownIn24h += h.To - h.From
			}
		}
		if h.By == "autoscaler" && h.To < h.From {
			r.Shrunk += h.From - h.To
		}
	}
	r.NumbersEver = len(numbers.Numbers)
	for _, n := range numbers.Numbers {
		if n.State == "released" {
			r.NumbersGone++
		}
	}
	st := a.t.local.sandbox.Stats()
	r.Bought, r.Released = st.Buys, st.Releases
	switch {
	case r.PeakSize > r.MaxSize:
		problem("the pool reached %d numbers, past its maximum of %d", r.PeakSize, r.MaxSize)
	case r.GrownIn24h > r.DailyCap:
		problem("the autoscaler added %d numbers in a day, past the cap of %d", r.GrownIn24h, r.DailyCap)
	}
	if r.Grown == 0 || r.Shrunk == 0 || r.FinalSize != r.MinSize {
		problem("the pool grew by %d and shrank by %d, ending at %d: want growth, then a shrink back to %d", r.Grown, r.Shrunk, r.FinalSize, r.MinSize)
	}
	if r.LostNumber > 0 {
		problem("%d visitors lost their number mid-visit", r.LostNumber)
	}
	if r.Bought != int64(r.NumbersEver) {
		problem("the account sold %d numbers for the pool's %d: a number was bought twice or not recorded", r.Bought, r.NumbersEver)
	}
	if r.Released != int64(r.NumbersGone) {
		problem("the account released %d numbers for the pool's %d released", r.Released, r.NumbersGone)
	}
	r.OK = len(r.Problems) == 0
}

// WriteAutoscale writes an autoscaling run's result as tables.
func WriteAutoscale(w io.Writer, r *AutoscaleResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "pool\tmin %d, max %d, daily cap %d\n", r.MinSize, r.MaxSize, r.DailyCap)
	fmt.Fprintf(tw, "visitors\t%d (%d got no number: the pool was full; %d lost their number mid-visit)\n", r.Visitors, r.NoNumber, r.LostNumber)
	fmt.Fprintf(tw, "size\tpeak %d, final %d; the autoscaler added %d (%d in 24 h) and took away %d\n", r.PeakSize, r.FinalSize, r.Grown, r.GrownIn24h, r.Shrunk)
	fmt.Fprintf(tw, "live visits\tpeak %d\n", r.PeakLive)
	fmt.Fprintf(tw, "account\t%d numbers bought for %d in the pool's history; %d released for %d released\n", r.Bought, r.NumbersEver, r.Released, r.NumbersGone)
	fmt.Fprintf(tw, "leader kills\t%d (one at each resize seen)\n", r.Kills)
	tw.Flush()
	fmt.Fprintln(w, "\nsize changes:")
	for _, h := range r.History {
		fmt.Fprintf(w, "  %s  %2d → %2d  %s: %s\n", h.At.Format("15:04:05"), h.From, h.To, h.By, h.Reason)
	}
	fmt.Fprintln(w, "\ntimeline (s, visitors/s, size, numbers in service, live visits):")
	for _, s := range r.Timeline {
		fmt.Fprintf(w, "  %6.1f  %.3f  %2d  %2d  %2d\n", s.AtS, s.Rate, s.Size, s.Numbers, s.Live)
	}
	if r.LogDir != "" {
		fmt.Fprintln(w, "\nthe nodes' data and logs:", r.LogDir)
	}
	if r.OK {
		fmt.Fprintln(w, "\nok: never past the maximum or the daily cap, back to the minimum, no visitor lost its number, nothing bought or released twice")
		return nil
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "PROBLEM:", p)
	}
	return errors.New("the autoscaling run broke an invariant")
}
