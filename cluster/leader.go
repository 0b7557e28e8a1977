package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/dni-dev/dni/fsm"
)

// A LeaderLoop runs on the leader only: it starts when the node wins an
// election and its context ends when the node loses leadership or stops.
type LeaderLoop func(ctx context.Context, n *Node)

// OnLeader registers a loop to run whenever this node is the leader. A loop
// registered while the node leads starts at its next election win.
func (n *Node) OnLeader(loop LeaderLoop) {
	n.loopsMu.Lock()
	defer n.loopsMu.Unlock()
	n.loops = append(n.loops, loop)
}

func (n *Node) watchLeadership() {
	defer n.wg.Done()
	stop := func() {}
	defer func() { stop() }()
	for {
		select {
		case <-n.stop:
			return
		case leader := <-n.notify:
			stop()
			stop = func() {}
			if !leader {
				n.log.Info("lost leadership")
				continue
			}
			n.log.Info("won leadership")
			stop = n.startLeaderLoops()
		}
	}
}

// startLeaderLoops runs the leader's loops and returns what stops them and
// waits until they have.
func (n *Node) startLeaderLoops() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	n.loopsMu.Lock()
	loops := append([]LeaderLoop{expireIdleVisits, recordLeader}, n.cfg.LeaderLoops...)
	loops = append(loops, n.loops...)
	n.loopsMu.Unlock()
	var running sync.WaitGroup
	for _, loop := range loops {
		running.Go(func() { loop(ctx, n) })
	}
	return func() {
		cancel()
		running.Wait()
	}
}

// expireIdleVisits ends idle visits every ExpireEvery. For LeaderGrace after
// the election it expires as if the clock were LeaderGrace behind: a
// heartbeat held up by the election must not cost a live visit its number.
func expireIdleVisits(ctx context.Context, n *Node) {
	won := time.Now()
	tick := time.NewTicker(n.cfg.ExpireEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			at := time.Now()
			if now.Sub(won) < n.cfg.LeaderGrace {
				at = at.Add(-n.cfg.LeaderGrace)
			}
			if _, err := n.Commit(ctx, &fsm.Expire{At: at}); err != nil && ctx.Err() == nil {
				n.log.Warn("expiry failed", "err", err)
			}
		}
	}
}

// recordLeader makes sure the cluster knows this node's addresses, so that
// followers can find it to forward writes.
func recordLeader(ctx context.Context, n *Node) { n.recordSelf(ctx) }

// announce records this node's addresses once a leader can take the write:
// a node that restarts on a new address tells the cluster.
func (n *Node) announce() {
	defer n.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.stop
		cancel()
	}()
	n.recordSelf(ctx)
}

func (n *Node) recordSelf(ctx context.Context) {
	want := fsm.Node{ID: n.cfg.NodeID, RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAdvertise}
	for ctx.Err() == nil {
		if got, ok := n.fsm.Node(want.ID); ok && got == want {
			return
		}
		if _, addr := n.Leader(); addr != "" || n.IsLeader() {
			set := fsm.SetNode(want)
			if r, err := n.Commit(ctx, &set); err == nil && r.Err == nil {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
