package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// A short run of the whole harness, with time compressed: three nodes, a
// few pools at moderate utilisation, calls during and after visits,
// LRU against random, and one leader killed. It checks that the harness
// works and that the cluster keeps its promises under it; no figure of
// speed is asserted.
func TestAShortRunThroughALeaderKillLosesNothingAndAttributesCalls(t *testing.T) {
	var progress bytes.Buffer
	o := Options{
		// The nodes are built without the race detector even under -race:
		// the harness's own code is what this package tests, and
		// cmd/dninode's tests run race-enabled nodes already.
		Nodes: 3, Binary: testkit.BinaryNoRace(t), Dir: t.TempDir(),
		// Three pools per policy of 40 numbers; about 25 visitors reach each
		// pool during the run, and nothing expires within it (the idle
		// timeout is the shortest a pool takes), so pools stay well below
		// full and no visitor is displaced.
		Pools: 6, PoolSize: 40, IdleTimeout: 90 * time.Second,
		Model: Model{
			Rate: 4, Stay: 8 * time.Second, PageEvery: 3 * time.Second, Heartbeat: time.Second,
			CallShare: 0.6, LateShare: 0.3, LateDelay: 3 * time.Second,
		},
		Warmup: 3 * time.Second, Duration: 15 * time.Second, Compare: true, Workers: 32,
		KillLeaderEvery: 10 * time.Second, DownFor: 2 * time.Second,
		NoopFor: time.Second, JSON: true, Progress: &progress, Log: testkit.Logger(t, "harness"),
	}
	var out bytes.Buffer
	res, err := Run(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())
	var table strings.Builder
	res.WriteTable(&table)
	t.Logf("result:\n%s", table.String())

	var decoded Result
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil {
		t.Fatalf("the JSON output does not decode: %v", err)
	}
	if decoded.Noop.PerS <= 0 || len(decoded.Routes) < 2 || len(decoded.Accuracy) != 2 {
		t.Fatalf("the JSON output lacks figures: %s", out.String())
	}

	inv := res.Invariants
	if !inv.OK || inv.Lost > 0 || inv.LostCalls > 0 || inv.LostStatuses > 0 || len(inv.Broken) > 0 {
		t.Errorf("invariants broken: %+v", inv)
	}
	if !inv.Identical {
		t.Error("the nodes' final states were never byte for byte the same")
	}
	if inv.Checked == 0 || inv.AckedCalls == 0 {
		t.Errorf("nothing was checked: %+v", inv)
	}
	if inv.Backups < 2 {
		t.Errorf("%d backups checked; want the one after the kill and the final one", inv.Backups)
	}
	if kills := res.Faults.LeaderKills; len(kills) != 1 || kills[0].ResumedMs < 0 || kills[0].ReadyMs < 0 {
		t.Errorf("leader kills: %+v; want one, after which writes resumed and the node came back", kills)
	}
	if res.ServerErrors > 0 {
		t.Errorf("%d server errors: %v", res.ServerErrors, res.Errors)
	}
	for _, r := range res.Routes[:2] {
		if r.Requests == 0 {
			t.Errorf("no %s completed in the window", r.Name)
		}
	}
	for _, a := range res.Accuracy {
		if a.Calls < 10 || a.Unrecorded > 0 {
			t.Errorf("%s: %d calls scored, %d unrecorded", a.Policy, a.Calls, a.Unrecorded)
		}
		// Pools well below full: every caller still holds the number, or
		// left it so recently that nobody else has it, whatever the policy.
		if a.Policy == "lru" && a.Share < 0.98 {
			t.Errorf("LRU attributed %d of %d calls (%.1f%%) to the caller's visit; want 98%% or more: %+v",
				a.Correct, a.Calls, 100*a.Share, a)
		}
	}
	for _, u := range res.Utilisation {
		if u.Samples == 0 || u.Max > 0.9 {
			t.Errorf("%s utilisation %+v: want samples, and pools never nearly full", u.Policy, u)
		}
	}
}

// A short run with live visits beside the load: they all get in, stay
// live, and the run reports what they cost on every node.
func TestLiveVisitsAreStartedKeptAndCosted(t *testing.T) {
	var progress bytes.Buffer
	o := Options{
		Nodes: 3, Binary: testkit.BinaryNoRace(t), Dir: t.TempDir(),
		Pools: 2, PoolSize: 10, Live: 3000, LivePools: 20,
		Model:  Model{Rate: 5, Stay: 5 * time.Second, PageEvery: 2 * time.Second, Heartbeat: time.Second},
		Warmup: time.Second, Duration: 3 * time.Second, Workers: 32,
		NoopFor: time.Second, Progress: &progress, Log: testkit.Logger(t, "harness"),
	}
	var out strings.Builder
	res, err := Run(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	t.Logf("result:\n%s", out.String())
	lv := res.Live
	if lv == nil || lv.Started != 3000 || lv.Pools != 20 || lv.FillPerS <= 0 {
		t.Fatalf("the fill: %+v, errors %v", lv, res.Errors)
	}
	// The model's visits are live too, and none of the filled ones ended.
	if lv.LiveAtEnd < 3000 {
		t.Errorf("%d live visits after the load; want the 3000 filled and the model's", lv.LiveAtEnd)
	}
	if len(lv.Nodes) != 3 {
		t.Fatalf("memory of %d nodes", len(lv.Nodes))
	}
	for _, m := range lv.Nodes {
		if m.RSSBytes < 1<<20 || m.HeapBytes < 1<<20 {
			t.Errorf("%s: resident %d, heap %d", m.Node, m.RSSBytes, m.HeapBytes)
		}
	}
	if lv.SnapshotBytes < 3000*100 || lv.SnapshotMs <= 0 {
		t.Errorf("a snapshot of 3000 visits: %d bytes in %.1f ms", lv.SnapshotBytes, lv.SnapshotMs)
	}
	if lv.RestartNode == "" || lv.RestartReadyMs <= 0 {
		t.Errorf("the restart: %q ready after %.0f ms", lv.RestartNode, lv.RestartReadyMs)
	}
	if !res.Invariants.OK || !res.Invariants.Identical {
		t.Errorf("invariants after the restart: %+v", res.Invariants)
	}
	if !strings.Contains(out.String(), "live visits\t") && !strings.Contains(out.String(), "live visits ") {
		t.Errorf("the table does not report the live visits:\n%s", out.String())
	}
}

func TestHistogramQuantilesAreWithinTheirBucket(t *testing.T) {
	var h Histogram
	for i := 1; i <= 100000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := q * 100000
		got := float64(h.Quantile(q).Microseconds())
		if math.Abs(got-want)/want > 0.016 {
			t.Errorf("p%v = %vµs, want %vµs within 1.6%%", 100*q, got, want)
		}
	}
	if h.Max() != 100*time.Millisecond || h.Count() != 100000 {
		t.Errorf("max %v, count %d", h.Max(), h.Count())
	}
	var o Histogram
	o.Record(time.Hour)
	h.Merge(&o)
	if h.Quantile(1) != time.Hour || h.Count() != 100001 {
		t.Errorf("after a merge: max %v, count %d", h.Quantile(1), h.Count())
	}
	for v := uint64(0); v < 1<<20; v += 7 {
		if b := bucketOf(v); b < 0 || b >= histBuckets || bucketOf(valueOf(b)) != b {
			t.Fatalf("value %d: bucket %d, whose middle %d is in bucket %d", v, b, valueOf(b), bucketOf(valueOf(b)))
		}
	}
}

func TestTheSameSeedPlaysTheSameVisitors(t *testing.T) {
	m := Model{Rate: 50}.withDefaults()
	a, b := newArrivals(m, 7, 10), newArrivals(m, 7, 10)
	var calls, late int
	for range 2000 {
		x, y := a.pop(), b.pop()
		if fmt.Sprint(*x) != fmt.Sprint(*y) {
			t.Fatalf("visitor %d differs: %+v and %+v", x.index, x, y)
		}
		if x.call >= 0 {
			calls++
			if x.late {
				late++
				if x.call <= x.stay {
					t.Fatalf("a late caller calls before leaving: %+v", x)
				}
			} else if x.call > x.stay {
				t.Fatalf("a caller calls after leaving: %+v", x)
			}
		}
	}
	// 2000 visitors at 50/s arrive in about 40 s; 5% of them call, a fifth
	// of those late.
	if got := a.next.Seconds(); got < 34 || got > 46 {
		t.Errorf("2000 visitors took %.1f s to arrive at 50/s", got)
	}
	if calls < 70 || calls > 130 || late < 8 || late > 40 {
		t.Errorf("%d callers, %d late; want about 100 and 20", calls, late)
	}
}

func TestTheRateForAUtilisationFollowsLittlesLaw(t *testing.T) {
	m := Model{Stay: 2 * time.Minute, PageEvery: 40 * time.Second, Heartbeat: time.Minute}
	hold := m.Holding(3 * time.Minute)
	if hold < 4*time.Minute || hold > 5*time.Minute {
		t.Fatalf("holding time %v: want the stay less a little, plus the idle timeout", hold)
	}
	if r := m.RateFor(0.75, 50000, 3*time.Minute); math.Abs(r*hold.Seconds()-37500) > 1 {
		t.Errorf("rate %v holds %v numbers on average, want 37500", r, r*hold.Seconds())
	}
}

func TestErrorsOfOneKindCountTogether(t *testing.T) {
	for _, c := range [][2]string{
		{`Post "http://dni-bench.invalid/twilio/dial?at=1795830607145&dialed=%2B14155550100": read tcp 127.0.0.1:34082->127.0.0.1:41234: read: connection reset by peer`,
			`Post: read tcp ADDR->ADDR: read: connection reset by peer`},
		{`11200: Post "http://dni-bench.invalid/twilio/fallback": EOF`, `11200: Post: EOF`},
		{"a  message\nover lines", "a message over lines"},
	} {
		if got := shorten(c[0]); got != c[1] {
			t.Errorf("shorten(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}
