package httpapi_test

import (
	"sync"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/internal/testkit"
)

// startWithALaggard starts a cluster of two nodes, n1 leading and n2
// following, where n2 applies nothing more while stall is above zero.
func startWithALaggard(t *testing.T, stall *sync.WaitGroup) (c *testkit.Cluster, leader, lagging *testAPI) {
	t.Helper()
	c = testkit.StartCluster(t, 2, testkit.Options{Config: func(cfg *cluster.Config) {
		if cfg.NodeID != "n2" {
			return
		}
		checkRules := cfg.Observe
		cfg.Observe = func(index uint64, s *allocator.State) {
			stall.Wait()
			checkRules(index, s)
		}
	}})
	return c, api(t, c.Leader("n1")), api(t, c.Node("n2"))
}

// A node that has not applied a pool's creation yet (it has just
// restarted, or it lags) catches up before it calls the pool unknown: a
// visitor it serves during a rolling restart must get a number, not a 404.
func TestANodeThatLagsCatchesUpBeforeCallingAPoolUnknown(t *testing.T) {
	var stall sync.WaitGroup
	_, leader, lagging := startWithALaggard(t, &stall)

	stall.Add(1)
	leader.createPool(nil, numbersFrom(300, 4)...) // n2 stalls applying this
	p := leader.createPool(nil, numbersFrom(310, 4)...)
	if lagging.Node.Node.State().PoolByKey(p.Key) != nil {
		t.Fatal("n2 applied the pool despite the stall")
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		stall.Done()
	}()
	v := lagging.visit(p.Key, nil)
	if v.Number == "" {
		t.Fatalf("a visit through the lagging node: %+v", v)
	}
}

// Likewise a heartbeat for a visit the node has not applied yet is not
// told the visit is gone (which makes the snippet start over), and a node
// that cannot reach the cluster to check says so with a 503.
func TestANodeThatLagsCatchesUpBeforeCallingAVisitGone(t *testing.T) {
	var stall sync.WaitGroup
	c, leader, lagging := startWithALaggard(t, &stall)
	p := leader.createPool(nil, numbersFrom(320, 4)...)
	testkit.Eventually(t, "n2 to have the pool", func() bool { return lagging.Node.Node.State().PoolByKey(p.Key) != nil })

	stall.Add(1)
	v := leader.visit(p.Key, nil) // n2 stalls applying this
	go func() {
		time.Sleep(300 * time.Millisecond)
		stall.Done()
	}()
	r := lagging.heartbeat(v.Visit)
	wantStatus(t, r, 200)

	// With the leader gone, n2 cannot check a visit it does not know.
	c.Kill("n1")
	testkit.Eventually(t, "n2 to notice it has no leader", func() bool { id, _ := lagging.Node.Node.Leader(); return id == "" })
	var unknown allocator.VisitID
	unknown[0] = 0x42
	wantProblem(t, lagging.heartbeat(unknown.String()), 503, "")
}
