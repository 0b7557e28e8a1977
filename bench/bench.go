// Package bench is dni's load and attribution-accuracy harness: it drives a
// cluster over real HTTP as browsers and Twilio would, with visitors who
// arrive, browse, heartbeat, leave and call, and reports throughput
// against the host's no-op HTTP rate, latency per route, pool
// utilisation, how many calls were matched to the visit that really made
// them, and whether any acknowledged write was lost under faults.
//
// dninode bench runs it; DESIGN.md's figures are measured with it.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/provision/standin"
)

// Options say what cluster to drive, with which pools and visitors, and
// which faults to inject. Run fills the zero fields with the defaults
// below.
type Options struct {
	// Nodes is how many dninode processes to start, when URLs is empty.
	Nodes int
	// Binary is the dninode to start (default: this executable).
	Binary string
	// NodeArgs are added to every started node's flags.
	NodeArgs []string
	// Dir holds the started nodes' data and logs (default: a temporary
	// directory, removed afterwards unless KeepDir or the run failed).
	Dir     string
	KeepDir bool

	// URLs, when set, name the HTTP addresses of a running cluster to drive
	// instead. AdminToken is then needed; Sandbox, the stand-in the cluster
	// buys numbers from, allows calls.
	URLs       []string
	AdminToken string
	Sandbox    SandboxAccount

	// Pools of PoolSize numbers are created for the run. With Compare,
	// half use LRU and half random allocation.
	Pools, PoolSize   int
	IdleTimeout       time.Duration
	AttributionWindow time.Duration
	// ProvisionTimeout bounds the wait for every pool's numbers.
	ProvisionTimeout time.Duration

	// The visitor model. Rate is new visitors per second; Utilisation, if
	// set instead, asks for the rate that keeps that share of the numbers
	// held (see Model.RateFor).
	Model       Model
	Utilisation float64
	// Warmup runs the model before anything is measured, so pools reach
	// their steady state (default: Model.Steady); then Duration is
	// measured.
	Warmup   time.Duration
	Duration time.Duration
	// Compare plays the same visitors against LRU and random pools.
	Compare bool
	// Live, if set, is how many visits to start in LivePools pools of
	// their own (default DefaultLivePools) before the model starts, and
	// keep live through the run: the state grows, the load is measured
	// beside it, and the run reports what it costs (live.go).
	Live, LivePools int
	Seed            uint64
	// Workers is how many requests are in flight at most, in the no-op
	// measurement and against the cluster (default 256).
	Workers int

	// KillLeaderEvery, if set, kills the leader (SIGKILL) at that interval
	// and starts it again DownFor later. RestartFollowerEvery stops a
	// follower (SIGTERM) at that interval and starts it at once. Both need
	// a cluster the harness started.
	KillLeaderEvery      time.Duration
	RestartFollowerEvery time.Duration
	DownFor              time.Duration

	// NoopFor is how long the no-op rate is measured (default 3 s).
	NoopFor time.Duration

	// JSON writes the result as JSON instead of a table.
	JSON bool
	// Progress, if set, gets a progress line while the run goes on.
	Progress io.Writer
	// Log gets the harness's own diagnostics (default: discarded).
	Log *slog.Logger
}

// SandboxAccount reaches a Twilio stand-in running elsewhere
// (dninode sandbox).
type SandboxAccount struct {
	URL, AccountSID, AuthToken string
}

// Defaults for Options and Model.
const (
	DefaultNodes    = 3
	DefaultPools    = 100
	DefaultPoolSize = 50
	DefaultDuration = time.Minute
	DefaultWorkers  = 256
	DefaultDownFor  = 3 * time.Second
	DefaultNoopFor  = 3 * time.Second
	// DefaultLivePools hold Options.Live visits.
	DefaultLivePools = 1000
	DefaultSeed      = 1
	// DefaultProvisionTimeout leaves room for 50,000 numbers bought one at
	// a time.
	DefaultProvisionTimeout = 30 * time.Minute
)

func (o Options) withDefaults() (Options, error) {
	if o.Nodes == 0 {
		o.Nodes = DefaultNodes
	}
	if len(o.URLs) > 0 {
		o.Nodes = len(o.URLs)
	}
	if o.Binary == "" && len(o.URLs) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the dninode binary: %w", err)
		}
		o.Binary = exe
	}
	if o.Pools == 0 {
		o.Pools = DefaultPools
	}
	if o.PoolSize == 0 {
		o.PoolSize = DefaultPoolSize
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = allocator.DefaultIdleTimeout
	}
	if o.AttributionWindow == 0 {
		o.AttributionWindow = allocator.DefaultAttributionWindow
	}
	if o.ProvisionTimeout == 0 {
		o.ProvisionTimeout = DefaultProvisionTimeout
	}
	o.Model = o.Model.withDefaults()
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.DownFor == 0 {
		o.DownFor = DefaultDownFor
	}
	if o.NoopFor == 0 {
		o.NoopFor = DefaultNoopFor
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Live > 0 && o.LivePools == 0 {
		o.LivePools = DefaultLivePools
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	numbers := o.Pools * o.PoolSize
	if o.Compare {
		numbers /= 2
	}
	if o.Utilisation > 0 {
		o.Model.Rate = o.Model.RateFor(o.Utilisation, numbers, o.IdleTimeout)
	}
	if o.Warmup == 0 {
		o.Warmup = o.Model.Steady(o.IdleTimeout)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Nodes < 1 {
		bad("nodes must be at least 1")
	}
	if o.Pools < 1 || o.Compare && o.Pools < 2 {
		bad("pools must be at least 1 (2 to compare)")
	}
	if o.PoolSize < allocator.MinPoolSize || o.PoolSize > allocator.MaxPoolSize {
		bad("pool size must be between %d and %d", allocator.MinPoolSize, allocator.MaxPoolSize)
	}
	if o.IdleTimeout < allocator.MinIdleTimeout || o.AttributionWindow < allocator.MinAttributionWindow {
		bad("the idle timeout must be at least %v and the attribution window at least %v", allocator.MinIdleTimeout, allocator.MinAttributionWindow)
	}
	if o.Model.Heartbeat >= o.IdleTimeout {
		bad("the heartbeat interval %v must be shorter than the idle timeout %v", o.Model.Heartbeat, o.IdleTimeout)
	}
	if o.Model.Rate <= 0 {
		bad("give a visitor rate or a utilisation")
	}
	if o.Live < 0 || o.LivePools < 0 || o.Live > 0 && o.Live < o.LivePools {
		bad("live visits must be at least one per live pool")
	}
	if o.Utilisation < 0 || o.Utilisation >= 1 {
		bad("utilisation must be between 0 and 1")
	}
	if err := o.Model.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(o.URLs) > 0 && o.AdminToken == "" {
		bad("driving a running cluster needs its admin token")
	}
	faults := o.KillLeaderEvery > 0 || o.RestartFollowerEvery > 0
	if faults && len(o.URLs) > 0 {
		bad("faults need a cluster the harness starts itself")
	}
	if faults && o.Nodes < 3 {
		bad("faults need at least 3 nodes, so that a majority survives")
	}
	if o.KillLeaderEvery > 0 && o.KillLeaderEvery <= o.DownFor {
		bad("kill the leader less often than a killed node stays down (%v)", o.DownFor)
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("%w: %w", ErrBadOptions, errors.Join(errs...))
	}
	return o, nil
}

// ErrBadOptions wraps every reason Run refuses its options.
var ErrBadOptions = errors.New("bench")

// Run runs the harness and writes its report to out: a table, or JSON
// with o.JSON. The result is returned too; a run that could not be
// carried out is an error (the result then says where the nodes' logs
// are), a run that measured broken invariants is not (the result says so).
func Run(ctx context.Context, o Options, out io.Writer) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &run{o: o, log: o.Log, res: newResult(o), prog: newProgress(o.Progress)}
	res, err := r.run(ctx)
	if err != nil {
		return res, err
	}
	if o.JSON {
		return res, res.WriteJSON(out)
	}
	return res, res.WriteTable(out)
}

// run is one run of the harness.
type run struct {
	o        Options
	log      *slog.Logger
	res      *Result
	prog     *progress
	t        *target
	policies []*policy
	probe    *benchPool // the pool write probes go to, with faults
	live     []*benchPool
	imu      sync.Mutex // res.Invariants, written by faults too
}

func (r *run) run(ctx context.Context) (res *Result, err error) {
	o := r.o
	defer r.endProgress()
	r.res.Host.LoadBefore = loadAverage()
	r.progressf("measuring the no-op rate (%v, %d workers)", o.NoopFor, o.Workers)
	if r.res.Noop, err = measureNoop(ctx, o.Workers, o.NoopFor); err != nil {
		return r.res, fmt.Errorf("no-op rate: %w", err)
	}
	if len(o.URLs) > 0 {
		r.t = remoteTarget(o)
	} else {
		r.progressf("starting %d nodes and the Twilio stand-in", o.Nodes)
		if r.t, err = startLocal(ctx, &o, r.log); err != nil {
			return r.res, err
		}
		defer func() {
			r.t.local.close(r.t)
			if err != nil || o.KeepDir {
				r.res.LogDir = r.t.local.dir
			} else if o.Dir == "" {
				os.RemoveAll(r.t.local.dir)
			}
		}()
	}
	if _, err = r.t.waitLeader(ctx, 30*time.Second); err != nil {
		return r.res, err
	}
	if err = r.createPools(ctx); err != nil {
		return r.res, err
	}
	if o.Live > 0 {
		r.progressf("starting %d live visits in %d pools", o.Live, len(r.live))
		r.fillLive(ctx)
	}
	l := r.load(ctx)
	if err = ctx.Err(); err != nil {
		return r.res, err
	}
	if o.Live > 0 {
		if err = r.measureLive(ctx); err != nil {
			return r.res, err
		}
	}
	if err = r.check(ctx, l); err != nil {
		return r.res, err
	}
	if len(o.URLs) > 0 {
		r.deletePools(ctx)
	}
	r.res.Host.LoadAfter = loadAverage()
	return r.res, nil
}

// load plays the visitor model, with the faults and the utilisation
// samples beside it, and keeps what it measured.
func (r *run) load(ctx context.Context) *loader {
	o := r.o
	l := newLoader(r)
	l.start = time.Now()
	r.progressf("running %d visitors/s for %v of warm-up and %v measured", int(o.Model.Rate+0.5), o.Warmup, o.Duration)
	side, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	f := &faults{l: l}
	if o.KillLeaderEvery > 0 || o.RestartFollowerEvery > 0 {
		wg.Go(func() { f.run(side) })
	}
	var util sampler
	every := min(max(o.Duration/30, time.Second), 5*time.Second)
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-side.Done():
				return
			case <-tick.C:
				r.sample(side, &util, func() bool { return l.inWindow(l.now()) })
			}
		}
	})
	wg.Go(func() { r.watch(side, l, &util, f) })
	l.play(ctx)
	stop()
	wg.Wait()

	r.res.WindowS = o.Duration.Seconds()
	for _, name := range routeOrder {
		h := l.routes[name]
		if h.Count() == 0 && name != routeVisit && name != routeHeartbeat {
			continue
		}
		rate := float64(h.Count()) / o.Duration.Seconds()
		r.res.Routes = append(r.res.Routes, Route{
			Name: name, Requests: h.Count(), PerS: rate, NoopRatio: rate / r.res.Noop.PerS, Latency: quantiles(h),
		})
	}
	r.res.Utilisation = util.results(r.policies)
	r.res.Faults = f.result()
	r.res.Lag = quantiles(l.lag)
	r.res.CallsAfterEnd = l.notPlaced
	l.errs.mu.Lock()
	for k, n := range l.errs.m {
		r.res.Errors[k] += n
	}
	r.res.ServerErrors += l.errs.server
	r.res.Unavailable += l.errs.unavailable
	l.errs.mu.Unlock()
	r.res.Invariants.GoneEarly = l.gone
	return l
}

// watch writes the progress line every second while the load runs.
func (r *run) watch(ctx context.Context, l *loader, util *sampler, f *faults) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastVisits, lastBeats int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := l.now()
		phase := "measuring"
		if now < l.warm {
			phase = "warm-up"
		}
		visits, beats := l.visits.Load(), l.beats.Load()
		line := fmt.Sprintf("%s %v/%v  visits %d/s  heartbeats %d/s  calls %d  webhooks %d  errors %d",
			phase, now.Round(time.Second), l.end.Round(time.Second), visits-lastVisits, beats-lastBeats, l.calls.Load(), l.hooks.Load(), l.errs.total())
		lastVisits, lastBeats = visits, beats
		for i, u := range util.latest() {
			line += fmt.Sprintf("  %s %.0f%%", r.policies[i].name, 100*u)
		}
		if fr := f.result(); len(fr.LeaderKills)+len(fr.FollowerRestarts) > 0 {
			line += fmt.Sprintf("  kills %d restarts %d", len(fr.LeaderKills), len(fr.FollowerRestarts))
		}
		r.tickf("%s", line)
	}
}

// remoteTarget is a running cluster given by its URLs.
func remoteTarget(o Options) *target {
	t := &target{token: o.AdminToken}
	for i, u := range o.URLs {
		addr := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"), "/")
		t.nodes = append(t.nodes, &node{name: fmt.Sprintf("node%d", i+1), addr: addr})
	}
	if o.Sandbox.URL != "" {
		t.calls = &standin.Client{URL: o.Sandbox.URL, AccountSID: o.Sandbox.AccountSID, AuthToken: o.Sandbox.AuthToken}
	}
	return t
}

// loadAverage is the host's 1-minute load average, or -1 where the
// system does not say.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return -1
	}
	return l
}
