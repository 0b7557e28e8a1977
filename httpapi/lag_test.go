package httpapi_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
)

// A node that has not applied a pool's creation yet (it has just
// restarted, or it lags) catches up before it calls the pool unknown: a
// visitor it serves during a rolling restart must get a number, not a 404.
func TestANodeThatLagsCatchesUpBeforeCallingAPoolUnknown(t *testing.T) {
	dir := t.TempDir()
	leader := clusterNode(t, dir, "n1", nil)
	waitFor(t, "n1 to lead", leader.node.IsLeader)
	var stall sync.WaitGroup // above zero: n2 applies nothing more
	lagging := clusterNode(t, dir, "n2", func(c *cluster.Config) {
		c.Join = []string{leader.url}
		c.Observe = func(uint64, *allocator.State) { stall.Wait() }
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, err := httpapi.EnsureAdminToken(ctx, leader.node, "")
	if err != nil {
		t.Fatal(err)
	}
	leader.token = token
	waitFor(t, "n2 to be ready", lagging.node.Ready)

	stall.Add(1)
	leader.createPool(nil, numbersFrom(300, 4)...) // n2 stalls applying this
	p := leader.createPool(nil, numbersFrom(310, 4)...)
	if lagging.node.State().PoolByKey(p.Key) != nil {
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
	dir := t.TempDir()
	leader := clusterNode(t, dir, "n1", nil)
	waitFor(t, "n1 to lead", leader.node.IsLeader)
	var stall sync.WaitGroup
	lagging := clusterNode(t, dir, "n2", func(c *cluster.Config) {
		c.Join = []string{leader.url}
		c.Observe = func(uint64, *allocator.State) { stall.Wait() }
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, err := httpapi.EnsureAdminToken(ctx, leader.node, "")
	if err != nil {
		t.Fatal(err)
	}
	leader.token = token
	p := leader.createPool(nil, numbersFrom(320, 4)...)
	waitFor(t, "n2 to have the pool", func() bool { return lagging.node.State().PoolByKey(p.Key) != nil })

	stall.Add(1)
	v := leader.visit(p.Key, nil) // n2 stalls applying this
	go func() {
		time.Sleep(300 * time.Millisecond)
		stall.Done()
	}()
	r := lagging.heartbeat(v.Visit)
	wantStatus(t, r, 200)

	// With the leader gone, n2 cannot check a visit it does not know.
	leader.node.Halt()
	waitFor(t, "n2 to notice it has no leader", func() bool { id, _ := lagging.node.Leader(); return id == "" })
	var unknown allocator.VisitID
	unknown[0] = 0x42
	wantProblem(t, lagging.heartbeat(unknown.String()), 503, "")
}
