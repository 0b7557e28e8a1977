package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
)

func TestThreeNodesElectALeaderAndAgree(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	leader := c.Leader()
	key := leader.CreatePool("ads", 4)
	for i, tn := range c.Running() {
		r := tn.Command(&fsm.Assign{Visit: visitID(i), PoolKey: key, At: time.Now()})
		if r.Outcome != allocator.Fresh || r.Number == "" {
			t.Fatalf("visit through %s got %+v", tn.ID, r)
		}
	}
	c.EnsureSame()
	ms, err := c.Node("n2").Node.Members(context.Background())
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
	c := testkit.StartCluster(t, 3, testkit.Options{})
	follower := c.Followers()[0]
	key := follower.CreatePool("organic", 4)
	r1 := follower.Command(&fsm.Assign{Visit: visitID(1), PoolKey: key, At: time.Now()})
	// The same visit again, as a retry after a lost answer would send it:
	// it keeps its number and takes no second one.
	r2 := follower.Command(&fsm.Assign{Visit: visitID(1), PoolKey: key, At: time.Now()})
	if r1.Outcome != allocator.Fresh || r2.Outcome != allocator.Sticky || r1.Number != r2.Number {
		t.Fatalf("first %+v, retry %+v", r1, r2)
	}
	barrier := follower.Command(&fsm.Expire{At: time.Unix(1, 0)})
	if err := follower.Node.WaitApplied(context.Background(), barrier.Index); err != nil {
		t.Fatal(err)
	}
	p := follower.Node.State().PoolByKey(key)
	if got := p.Counts(); got.Live != 1 || got.Free != 3 {
		t.Fatalf("pool counts %+v, want one live visit", got)
	}
	c.EnsureSame()
}

// TestGroupCommitPutsConcurrentWritesInFewEntries shows many concurrent
// writes through one follower taking far fewer log entries than writes.
func TestGroupCommitPutsConcurrentWritesInFewEntries(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	follower := c.Followers()[0]
	key := follower.CreatePool("busy", 50)
	before := follower.Node.Status().LastIndex
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Go(func() {
			r, err := follower.Node.Commit(context.Background(), &fsm.Assign{Visit: visitID(1000 + i), PoolKey: key, At: time.Now()})
			if err != nil || r.Err != nil {
				t.Errorf("visit %d: %v %v", i, err, r.Err)
			}
		})
	}
	wg.Wait()
	entries := follower.Command(&fsm.Expire{At: time.Unix(1, 0)}).Index - before
	t.Logf("400 concurrent visits took %d log entries", entries)
	if entries > 200 {
		t.Fatalf("400 concurrent visits took %d log entries; group commit is not gathering them", entries)
	}
	c.EnsureSame()
}

func TestWritesResumeAfterTheLeaderIsKilled(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	leader := c.Leader()
	key := leader.CreatePool("failover", 20)
	var acked testkit.Acked
	writeVisits(&acked, c.Running(), key, 0, 10)
	c.Kill(leader.ID)
	start := time.Now()
	var survivor *testkit.Node
	for _, tn := range c.Running() {
		survivor = tn
	}
	// A write through a survivor waits for the new leader, then lands.
	r := survivor.Command(&fsm.Assign{Visit: visitID(100), PoolKey: key, At: time.Now()})
	t.Logf("writes resumed %v after the leader was killed", time.Since(start))
	acked.Add(visitID(100), r.Number)
	writeVisits(&acked, c.Running(), key, 200, 5)
	c.Start(leader.ID) // it comes back with its data and catches up
	acked.Check(t, c.EnsureSame())
}

// writeVisits makes visits first to first+n-1, spread over the nodes, and
// records the number each got.
func writeVisits(acked *testkit.Acked, nodes []*testkit.Node, key string, first, n int) {
	for i := range n {
		r := nodes[i%len(nodes)].Command(&fsm.Assign{Visit: visitID(first + i), PoolKey: key, At: time.Now()})
		acked.Add(visitID(first+i), r.Number)
	}
}

// visitID makes distinct visit ids that a test can name again, as a retry
// does.
func visitID(i int) allocator.VisitID {
	var id allocator.VisitID
	id[0], id[1], id[2], id[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
	id[15] = 0x7e
	return id
}

func TestAPartitionedMinorityRefusesWritesAndCatchesUpAfterHealing(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{Config: func(cfg *cluster.Config) { cfg.WriteTimeout = 2 * time.Second }})
	leader := c.Leader()
	key := leader.CreatePool("split", 10)
	// Cut the leader off: it becomes the minority.
	var majority []string
	for _, n := range c.Followers() {
		majority = append(majority, n.ID)
	}
	c.Cut([]string{leader.ID}, majority)
	newLeader := c.Leader(majority...)
	if _, err := leader.Node.Commit(context.Background(), &fsm.Assign{Visit: visitID(1), PoolKey: key, At: time.Now()}); !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("a write on the cut-off minority: %v, want ErrNoLeader", err)
	}
	var acked testkit.Acked
	writeVisits(&acked, []*testkit.Node{newLeader}, key, 10, 5)
	c.Heal()
	c.EnsureSame()
	acked.Check(t, leader.Node.State())
	if leader.Node.State().Visit(visitID(1)) != nil {
		t.Fatal("the write refused on the minority was applied")
	}
}

func TestANodeRestartsFromItsDataDirAndCatchesUp(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	leader := c.Leader()
	var keys []string
	for _, id := range []string{"r1", "r2", "r3", "r4", "r5", "r6"} {
		keys = append(keys, leader.CreatePool(id, 50))
	}
	follower := c.Followers()[0].ID
	c.Stop(follower)
	// Enough writes while it is away that the others snapshot and trim the
	// log: it catches up from a snapshot, not only from the log.
	var acked testkit.Acked
	for i, key := range keys {
		writeVisits(&acked, c.Running(), key, i*50, 50)
	}
	c.Start(follower)
	c.EnsureSame()
	acked.Check(t, c.Node(follower).Node.State())
}

func TestANodeJoinsAndLeaves(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	leader := c.Leader()
	key := leader.CreatePool("grow", 8)
	var acked testkit.Acked
	writeVisits(&acked, c.Running(), key, 0, 4)
	c.Start("n4", "n2") // through a follower: it is sent on to the leader
	c.WaitMembers(4)
	c.EnsureSame()
	acked.Check(t, c.Node("n4").Node.State())
	leader = c.Leader()
	if err := leader.Node.Remove(context.Background(), "n4"); err != nil {
		t.Fatal(err)
	}
	c.Stop("n4")
	c.WaitMembers(3)
	if _, ok := leader.Node.FSM().Node("n4"); ok {
		t.Fatal("a removed node is still recorded")
	}
	c.EnsureSame()
}

func TestSnapshotRestoresIntoAFreshCluster(t *testing.T) {
	old := testkit.StartCluster(t, 3, testkit.Options{})
	leader := old.Leader()
	key := leader.CreatePool("backup", 10)
	var acked testkit.Acked
	writeVisits(&acked, old.Running(), key, 0, 6)
	var backup bytes.Buffer
	if err := old.Node("n2").Node.Backup(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}

	fresh := testkit.StartCluster(t, 3, testkit.Options{})
	if err := fresh.Leader().Node.Restore(context.Background(), bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatal(err)
	}
	fresh.EnsureSame()
	for _, n := range fresh.Running() {
		acked.Check(t, n.Node.State())
	}
	// The fresh cluster keeps its own members, not the old cluster's.
	for _, n := range fresh.Leader().Node.FSM().Nodes() {
		if fresh.Node(n.ID).HTTPAddr != n.HTTPAddr {
			t.Fatalf("restored cluster records %+v", n)
		}
	}
	// And it takes writes.
	fresh.Node("n3").Command(&fsm.Assign{Visit: visitID(99), PoolKey: key, At: time.Now()})
	fresh.EnsureSame()
}

func TestLeadershipTransfersOnRequestAndOnGracefulShutdown(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	leader := c.Leader()
	target := c.Node("n3")
	if target == leader {
		target = c.Node("n2")
	}
	if err := leader.Node.TransferLeadership(context.Background(), target.ID); err != nil {
		t.Fatal(err)
	}
	if got := c.Leader(); got != target {
		t.Fatalf("leader is %s, want %s", got.ID, target.ID)
	}
	key := target.CreatePool("graceful", 4)
	// A graceful stop of the leader hands over at once, and loses nothing.
	var acked testkit.Acked
	writeVisits(&acked, c.Running(), key, 0, 3)
	c.Stop(target.ID)
	acked.Check(t, c.Leader().Node.State())
	c.Start(target.ID)
	c.EnsureSame()
}

func TestHeartbeatsAreCoalescedIntoOneTouch(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{Config: func(cfg *cluster.Config) { cfg.HeartbeatFlush = 200 * time.Millisecond }})
	leader := c.Leader()
	key := leader.CreatePool("beats", 10)
	writeVisits(new(testkit.Acked), c.Running(), key, 0, 10)
	follower := c.Followers()[0]
	before := follower.Node.Status().LastIndex
	later := time.Now()
	for range 5 {
		for i := range 10 {
			follower.Node.Heartbeat(visitID(i))
		}
	}
	testkit.Eventually(t, "the heartbeats to reach the state", func() bool {
		v := follower.Node.State().Visit(visitID(9))
		return v != nil && !v.LastSeen().Before(later)
	})
	// 50 heartbeats became a touch entry or two, not 50 entries.
	if grown := follower.Node.Status().LastIndex - before; grown > 10 {
		t.Fatalf("50 heartbeats grew the log by %d entries", grown)
	}
}

func TestNoLeaderLoopRunsOnAFollower(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	var runs sync.Map
	var count atomic.Int32
	for _, tn := range c.Running() {
		tn.Node.OnLeader(func(ctx context.Context, n *cluster.Node) {
			runs.Store(n.ID(), true)
			count.Add(1)
			<-ctx.Done()
		})
	}
	leader := c.Leader()
	other := c.Followers()[0]
	if err := leader.Node.TransferLeadership(context.Background(), other.ID); err != nil {
		t.Fatal(err)
	}
	c.Leader()
	testkit.Eventually(t, "the leader loop to run", func() bool { return count.Load() > 0 })
	runs.Range(func(id, _ any) bool {
		if id != other.ID {
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
	testkit.StartNode(t, testkit.Options{}).CreatePool("metrics", 4)
	testkit.Eventually(t, "raft's metrics in the registry", func() error {
		families, err := reg.Gather()
		if err != nil {
			return err
		}
		names := map[string]bool{}
		for _, f := range families {
			names[f.GetName()] = true
		}
		if !names["raft_apply"] || !names["raft_commitTime"] {
			return fmt.Errorf("raft metrics missing; have %v", names)
		}
		return nil
	})
}

func TestAnEmptyNodeWaitsUntilAnOperatorAddsIt(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{Config: func(cfg *cluster.Config) { cfg.NoBootstrap = cfg.NodeID == "n4" }})
	waiting := c.Start("n4")
	time.Sleep(time.Second)
	if id, _ := waiting.Node.Leader(); id != "" || waiting.Node.IsLeader() {
		t.Fatalf("a node told not to bootstrap found leader %q", id)
	}
	leader := c.Leader("n1", "n2", "n3")
	err := leader.Node.Join(context.Background(), cluster.JoinRequest{
		ID: "n4", RaftAddr: waiting.RaftAddr, HTTPAddr: waiting.HTTPAddr, Voter: false,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.WaitMembers(4)
	c.EnsureSame()
}

func TestACallKeptInTheOutboxIsRecordedAfterARestartAndHealing(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	leader := c.Leader()
	leader.CreatePool("calls", 4)
	called := leader.Node.State().Pool("calls").Numbers()[0].E164
	var others []string
	for _, n := range c.Followers() {
		others = append(others, n.ID)
	}
	// The old leader is cut off: it has no quorum, so a call it answers
	// cannot be recorded now.
	c.Cut([]string{leader.ID}, others)
	c.Leader(others...)
	sid := "CA00000000000000000000000000000042"
	_, committed, err := leader.Node.CommitOrKeep(context.Background(),
		&fsm.RecordCall{SID: sid, To: called, From: "+12125550100", At: time.Now()}, 200*time.Millisecond)
	if err != nil || committed {
		t.Fatalf("CommitOrKeep on a cut-off node: committed %v, err %v; want kept", committed, err)
	}
	if n := leader.Node.OutboxLen(); n != 1 {
		t.Fatalf("outbox holds %d writes, want 1", n)
	}
	// It crashes, the network heals, it comes back: the call is recorded.
	c.Kill(leader.ID)
	c.Heal()
	back := c.Start(leader.ID)
	testkit.Eventually(t, "the kept call to be recorded after the restart", func() error {
		if back.Node.State().Call(sid) == nil || back.Node.OutboxLen() > 0 {
			return fmt.Errorf("outbox holds %d", back.Node.OutboxLen())
		}
		return nil
	})
	c.EnsureSame()
	for _, tn := range c.Running() {
		if call := tn.Node.State().Call(sid); call == nil || call.PoolID != "calls" {
			t.Fatalf("node %s: call = %+v", tn.ID, call)
		}
	}
}
