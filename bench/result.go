package bench

import (
	"runtime"
	"time"
)

// Result is everything a run measured. It is written as JSON for CI and
// plotting; durations are in milliseconds.
type Result struct {
	Started time.Time `json:"started"`
	Host    Host      `json:"host"`
	Setup   Setup     `json:"setup"`
	// Provisioning is how long the pools took to get their numbers.
	Provisioning Provisioning `json:"provisioning"`
	Noop         NoopRate     `json:"noop"`
	// WindowS is how long throughput was measured, after the warm-up.
	WindowS float64 `json:"window_s"`
	// Routes are the requests completed in the window, by route.
	Routes      []Route       `json:"routes"`
	Utilisation []Utilisation `json:"utilisation"`
	Accuracy    []Accuracy    `json:"accuracy"`
	// CallsAfterEnd were due after the model stopped, and never placed:
	// mostly late callers of the last visitors.
	CallsAfterEnd int        `json:"calls_after_end"`
	Faults        Faults     `json:"faults"`
	Invariants    Invariants `json:"invariants"`
	// Errors counts what went wrong, by kind. Among them, Unavailable
	// counts the 503s a node answers while it cannot tell yet (catching up
	// after a restart or an election; the snippet asks again), and
	// ServerErrors every other 5xx: the server's failures.
	Errors       map[string]int64 `json:"errors"`
	Unavailable  int64            `json:"unavailable"`
	ServerErrors int64            `json:"server_errors"`
	// Lag is how late the harness sent requests compared with the model's
	// schedule: large when the cluster (or the harness) cannot keep up.
	Lag Quantiles `json:"lag"`
	// Live is what the live visits cost, with Options.Live.
	Live *LiveResult `json:"live,omitempty"`
	// LogDir keeps the started nodes' data and logs when the run failed or
	// they were asked for.
	LogDir string `json:"log_dir,omitempty"`
}

// Host is the machine the run measured.
type Host struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	// The 1-minute load average before and after the run: a shared host
	// makes every figure pessimistic.
	LoadBefore float64 `json:"load_before"`
	LoadAfter  float64 `json:"load_after"`
}

// Setup is what the run was asked to do.
type Setup struct {
	Nodes       int      `json:"nodes"`
	Local       bool     `json:"local"` // the harness started the cluster
	Pools       int      `json:"pools"`
	PoolSize    int      `json:"pool_size"`
	Numbers     int      `json:"numbers"`
	Policies    []string `json:"policies"`
	IdleS       float64  `json:"idle_timeout_s"`
	WindowS     float64  `json:"attribution_window_s"`
	Rate        float64  `json:"visitors_per_s"`
	Utilisation float64  `json:"target_utilisation,omitempty"`
	StayS       float64  `json:"stay_s"`
	PageEveryS  float64  `json:"page_every_s"`
	HeartbeatS  float64  `json:"heartbeat_s"`
	CallShare   float64  `json:"call_share"`
	LateShare   float64  `json:"late_share"`
	LateDelayS  float64  `json:"late_delay_s"`
	WarmupS     float64  `json:"warmup_s"`
	DurationS   float64  `json:"duration_s"`
	Seed        uint64   `json:"seed"`
	Workers     int      `json:"workers"`
	KillEveryS  float64  `json:"kill_leader_every_s,omitempty"`
	RestartS    float64  `json:"restart_follower_every_s,omitempty"`
	DownForS    float64  `json:"down_for_s,omitempty"`
}

// Provisioning is how the pools got their numbers.
type Provisioning struct {
	Numbers int     `json:"numbers"`
	Seconds float64 `json:"seconds"`
	PerS    float64 `json:"per_s"`
}

// Route is the requests of one kind completed in the window.
type Route struct {
	Name      string    `json:"name"`
	Requests  uint64    `json:"requests"`
	PerS      float64   `json:"per_s"`
	NoopRatio float64   `json:"noop_ratio"`
	Latency   Quantiles `json:"latency"`
}

// Quantiles of a latency, in milliseconds.
type Quantiles struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func quantiles(h *Histogram) Quantiles {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Quantiles{
		P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
}

// Utilisation is the share of a policy's numbers held by live visits,
// sampled from the cluster during the window.
type Utilisation struct {
	Policy  string  `json:"policy"`
	Mean    float64 `json:"mean"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	Samples int     `json:"samples"`
	// Waiting is the mean number of live visits without a number (their
	// pool was full and recycled it).
	Waiting float64 `json:"waiting_visits"`
}

// Accuracy is how often a policy's calls, placed in the window, were
// matched to the visit whose visitor made them.
type Accuracy struct {
	Policy string `json:"policy"`
	// Calls to a tracking number, recorded by dni; Correct ones named the
	// caller's visit; Share is Correct/Calls.
	Calls   int     `json:"calls"`
	Correct int     `json:"correct"`
	Share   float64 `json:"share"`
	// ByMatch splits the calls by how dni matched them (live, recent,
	// shared, none); Also counts shared matches whose other candidate was
	// the caller.
	ByMatch map[string]Tally `json:"by_match"`
	Also    int              `json:"shared_also_caller"`
	// During and Late split the calls by whether the caller was still on
	// the site.
	During Tally `json:"during_visit"`
	Late   Tally `json:"after_leaving"`
	// Untracked calls went to the business number: the visitor was shown
	// no tracking number. Unrecorded ones never reached dni's records.
	Untracked  int `json:"untracked"`
	Unrecorded int `json:"unrecorded"`
}

// Tally counts calls and the correct ones among them.
type Tally struct {
	Calls   int `json:"calls"`
	Correct int `json:"correct"`
}

func (t *Tally) add(correct bool) {
	t.Calls++
	if correct {
		t.Correct++
	}
}

// Faults is what was done to the cluster, and how fast writes came back.
type Faults struct {
	LeaderKills      []Kill    `json:"leader_kills"`
	FollowerRestarts []Restart `json:"follower_restarts"`
	// ResumeMaxMs is the longest time writes were refused after a kill.
	ResumeMaxMs float64 `json:"resume_max_ms"`
	ResumeP50Ms float64 `json:"resume_p50_ms"`
}

// Kill is one leader killed.
type Kill struct {
	Node string  `json:"node"`
	AtS  float64 `json:"at_s"` // since the load started
	// ResumedMs is how long after the kill the first write was
	// acknowledged; negative if none was within the probe's patience.
	ResumedMs float64 `json:"resumed_ms"`
	// ReadyMs is how long after its restart the node was ready again.
	ReadyMs float64 `json:"ready_ms"`
}

// Restart is one follower stopped and started again.
type Restart struct {
	Node    string  `json:"node"`
	AtS     float64 `json:"at_s"`
	StopMs  float64 `json:"stop_ms"`
	ReadyMs float64 `json:"ready_ms"`
}

// Invariants is what was checked against the cluster's state at the end
// (and, with faults, after every fault).
type Invariants struct {
	// AckedVisits were acknowledged to a visitor; Checked of them were
	// recent enough that they must still be live at the end, and Lost of
	// those were not. GoneEarly counts heartbeats answered 410 for a visit
	// that had no time to expire.
	AckedVisits int `json:"acked_visits"`
	Checked     int `json:"checked_visits"`
	Lost        int `json:"lost_visits"`
	GoneEarly   int `json:"gone_early"`
	// AckedCalls had their voice webhook answered; LostCalls of them are
	// not in the state. LostStatuses had their status callback answered
	// and the state does not have the final status.
	AckedCalls   int `json:"acked_calls"`
	LostCalls    int `json:"lost_calls"`
	LostStatuses int `json:"lost_statuses"`
	// Backups were taken and checked whole (no number with two holders,
	// every rule of allocator.Verify); Broken lists what failed.
	Backups int      `json:"backups_checked"`
	Broken  []string `json:"broken,omitempty"`
	// Identical is set when every node's final state was byte for byte the
	// same.
	Identical bool `json:"nodes_identical"`
	// OK is the verdict: nothing acknowledged lost, no rule broken.
	OK bool `json:"ok"`
}

func newResult(o Options) *Result {
	numbers := o.Pools * o.PoolSize
	policies := []string{"lru"}
	if o.Compare {
		policies = append(policies, "random")
	}
	m := o.Model
	sec := func(d time.Duration) float64 { return d.Seconds() }
	return &Result{
		Started: time.Now().UTC(),
		Host:    Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
		Setup: Setup{
			Nodes: o.Nodes, Local: len(o.URLs) == 0, Pools: o.Pools, PoolSize: o.PoolSize, Numbers: numbers,
			Policies: policies, IdleS: sec(o.IdleTimeout), WindowS: sec(o.AttributionWindow),
			Rate: m.Rate, Utilisation: o.Utilisation, StayS: sec(m.Stay), PageEveryS: sec(m.PageEvery),
			HeartbeatS: sec(m.Heartbeat), CallShare: m.CallShare, LateShare: m.LateShare, LateDelayS: sec(m.LateDelay),
			WarmupS: sec(o.Warmup), DurationS: sec(o.Duration), Seed: o.Seed, Workers: o.Workers,
			KillEveryS: sec(o.KillLeaderEvery), RestartS: sec(o.RestartFollowerEvery), DownForS: sec(o.DownFor),
		},
		Errors: map[string]int64{},
	}
}
