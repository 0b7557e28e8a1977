package provision_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision"
)

// fastAutoscaler looks every 20 ms, grows after 150 ms of need and shrinks
// after 600 ms of quiet, buying at most 10 numbers a day per pool.
func fastAutoscaler(t *testing.T, id string) *provision.Autoscaler {
	return &provision.Autoscaler{
		Every: 20 * time.Millisecond, GrowAfter: 150 * time.Millisecond, ShrinkAfter: 600 * time.Millisecond,
		DailyCap: 10, Log: testkit.Logger(t, id),
	}
}

// autoscaledRig is a cluster whose leader runs the reconciler and the
// autoscaler against one stand-in account.
func autoscaledRig(t *testing.T, nodes int) (account, *testkit.Cluster) {
	t.Helper()
	acct := newAccount(t)
	c := testkit.StartCluster(t, nodes, testkit.Options{Config: func(cfg *cluster.Config) {
		rec := newReconciler(acct.tw, nil, time.Hour, testkit.Logger(t, cfg.NodeID))
		cfg.LeaderLoops = append(cfg.LeaderLoops,
			func(ctx context.Context, n *cluster.Node) { rec.Run(ctx, n) },
			func(ctx context.Context, n *cluster.Node) { a := fastAutoscaler(t, cfg.NodeID); a.Run(ctx, n) })
	}})
	return acct, c
}

func createAutoscaledPool(t *testing.T, n *testkit.Node, id string, min, max int) {
	t.Helper()
	st := allocator.Settings{
		Name: id, Size: min, AreaCode: "415", SwapTarget: businessNumber, ForwardTo: []string{"+14155550100"},
		Autoscale: allocator.Autoscale{MinSize: min, MaxSize: max},
	}.WithDefaults()
	n.Command(&fsm.CreatePool{ID: id, Key: "key-" + id, Settings: st, At: time.Now()})
}

// visits starts k visits to the pool and returns their ids.
func visits(t *testing.T, n *testkit.Node, pool string, first, k int) []allocator.VisitID {
	t.Helper()
	var ids []allocator.VisitID
	for i := first; i < first+k; i++ {
		var id allocator.VisitID
		id[0], id[1], id[15] = 0xa5, byte(i), byte(i>>8)
		// Unguarded: a visit over the pool's budget, or finding it full,
		// takes the number of the least recently seen visit all the same.
		n.Command(&fsm.Assign{Visit: id, PoolKey: "key-" + pool, At: time.Now(), Unguarded: true})
		ids = append(ids, id)
	}
	return ids
}

// leave ends every visit of the tests but stay, as an expiry past the idle
// timeout would: stay beat once more just before.
func leave(t *testing.T, n *testkit.Node, stay []allocator.VisitID) {
	t.Helper()
	now := time.Now()
	n.Command(&fsm.Touch{Visits: stay, At: now.Add(allocator.DefaultIdleTimeout - 10*time.Second)})
	n.Command(&fsm.Expire{At: now.Add(allocator.DefaultIdleTimeout + 20*time.Second)})
}

func sizeOf(n *testkit.Node, pool string) int { return n.Node.State().Pool(pool).Settings().Size }

func TestAnAutoscaledPoolGrowsWithinItsCapAndShrinksByIdleNumbersWhenTrafficFalls(t *testing.T) {
	acct, c := autoscaledRig(t, 1)
	n := c.Leader()
	createAutoscaledPool(t, n, "ads", 4, 20)
	waitActive(t, n, acct.sb, "ads")

	// 12 live visits on 4 numbers need 16 numbers at 75 %; the cap of 10
	// a day lets the pool reach 14.
	live := visits(t, n, "ads", 0, 12)
	// The autoscaler may grow in steps while the visits arrive; the cap
	// stops it at 14 however it went.
	testkit.Eventually(t, "the pool to grow to 14", func() bool { return sizeOf(n, "ads") == 14 })
	p := waitActive(t, n, acct.sb, "ads")
	grown := 0
	for _, h := range p.History() {
		if !h.Auto || h.To <= h.From || !strings.Contains(h.Reason, "75 %") {
			t.Fatalf("a growth is kept as %+v", h)
		}
		grown += h.To - h.From
	}
	if grew := p.LastResize(); grown != 10 || grew.To != 14 || !strings.Contains(grew.Reason, "daily cap of 10") {
		t.Fatalf("grew by %d, the last growth kept as %+v; want 10 in all, the last one capped", grown, grew)
	}
	growths := len(p.History())
	// More traffic, the same day: the cap is spent.
	live = append(live, visits(t, n, "ads", 12, 6)...)
	time.Sleep(400 * time.Millisecond)
	if got := sizeOf(n, "ads"); got != 14 {
		t.Fatalf("the pool grew to %d past its daily cap", got)
	}

	// Traffic falls: all but two visits leave; after a quiet spell the
	// pool shrinks to its minimum, by idle numbers only.
	stay := live[len(live)-2:] // the latest: a recycled number is never theirs
	leave(t, n, stay)
	testkit.Eventually(t, "the pool to shrink", func() bool { return sizeOf(n, "ads") < 14 })
	p = waitActive(t, n, acct.sb, "ads")
	shrank := p.LastResize()
	if p.Settings().Size != 4 || !shrank.Auto || shrank.From != 14 || shrank.To != 4 || !strings.Contains(shrank.Reason, "nobody held") {
		t.Fatalf("shrank to %d, kept as %+v; want 4 at once: every number but the two held is idle", p.Settings().Size, shrank)
	}
	for _, id := range stay {
		if v := n.Node.State().Visit(id); v == nil || v.Number() == nil || v.Number().State() != allocator.NumberActive {
			t.Errorf("visit %s lost its number to the shrink", id)
		}
	}
	if st := acct.sb.Stats(); st.Buys != 14 || st.Releases != 10 {
		t.Errorf("the account saw %d buys and %d releases, want 14 and 10", st.Buys, st.Releases)
	}
	if h := p.History(); len(h) != growths+1 {
		t.Errorf("history %+v, want the growth and the shrink", h)
	}
}

func TestALeaderKilledDuringAResizeBuysAndReleasesNothingTwice(t *testing.T) {
	acct, c := autoscaledRig(t, 3)
	createAutoscaledPool(t, c.Leader(), "ads", 4, 12)
	waitActive(t, c.Leader(), acct.sb, "ads")

	live := visits(t, c.Leader(), "ads", 0, 8) // need 11
	testkit.Eventually(t, "the pool to grow", func() bool { return sizeOf(c.Leader(), "ads") > 4 })
	first := c.Leader().ID
	c.Kill(first) // while the reconciler buys
	leader := c.Leader()
	testkit.Eventually(t, "the pool to grow to 11", func() bool { return sizeOf(leader, "ads") == 11 })
	waitActive(t, leader, acct.sb, "ads")
	if st := acct.sb.Stats(); st.Buys != 11 {
		t.Errorf("the account saw %d buys for 11 numbers", st.Buys)
	}

	c.Start(first) // back, so that the cluster keeps a majority after the next kill
	leave(t, leader, live[len(live)-1:])
	testkit.Eventually(t, "the pool to shrink", func() bool { return sizeOf(leader, "ads") < 11 })
	c.Kill(leader.ID) // while the reconciler releases
	leader = c.Leader()
	p := waitActive(t, leader, acct.sb, "ads")
	if got := p.Settings().Size; got != 4 {
		t.Fatalf("shrank to %d, want 4", got)
	}
	st := acct.sb.Stats()
	if st.Buys != 11 || st.Releases != 7 {
		t.Errorf("the account saw %d buys and %d releases, want 11 and 7", st.Buys, st.Releases)
	}
	var auto []string
	for _, h := range p.History() {
		auto = append(auto, fmt.Sprintf("%d→%d", h.From, h.To))
	}
	if !strings.HasSuffix(strings.Join(auto, " "), "→11 11→4") {
		t.Errorf("history %v, want growth to 11, then one shrink", auto)
	}
	c.EnsureSame()
}
