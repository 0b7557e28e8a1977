package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
)

func TestThreeNodesElectALeaderAndAgree(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader()
	key := createPool(t, leader.node, "ads", 4)
	for i, tn := range c.running() {
		r := mustApply(t, tn.node, &fsm.Assign{Visit: visitID(i), PoolKey: key, At: time.Now()})
		if r.Outcome != allocator.Fresh || r.Number == "" {
			t.Fatalf("visit through %s got %+v", tn.id, r)
		}
	}
	c.ensureSame()
	ms, err := c.node("n2").node.Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, m := range ms {
		if m.Leader {
			leaders++
		}
		if !m.Voter || m.HTTPAddr == "" || m.Status == nil {
			t.Errorf("member %+v", m)
		}
	}
	if len(ms) != 3 || leaders != 1 {
		t.Fatalf("members %+v", ms)
	}
}

func TestAWriteOnAFollowerLandsOnce(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader()
	var follower *testNode
	for _, tn := range c.running() {
		if tn != leader {
			follower = tn
		}
	}
	key := createPool(t, follower.node, "organic", 4)
	r1 := mustApply(t, follower.node, &fsm.Assign{Visit: visitID(1), PoolKey: key, At: time.Now()})
	// The same visit again, as a retry after a lost answer would send it:
	// it keeps its number and takes no second one.
	r2 := mustApply(t, follower.node, &fsm.Assign{Visit: visitID(1), PoolKey: key, At: time.Now()})
	if r1.Outcome != allocator.Fresh || r2.Outcome != allocator.Sticky || r1.Number != r2.Number {
		t.Fatalf("first %+v, retry %+v", r1, r2)
	}
	r, err := follower.node.Commit(context.Background(), &fsm.Expire{At: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := follower.node.WaitApplied(context.Background(), r.Index); err != nil {
		t.Fatal(err)
	}
	p := follower.node.State().PoolByKey(key)
	if got := p.Counts(); got.Live != 1 || got.Free != 3 {
		t.Fatalf("pool counts %+v, want one live visit", got)
	}
	c.ensureSame()
}

// TestGroupCommitPutsConcurrentWritesInFewEntries shows many concurrent
// writes through one follower taking far fewer log entries than writes.
func TestGroupCommitPutsConcurrentWritesInFewEntries(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	follower := c.node("n2")
	if follower.node.IsLeader() {
		follower = c.node("n3")
	}
	key := createPool(t, follower.node, "busy", 50)
	before := follower.node.Status().LastIndex
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Go(func() {
			r, err := follower.node.Commit(context.Background(), &fsm.Assign{Visit: visitID(1000 + i), PoolKey: key, At: time.Now()})
			if err != nil || r.Err != nil {
				t.Errorf("visit %d: %v %v", i, err, r.Err)
			}
		})
	}
	wg.Wait()
	barrier, err := follower.node.Commit(context.Background(), &fsm.Expire{At: time.Unix(1, 0)})
	index := barrier.Index
	if err != nil {
		t.Fatal(err)
	}
	entries := index - before
	t.Logf("400 concurrent visits took %d log entries", entries)
	if entries > 200 {
		t.Fatalf("400 concurrent visits took %d log entries; group commit is not gathering them", entries)
	}
	c.ensureSame()
}

func TestWritesResumeAfterTheLeaderIsKilled(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader()
	key := createPool(t, leader.node, "failover", 20)
	acked := writeVisits(t, c.running(), key, 0, 10)
	c.kill(leader.id)
	start := time.Now()
	var survivor *testNode
	for _, tn := range c.running() {
		survivor = tn
	}
	// A write through a survivor waits for the new leader, then lands.
	r := mustApply(t, survivor.node, &fsm.Assign{Visit: visitID(100), PoolKey: key, At: time.Now()})
	t.Logf("writes resumed %v after the leader was killed", time.Since(start))
	acked[visitID(100)] = r.Number
	acked2 := writeVisits(t, c.running(), key, 200, 5)
	c.start(leader.id) // it comes back with its data and catches up
	c.ensureSame()
	checkAcked(t, c.waitLeader().node.State(), acked, acked2)
}

// writeVisits makes n visits, spread over the nodes, and returns the number
// each got.
func writeVisits(t *testing.T, nodes []*testNode, key string, first, n int) map[allocator.VisitID]string {
	t.Helper()
	out := map[allocator.VisitID]string{}
	for i := range n {
		tn := nodes[i%len(nodes)]
		r := mustApply(t, tn.node, &fsm.Assign{Visit: visitID(first + i), PoolKey: key, At: time.Now()})
		out[visitID(first+i)] = r.Number
	}
	return out
}

func checkAcked(t *testing.T, s *allocator.State, sets ...map[allocator.VisitID]string) {
	t.Helper()
	for _, set := range sets {
		for id, number := range set {
			v := s.Visit(id)
			if v == nil {
				t.Errorf("acknowledged visit %s is lost", id)
				continue
			}
			if n := v.Number(); n == nil || n.E164 != number {
				t.Errorf("acknowledged visit %s holds %v, was given %s", id, n, number)
			}
		}
	}
}

func TestAPartitionedMinorityRefusesWritesAndCatchesUpAfterHealing(t *testing.T) {
	c := newTestCluster(t)
	c.tune = func(cfg *cluster.Config) { cfg.WriteTimeout = 2 * time.Second }
	c.startThree()
	leader := c.waitLeader()
	key := createPool(t, leader.node, "split", 10)
	// Cut the leader off: it becomes the minority.
	var majority []string
	for _, tn := range c.running() {
		if tn != leader {
			majority = append(majority, tn.id)
		}
	}
	c.net.cut([]string{leader.id}, majority)
	newLeader := c.waitLeader(majority...)
	if _, err := leader.node.Commit(context.Background(), &fsm.Assign{Visit: visitID(1), PoolKey: key, At: time.Now()}); !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("a write on the cut-off minority: %v, want ErrNoLeader", err)
	}
	acked := writeVisits(t, []*testNode{newLeader}, key, 10, 5)
	c.net.heal()
	c.ensureSame()
	checkAcked(t, leader.node.State(), acked)
	if leader.node.State().Visit(visitID(1)) != nil {
		t.Fatal("the write refused on the minority was applied")
	}
}

func TestANodeRestartsFromItsDataDirAndCatchesUp(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader()
	var keys []string
	for _, id := range []string{"r1", "r2", "r3", "r4", "r5", "r6"} {
		keys = append(keys, createPool(t, leader.node, id, 50))
	}
	var follower string
	for _, tn := range c.running() {
		if tn != leader {
			follower = tn.id
		}
	}
	c.stop(follower)
	// Enough writes while it is away that the others snapshot and trim the
	// log: it catches up from a snapshot, not only from the log.
	var acked []map[allocator.VisitID]string
	for i, key := range keys {
		acked = append(acked, writeVisits(t, c.running(), key, i*50, 50))
	}
	c.start(follower)
	c.ensureSame()
	checkAcked(t, c.node(follower).node.State(), acked...)
}

func TestANodeJoinsAndLeaves(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader()
	key := createPool(t, leader.node, "grow", 8)
	acked := writeVisits(t, c.running(), key, 0, 4)
	c.start("n4", "n2") // through a follower: it is sent on to the leader
	c.waitMembers(4)
	c.ensureSame()
	checkAcked(t, c.node("n4").node.State(), acked)
	leader = c.waitLeader()
	if err := leader.node.Remove(context.Background(), "n4"); err != nil {
		t.Fatal(err)
	}
	c.stop("n4")
	c.waitMembers(3)
	if _, ok := leader.node.FSM().Node("n4"); ok {
		t.Fatal("a removed node is still recorded")
	}
	c.ensureSame()
}

func TestSnapshotRestoresIntoAFreshCluster(t *testing.T) {
	old := newTestCluster(t)
	old.startThree()
	leader := old.waitLeader()
	key := createPool(t, leader.node, "backup", 10)
	acked := writeVisits(t, old.running(), key, 0, 6)
	var backup bytes.Buffer
	if err := old.node("n2").node.Backup(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}

	fresh := newTestCluster(t)
	fresh.startThree()
	if err := fresh.waitLeader().node.Restore(context.Background(), bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatal(err)
	}
	fresh.ensureSame()
	for _, tn := range fresh.running() {
		checkAcked(t, tn.node.State(), acked)
	}
	// The fresh cluster keeps its own members, not the old cluster's.
	for _, n := range fresh.waitLeader().node.FSM().Nodes() {
		if fresh.node(n.ID) == nil || fresh.node(n.ID).httpAddr != n.HTTPAddr {
			t.Fatalf("restored cluster records %+v", n)
		}
	}
	// And it takes writes.
	mustApply(t, fresh.node("n3").node, &fsm.Assign{Visit: visitID(99), PoolKey: key, At: time.Now()})
	fresh.ensureSame()
}

func TestLeadershipTransfersOnRequestAndOnGracefulShutdown(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader()
	target := c.node("n3")
	if target == leader {
		target = c.node("n2")
	}
	if err := leader.node.TransferLeadership(context.Background(), target.id); err != nil {
		t.Fatal(err)
	}
	if got := c.waitLeader(); got != target {
		t.Fatalf("leader is %s, want %s", got.id, target.id)
	}
	key := createPool(t, target.node, "graceful", 4)
	// A graceful stop of the leader hands over at once, and loses nothing.
	acked := writeVisits(t, c.running(), key, 0, 3)
	c.stop(target.id)
	next := c.waitLeader()
	checkAcked(t, next.node.State(), acked)
	c.start(target.id)
	c.ensureSame()
}

func TestHeartbeatsAreCoalescedIntoOneTouch(t *testing.T) {
	c := newTestCluster(t)
	c.tune = func(cfg *cluster.Config) { cfg.HeartbeatFlush = 200 * time.Millisecond }
	c.startThree()
	leader := c.waitLeader()
	key := createPool(t, leader.node, "beats", 10)
	writeVisits(t, c.running(), key, 0, 10)
	follower := c.node("n2")
	if follower == leader {
		follower = c.node("n3")
	}
	before := follower.node.Status().LastIndex
	later := time.Now()
	for range 5 {
		for i := range 10 {
			follower.node.Heartbeat(visitID(i))
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		v := follower.node.State().Visit(visitID(9))
		if v != nil && !v.LastSeen().Before(later) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("heartbeats never reached the state")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// 50 heartbeats became a touch entry or two (and the leader's expiry
	// ticks), not 50 entries.
	if grown := follower.node.Status().LastIndex - before; grown > 10 {
		t.Fatalf("50 heartbeats grew the log by %d entries", grown)
	}
}

func TestNoLeaderLoopRunsOnAFollower(t *testing.T) {
	c := newTestCluster(t)
	var runs sync.Map
	var count atomic.Int32
	c.startThree()
	for _, tn := range c.running() {
		tn.node.OnLeader(func(ctx context.Context, n *cluster.Node) {
			runs.Store(n.ID(), true)
			count.Add(1)
			<-ctx.Done()
		})
	}
	leader := c.waitLeader()
	other := c.node("n2")
	if other == leader {
		other = c.node("n3")
	}
	if err := leader.node.TransferLeadership(context.Background(), other.id); err != nil {
		t.Fatal(err)
	}
	c.waitLeader()
	deadline := time.Now().Add(5 * time.Second)
	for count.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	runs.Range(func(id, _ any) bool {
		if id != other.id {
			t.Errorf("a leader loop ran on %v, which was not leader after the loop was added", id)
		}
		return true
	})
	if count.Load() != 1 {
		t.Fatalf("leader loop ran %d times, want once", count.Load())
	}
}

func TestRaftMetricsReachPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := cluster.ExportRaftMetrics(reg); err != nil {
		t.Fatal(err)
	}
	c := newTestCluster(t)
	c.start("n1")
	leader := c.waitLeader()
	createPool(t, leader.node, "metrics", 4)
	deadline := time.Now().Add(10 * time.Second)
	for {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, f := range families {
			names[f.GetName()] = true
		}
		if names["raft_apply"] && names["raft_commitTime"] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("raft metrics missing; have %v", names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestAnEmptyNodeWaitsUntilAnOperatorAddsIt(t *testing.T) {
	c := newTestCluster(t)
	c.tune = func(cfg *cluster.Config) { cfg.NoBootstrap = cfg.NodeID == "n4" }
	c.startThree()
	waiting := c.start("n4")
	time.Sleep(time.Second)
	if id, _ := waiting.node.Leader(); id != "" || waiting.node.IsLeader() {
		t.Fatalf("a node told not to bootstrap found leader %q", id)
	}
	leader := c.waitLeader("n1", "n2", "n3")
	err := leader.node.Join(context.Background(), cluster.JoinRequest{
		ID: "n4", RaftAddr: waiting.raftAddr, HTTPAddr: waiting.httpAddr, Voter: false,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.waitMembers(4)
	c.ensureSame()
}

func TestACallKeptInTheOutboxIsRecordedAfterARestartAndHealing(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader()
	createPool(t, leader.node, "calls", 4)
	called := leader.node.State().Pool("calls").Numbers()[0].E164
	var others []string
	for _, tn := range c.running() {
		if tn != leader {
			others = append(others, tn.id)
		}
	}
	// The old leader is cut off: it has no quorum, so a call it answers
	// cannot be recorded now.
	c.net.cut([]string{leader.id}, others)
	c.waitLeader(others...)
	sid := "CA00000000000000000000000000000042"
	_, applied, err := leader.node.ApplyOrKeep(context.Background(),
		&fsm.RecordCall{SID: sid, To: called, From: "+12125550100", At: time.Now()}, 200*time.Millisecond)
	if err != nil || applied {
		t.Fatalf("ApplyOrKeep on a cut-off node: applied %v, err %v; want kept", applied, err)
	}
	if n := leader.node.OutboxLen(); n != 1 {
		t.Fatalf("outbox holds %d writes, want 1", n)
	}
	// It crashes, the network heals, it comes back: the call is recorded.
	c.kill(leader.id)
	c.net.heal()
	back := c.start(leader.id)
	deadline := time.Now().Add(10 * time.Second)
	for back.node.State().Call(sid) == nil || back.node.OutboxLen() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the kept call was not recorded after the restart (outbox %d)", back.node.OutboxLen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.ensureSame()
	for _, tn := range c.running() {
		if call := tn.node.State().Call(sid); call == nil || call.PoolID != "calls" {
			t.Fatalf("node %s: call = %+v", tn.id, call)
		}
	}
}
