package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
)

// BenchmarkClusterAssign gives new visits numbers through a three-node
// cluster in this process (real Raft over TCP, fsynced bolt logs, followers
// forwarding over HTTP), from 96 concurrent writers spread over all three
// nodes. It reports assignments per second and the 99th percentile of one
// write's latency, with group commit as configured by default and with it
// turned off (one command per log entry), so the gain shows.
func BenchmarkClusterAssign(b *testing.B) {
	for _, mode := range []struct {
		name     string
		batchMax int
	}{{"group-commit", cluster.DefaultBatchMax}, {"one-per-entry", 1}} {
		b.Run(mode.name, func(b *testing.B) {
			c := testkit.StartCluster(b, 3, testkit.Options{Unchecked: true, Config: func(cfg *cluster.Config) {
				cfg.BatchMax = mode.batchMax
				cfg.SnapshotThreshold = cluster.DefaultSnapshotThreshold
				cfg.TrailingLogs = cluster.DefaultTrailingLogs
			}})
			leader := c.Leader()
			const pools = 100
			keys := make([]string, pools)
			for p := range keys {
				keys[p] = leader.CreatePool(fmt.Sprintf("bench%03d", p), 50)
			}
			nodes := c.Running()
			const writers = 96
			var next atomic.Int64
			latencies := make([][]time.Duration, writers)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					node := nodes[w%len(nodes)].Node
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						t0 := time.Now()
						r, err := node.Commit(context.Background(), &fsm.Assign{
							Visit: visitID(int(i) + 1<<20), PoolKey: keys[i%pools], At: t0,
						})
						latencies[w] = append(latencies[w], time.Since(t0))
						if err != nil || r.Err != nil {
							b.Errorf("assign: %v %v", err, r.Err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(latencies...)
			slices.Sort(all)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "assigns/s")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
