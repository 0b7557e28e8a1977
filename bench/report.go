package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the result as indented JSON.
func (res *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// WriteTable writes the result as tables for a terminal.
func (res *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	s := res.Setup
	dur := func(sec float64) time.Duration {
		return time.Duration(sec * float64(time.Second)).Round(time.Millisecond)
	}
	where := "running"
	if s.Local {
		where = "local"
	}
	fmt.Fprintf(tw, "dni bench\t%s, %d CPUs, load %.2f before and %.2f after, %s\n",
		res.Started.Format("2006-01-02 15:04 MST"), res.Host.CPUs, res.Host.LoadBefore, res.Host.LoadAfter, res.Host.GoVersion)
	fmt.Fprintf(tw, "cluster\t%d %s nodes; %d pools of %d numbers (%d), allocation %s\n",
		s.Nodes, where, s.Pools, s.PoolSize, s.Numbers, strings.Join(s.Policies, " and "))
	target := ""
	if s.Utilisation > 0 {
		target = fmt.Sprintf(" (for %.0f%% utilisation)", 100*s.Utilisation)
	}
	fmt.Fprintf(tw, "model\t%.1f visitors/s%s; stay %v, a page every %v, heartbeat %v; %.0f%% call, %.0f%% of them after leaving (%v later)\n",
		s.Rate, target, dur(s.StayS), dur(s.PageEveryS), dur(s.HeartbeatS), 100*s.CallShare, 100*s.LateShare, dur(s.LateDelayS))
	fmt.Fprintf(tw, "pools\tidle timeout %v, attribution window %v; %d numbers bought in %v (%.0f/s)\n",
		dur(s.IdleS), dur(s.WindowS), res.Provisioning.Numbers, dur(res.Provisioning.Seconds).Round(time.Second), res.Provisioning.PerS)
	fmt.Fprintf(tw, "measured\t%v after %v of warm-up; seed %d, %d workers\n", dur(s.DurationS), dur(s.WarmupS), s.Seed, s.Workers)
	fmt.Fprintf(tw, "no-op\t%.0f requests/s (p50 %.2f ms, p99 %.2f ms)\n", res.Noop.PerS, res.Noop.Latency.P50, res.Noop.Latency.P99)
	if res.LogDir != "" {
		fmt.Fprintf(tw, "logs\t%s\n", res.LogDir)
	}
	fmt.Fprintln(tw)

	fmt.Fprintln(tw, "ROUTE\tREQUESTS\tPER S\t× NO-OP\tP50 MS\tP90 MS\tP99 MS\tP99.9 MS\tMAX MS")
	var hooks uint64
	for _, r := range res.Routes {
		l := r.Latency
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", r.Name, r.Requests, r.PerS, r.NoopRatio, l.P50, l.P90, l.P99, l.P999, l.Max)
		if strings.Contains(r.Name, "/twilio/") {
			hooks += r.Requests
		}
	}
	if hooks > 0 {
		rate := float64(hooks) / res.WindowS
		fmt.Fprintf(tw, "webhooks, all\t%d\t%.0f\t%.3f\t\t\t\t\t\n", hooks, rate, rate/res.Noop.PerS)
	}
	l := res.Lag
	fmt.Fprintf(tw, "(harness lag behind the model)\t\t\t\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", l.P50, l.P90, l.P99, l.P999, l.Max)
	fmt.Fprintln(tw)

	fmt.Fprintln(tw, "POLICY\tUTILISATION\tMIN\tMAX\tWAITING VISITS\tSAMPLES")
	for _, u := range res.Utilisation {
		fmt.Fprintf(tw, "%s\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f\t%d\n", u.Policy, 100*u.Mean, 100*u.Min, 100*u.Max, u.Waiting, u.Samples)
	}
	fmt.Fprintln(tw)

	kinds := []string{"live", "recent", "shared", "none"}
	fmt.Fprintln(tw, "POLICY\tCALLS\tCORRECT\tACCURACY\tLIVE\tRECENT\tSHARED\tNONE\tDURING VISIT\tAFTER LEAVING\tUNTRACKED\tUNRECORDED")
	for _, a := range res.Accuracy {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s", a.Policy, a.Calls, a.Correct, percent(a.Correct, a.Calls))
		for _, k := range kinds {
			t := a.ByMatch[k]
			fmt.Fprintf(tw, "\t%d/%d", t.Correct, t.Calls)
		}
		fmt.Fprintf(tw, "\t%s\t%s\t%d\t%d\n", tally(a.During), tally(a.Late), a.Untracked, a.Unrecorded)
	}
	fmt.Fprintf(tw, "(correct/calls by how dni matched them; accuracy counts calls placed in the window; %d calls were due after the end)\n", res.CallsAfterEnd)
	fmt.Fprintln(tw)

	f := res.Faults
	if len(f.LeaderKills)+len(f.FollowerRestarts) > 0 {
		fmt.Fprintf(tw, "faults\t%d leader kills; writes resumed after p50 %.0f ms, max %.0f ms; %d follower restarts\n",
			len(f.LeaderKills), f.ResumeP50Ms, f.ResumeMaxMs, len(f.FollowerRestarts))
		for _, k := range f.LeaderKills {
			fmt.Fprintf(tw, "\tkilled %s at %.1fs: writes resumed after %.0f ms, ready again %.0f ms after its restart\n", k.Node, k.AtS, k.ResumedMs, k.ReadyMs)
		}
		for _, r := range f.FollowerRestarts {
			fmt.Fprintf(tw, "\trestarted %s at %.1fs: stopped in %.0f ms, ready %.0f ms after\n", r.Node, r.AtS, r.StopMs, r.ReadyMs)
		}
	}
	if lv := res.Live; lv != nil {
		fmt.Fprintf(tw, "live visits\t%d of %d started in %d pools of their own in %.1f s (%.0f/s); %d live after the load\n",
			lv.Started, lv.Visits, lv.Pools, lv.FillS, lv.FillPerS, lv.LiveAtEnd)
		for _, m := range lv.Nodes {
			fmt.Fprintf(tw, "\t%s: resident %s, Go heap in use %s\n", m.Node, mebibytes(m.RSSBytes), mebibytes(m.HeapBytes))
		}
		fmt.Fprintf(tw, "\tsnapshot of the state: %s, taken and sent in %.0f ms\n", mebibytes(lv.SnapshotBytes), lv.SnapshotMs)
		if lv.RestartNode != "" {
			fmt.Fprintf(tw, "\t%s killed and started again: ready %.0f ms after its start\n", lv.RestartNode, lv.RestartReadyMs)
		}
	}
	inv := res.Invariants
	verdict := "ok"
	if !inv.OK {
		verdict = "BROKEN"
	}
	identical := "every node's final state byte for byte the same"
	if !inv.Identical {
		identical = "nodes not compared"
	}
	fmt.Fprintf(tw, "invariants\t%s: %d acknowledged visits (%d recent enough to check: %d lost; %d answered 410 early); "+
		"%d acknowledged calls (%d lost, %d final statuses lost); %d backups whole; %s\n",
		verdict, inv.AckedVisits, inv.Checked, inv.Lost, inv.GoneEarly, inv.AckedCalls, inv.LostCalls, inv.LostStatuses, inv.Backups, identical)
	for _, b := range inv.Broken {
		fmt.Fprintf(tw, "\t%s\n", b)
	}
	if len(res.Errors) == 0 {
		fmt.Fprintln(tw, "errors\tnone")
	} else {
		fmt.Fprintf(tw, "errors\t%d server errors (5xx but 503) and %d answers 503 (try again) among:\n", res.ServerErrors, res.Unavailable)
		keys := slices.SortedFunc(maps.Keys(res.Errors), func(a, b string) int {
			return cmp.Or(cmp.Compare(res.Errors[b], res.Errors[a]), cmp.Compare(a, b))
		})
		for _, k := range keys {
			fmt.Fprintf(tw, "\t%d\t%s\n", res.Errors[k], k)
		}
	}
	return tw.Flush()
}

func mebibytes(b int64) string {
	if b < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func percent(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

func tally(t Tally) string {
	if t.Calls == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", t.Correct, t.Calls)
}
