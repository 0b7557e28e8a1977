package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/bench"
)

// benchCmd runs the bench harness (package bench): it starts a cluster of
// this binary's nodes, or drives a running one, with a model of visitors
// and callers, and reports throughput, latency, utilisation, attribution
// accuracy and whether any acknowledged write was lost.
func benchCmd(e *opEnv, args []string) error {
	f := e.flags()
	o := bench.Options{
		Nodes: bench.DefaultNodes, Pools: bench.DefaultPools, PoolSize: bench.DefaultPoolSize,
		IdleTimeout: allocator.DefaultIdleTimeout, AttributionWindow: allocator.DefaultAttributionWindow,
		Duration: bench.DefaultDuration, Seed: bench.DefaultSeed, Workers: bench.DefaultWorkers,
		DownFor: bench.DefaultDownFor, ProvisionTimeout: bench.DefaultProvisionTimeout,
		Model: bench.Model{
			Stay: bench.DefaultStay, PageEvery: bench.DefaultPageEvery, Heartbeat: bench.DefaultHeartbeat,
			CallShare: bench.DefaultCallShare, LateShare: bench.DefaultLateShare, LateDelay: bench.DefaultLateDelay,
		},
	}
	m := &o.Model
	f.plain((*intValue)(&o.Nodes), "nodes", "nodes to start, each a dninode process, sharing a Twilio stand-in in this process")
	f.plain((*listValue)(&o.URLs), "url", "drive the running cluster at these HTTP addresses instead (comma-separated or repeated)")
	f.stringVar(&o.AdminToken, "admin-token", "", "the running cluster's admin API token")
	f.plain((*stringValue)(&o.Sandbox.URL), "sandbox-url", "the stand-in a running cluster buys numbers from (dninode sandbox), to place calls")
	f.plain((*stringValue)(&o.Sandbox.AccountSID), "sandbox-account-sid", "its account SID")
	f.plain((*stringValue)(&o.Sandbox.AuthToken), "sandbox-auth-token", "its auth token")
	f.plain((*intValue)(&o.Pools), "pools", "pools to create; with --compare half of them allocate at random")
	f.plain((*intValue)(&o.PoolSize), "pool-size", "numbers per pool")
	f.plain((*durationValue)(&o.IdleTimeout), "idle-timeout", "the pools' idle timeout (at least 1m30s)")
	f.plain((*durationValue)(&o.AttributionWindow), "attribution-window", "the pools' attribution window")
	f.plain((*floatValue)(&m.Rate), "rate", "new visitors per second, spread over all nodes")
	f.plain((*floatValue)(&o.Utilisation), "utilisation", "instead of --rate: the share of numbers to keep held (0.75 for 75%); the rate follows from the model")
	f.plain((*durationValue)(&m.Stay), "stay", "how long a visitor stays, on average")
	f.plain((*durationValue)(&m.PageEvery), "page-every", "time between a visitor's page views, on average")
	f.plain((*durationValue)(&m.Heartbeat), "heartbeat", "time between heartbeats; shorter compresses time (the snippet's is 1m)")
	f.plain((*floatValue)(&m.CallShare), "calls", "share of visitors who call the number they see")
	f.plain((*floatValue)(&m.LateShare), "late", "share of callers who call after leaving")
	f.plain((*durationValue)(&m.LateDelay), "late-delay", "how long after leaving a late caller calls, on average")
	f.plain((*optionalDuration)(&o.Warmup), "warmup", "how long the model runs before measuring (default: the idle timeout and three stays, when pools are near their steady use)")
	f.plain((*durationValue)(&o.Duration), "duration", "how long to measure")
	f.plain((*boolValue)(&o.Compare), "compare", "play the same visitors against LRU and random allocation, and compare accuracy")
	f.plain((*intValue)(&o.Live), "live", "visits to start before the model and keep live through the run, in pools of their own; the run then reports each node's memory, a snapshot's size and time, and a killed follower's time back to ready")
	f.plain((*intValue)(&o.LivePools), "live-pools", "pools the --live visits are spread over (default 1000)")
	f.plain((*uint64Value)(&o.Seed), "seed", "seed of the visitor model")
	f.plain((*intValue)(&o.Workers), "workers", "requests in flight at most, against the cluster and the no-op server")
	f.plain((*optionalDuration)(&o.KillLeaderEvery), "kill-leader-every", "kill the leader (SIGKILL) this often, and start it again --down-for later")
	f.plain((*optionalDuration)(&o.RestartFollowerEvery), "restart-follower-every", "stop a follower (SIGTERM) this often and start it again at once")
	f.plain((*durationValue)(&o.DownFor), "down-for", "how long a killed leader stays down")
	f.plain((*durationValue)(&o.ProvisionTimeout), "provision-timeout", "how long the pools may take to get their numbers")
	f.plain((*stringValue)(&o.Dir), "dir", "where started nodes keep their data and logs (default: a temporary directory, removed after a good run)")
	f.plain((*boolValue)(&o.KeepDir), "keep", "keep the nodes' data and logs")
	f.plain((*stringValue)(&o.Binary), "binary", "the dninode binary to start (default: this one)")
	f.plain((*listValue)(&o.NodeArgs), "node-args", "extra flags for every started node, comma-separated")
	f.plain((*boolValue)(&o.JSON), "json", "write the result as JSON instead of tables")
	var trace bool
	hours := bench.DefaultTraceHours
	f.plain((*boolValue)(&trace), "trace", fmt.Sprintf("instead of driving a cluster, play the model against one pool's state machine in simulated time "+
		"and report the pool-size advisor's advice, and the accuracy before and after following it; --pool-size defaults to %d, "+
		"and without --rate or --utilisation it traces 95%% and 20%%", bench.DefaultTracePoolSize))
	f.plain((*intValue)(&hours), "hours", "with --trace, the simulated hours to play (the advisor wants 24)")
	as := bench.AutoscaleOptions{MinSize: bench.DefaultAutoscaleMin, MaxSize: bench.DefaultAutoscaleMax, DailyCap: bench.DefaultAutoscaleCap}
	var autoscale bool
	f.plain((*boolValue)(&autoscale), "autoscale", "instead, start --nodes nodes whose leader sizes one pool (--min-size to --max-size) while visitors rise to --rate a second "+
		"over --rise, hold for --hold and fall over --fall; check the bounds, the daily cap, that no visitor loses its number, and that the account matches the pool")
	f.plain((*intValue)(&as.MinSize), "min-size", "with --autoscale, the pool's smallest size")
	f.plain((*intValue)(&as.MaxSize), "max-size", "with --autoscale, the pool's largest size")
	f.plain((*intValue)(&as.DailyCap), "daily-cap", "with --autoscale, the numbers the autoscaler may buy a day")
	f.plain((*optionalDuration)(&as.Rise), "rise", "with --autoscale, how long the traffic rises (default 1m)")
	f.plain((*optionalDuration)(&as.Hold), "hold", "with --autoscale, how long it holds at its peak (default 1m)")
	f.plain((*optionalDuration)(&as.Fall), "fall", "with --autoscale, how long it falls to nothing (default 30s)")
	f.plain((*boolValue)(&as.KillOnResize), "kill-on-resize", "with --autoscale, kill the leader (SIGKILL) whenever the pool's size changes, and start it again --down-for later")
	if _, err := e.parse(f, args, 0, 0); err != nil {
		return err
	}
	if autoscale {
		return autoscaleRun(e, o, as, f)
	}
	if trace {
		size := bench.DefaultTracePoolSize
		f.fs.Visit(func(fl *flag.Flag) {
			if fl.Name == "pool-size" {
				size = o.PoolSize
			}
		})
		return traceAdvice(e, o, size, hours)
	}
	o.Progress = e.stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, o, e.stdout)
	if errors.Is(err, bench.ErrBadOptions) {
		return usageError{err: err}
	}
	if err != nil {
		if res != nil && res.LogDir != "" {
			return fmt.Errorf("%w (the nodes' logs are in %s)", err, res.LogDir)
		}
		return err
	}
	if !res.Invariants.OK {
		return fmt.Errorf("an invariant was broken: see the invariants above")
	}
	return nil
}

// autoscaleRun runs bench --autoscale: the model's stay and heartbeat
// are compressed unless given.
func autoscaleRun(e *opEnv, o bench.Options, as bench.AutoscaleOptions, f *flags) error {
	as.Nodes, as.Binary, as.Dir, as.KeepDir, as.Seed, as.DownFor = o.Nodes, o.Binary, o.Dir, o.KeepDir, o.Seed, o.DownFor
	as.Peak, as.Progress = o.Model.Rate, e.stderr
	if o.Model.Rate == 0 {
		as.Peak = bench.DefaultAutoscalePeak
	}
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "stay":
			as.Stay = o.Model.Stay
		case "heartbeat":
			as.Heartbeat = o.Model.Heartbeat
		case "idle-timeout":
			as.IdleTimeout = o.IdleTimeout
		}
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := bench.Autoscale(ctx, as)
	if errors.Is(err, bench.ErrBadOptions) {
		return usageError{err: err}
	}
	if err != nil {
		if res != nil && res.LogDir != "" {
			return fmt.Errorf("%w (the nodes' logs are in %s)", err, res.LogDir)
		}
		return err
	}
	fmt.Fprintln(e.stderr)
	if o.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
		if !res.OK {
			return fmt.Errorf("the autoscaling run broke an invariant: %v", res.Problems)
		}
		return nil
	}
	return bench.WriteAutoscale(e.stdout, res)
}

// traceAdvice runs bench --trace: the advisor on simulated hours of the
// model, at the rate or utilisation asked for, else at 95% and 20%.
func traceAdvice(e *opEnv, o bench.Options, size, hours int) error {
	utilisations := []float64{o.Utilisation}
	if o.Utilisation == 0 && o.Model.Rate == 0 {
		utilisations = []float64{0.95, 0.20}
	}
	var runs []bench.Advised
	for _, u := range utilisations {
		r, err := bench.AdviseTrace(bench.TraceOptions{
			PoolSize: size, IdleTimeout: o.IdleTimeout, AttributionWindow: o.AttributionWindow,
			Model: o.Model, Utilisation: u, Hours: hours, Seed: o.Seed,
		})
		if errors.Is(err, bench.ErrBadOptions) {
			return usageError{err: err}
		}
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	if o.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(runs)
	}
	return bench.WriteAdvice(e.stdout, runs)
}

// floatValue and optionalDuration show no default when zero: zero means
// unset for them.
type floatValue float64

func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v = floatValue(f)
	return nil
}

func (v *floatValue) String() string {
	if *v == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(*v), 'g', -1, 64)
}

type optionalDuration time.Duration

func (d *optionalDuration) Set(s string) error { return (*durationValue)(d).Set(s) }

func (d *optionalDuration) String() string {
	if *d == 0 {
		return ""
	}
	return (*durationValue)(d).String()
}
