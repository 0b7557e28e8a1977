package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
)

// clusterNode starts node id of a cluster whose data lives under dir, Raft
// and HTTP on real sockets, its server with a metrics registry of its own.
// tune adjusts its configuration (Join, NoBootstrap).
func clusterNode(t testing.TB, dir, id string, tune func(*cluster.Config)) *testAPI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.Config{
		NodeID: id, DataDir: filepath.Join(dir, id), RaftAddr: "127.0.0.1:0", HTTPAdvertise: ln.Addr().String(),
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLease: 150 * time.Millisecond, WriteTimeout: 5 * time.Second, ExpireEvery: time.Hour,
	}
	if tune != nil {
		tune(&cfg)
	}
	node, err := cluster.Start(context.Background(), cfg, httpapi.NewClient(secret), nil)
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	reg := prometheus.NewRegistry()
	srv := httpapi.New(node, httpapi.Options{Secret: secret, Registry: reg, Gatherer: reg})
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		node.Halt()
	})
	return &testAPI{t: t, url: "http://" + ln.Addr().String(), node: node}
}

// startThreeNodes runs a three-node cluster in this process: n1 bootstraps,
// n2 and n3 join it through its HTTP API. It returns once every node knows
// every other and the first admin token, which each node's client carries.
func startThreeNodes(t testing.TB) []*testAPI {
	t.Helper()
	dir := t.TempDir()
	first := clusterNode(t, dir, "n1", nil)
	waitFor(t, "n1 to lead", first.node.IsLeader)
	nodes := []*testAPI{first}
	for _, id := range []string{"n2", "n3"} {
		nodes = append(nodes, clusterNode(t, dir, id, func(c *cluster.Config) { c.Join = []string{first.url} }))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, err := httpapi.EnsureAdminToken(ctx, first.node, "")
	if err != nil || token == "" {
		t.Fatalf("first admin token: %q %v", token, err)
	}
	for _, n := range nodes {
		n.token = token
		waitFor(t, "every node to know the others and the token", func() bool {
			return n.node.Ready() && len(n.node.FSM().Nodes()) == 3 && len(n.node.FSM().Tokens()) == 1
		})
	}
	return nodes
}

// waitFor waits up to 10 s for cond.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaderOf(t testing.TB, nodes []*testAPI) (leader *testAPI, followers []*testAPI) {
	t.Helper()
	for _, n := range nodes {
		if n.node.IsLeader() {
			leader = n
		} else {
			followers = append(followers, n)
		}
	}
	if leader == nil {
		t.Fatal("no leader")
	}
	return leader, followers
}

// catchUp waits until every node has applied what the leader has. (Not
// with Node.CatchUp: see TestTheLeaderIsStillReadyAfterABackup.)
func catchUp(t testing.TB, nodes []*testAPI) {
	t.Helper()
	leader, _ := leaderOf(t, nodes)
	index := leader.node.FSM().AppliedIndex()
	for _, n := range nodes {
		waitFor(t, n.node.ID()+" to catch up", func() bool { return n.node.FSM().AppliedIndex() >= index })
	}
}

func TestAFollowerAnswersVisitorsAsWellAsTheLeader(t *testing.T) {
	nodes := startThreeNodes(t)
	leader, followers := leaderOf(t, nodes)
	if len(followers) != 2 {
		t.Fatalf("%d followers", len(followers))
	}
	p := leader.createPool(nil, numbersFrom(123, 6)...)
	catchUp(t, nodes)

	held := map[string]string{} // number -> visit
	for i, n := range nodes {
		v := n.visit(p.Key, map[string]any{"utm_source": n.node.ID()})
		if !visitID.MatchString(v.Visit) || v.Display != httpapi.Display(v.Number) || v.Target != swapTarget {
			t.Errorf("%s: visit %+v", n.node.ID(), v)
		}
		if other, ok := held[v.Number]; ok {
			t.Fatalf("%s gave %s, which visit %s holds", n.node.ID(), v.Number, other)
		}
		held[v.Number] = v.Visit
		// The next node may not have applied the visit yet: its heartbeat
		// catches up before it could say the visit is gone.
		for _, m := range []*testAPI{n, nodes[(i+1)%len(nodes)]} {
			r := m.heartbeat(v.Visit)
			wantStatus(t, r, http.StatusOK)
			var h visitReply
			decode(t, r, &h)
			if h.Visit != v.Visit || h.Number != v.Number {
				t.Errorf("heartbeat on %s of a visit made on %s: %s, visit %+v", m.node.ID(), n.node.ID(), r, v)
			}
		}
		wantProblem(t, n.heartbeat("0123456789abcdef0123456789abcdef"), http.StatusGone, "")
	}
	catchUp(t, nodes)
	for _, n := range nodes {
		var list struct {
			Visits []struct {
				Visit  string `json:"visit"`
				Number string `json:"number"`
			} `json:"visits"`
		}
		decode(t, n.admin("GET", "/v1/pools/"+p.ID+"/visits", nil), &list)
		if len(list.Visits) != 3 {
			t.Errorf("%s lists %d visits", n.node.ID(), len(list.Visits))
		}
		for _, v := range list.Visits {
			if held[v.Number] != v.Visit {
				t.Errorf("%s: %s holds %s", n.node.ID(), v.Visit, v.Number)
			}
		}
	}
}

func TestTheAdminAPIMovesLeadershipAndAddsAndRemovesNodes(t *testing.T) {
	nodes := startThreeNodes(t)
	leader, followers := leaderOf(t, nodes)
	next, other := followers[0], followers[1]

	r := next.admin("POST", "/v1/cluster/leader", map[string]any{"id": next.node.ID()})
	if p := wantProblem(t, r, http.StatusConflict, ""); !p.NotLeader || p.LeaderID != leader.node.ID() || "http://"+p.LeaderHTTP != leader.url {
		t.Errorf("a follower asked to move leadership: %s", r)
	}
	wantStatus(t, leader.admin("POST", "/v1/cluster/leader", map[string]any{"id": next.node.ID()}), http.StatusNoContent)
	waitFor(t, next.node.ID()+" to lead", next.node.IsLeader)

	wantStatus(t, next.admin("DELETE", "/v1/cluster/nodes/"+other.node.ID(), nil), http.StatusNoContent)
	members := func(n *testAPI) []string {
		r := n.admin("GET", "/v1/cluster", nil)
		wantStatus(t, r, http.StatusOK)
		var ms []cluster.Member
		decode(t, r, &ms)
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
			if m.Voter != (m.ID != "n4") || m.Leader != (m.ID == next.node.ID()) {
				t.Errorf("%s lists %+v", n.node.ID(), m)
			}
		}
		slices.Sort(ids)
		return ids
	}
	want := []string{leader.node.ID(), next.node.ID()}
	slices.Sort(want)
	if got := members(next); !slices.Equal(got, want) {
		t.Errorf("members after the removal: %v, want %v", got, want)
	}

	// A fourth node waits to be added, and the admin adds it as a
	// non-voter through the leader.
	fourth := clusterNode(t, t.TempDir(), "n4", func(c *cluster.Config) { c.NoBootstrap = true })
	join := map[string]any{"id": "n4", "raft_addr": fourth.node.RaftAddr(), "http_addr": strings.TrimPrefix(fourth.url, "http://"), "voter": false}
	wantProblem(t, leader.admin("POST", "/v1/cluster/nodes", join), http.StatusConflict, "")
	wantStatus(t, next.admin("POST", "/v1/cluster/nodes", join), http.StatusNoContent)
	want = append(want, "n4")
	if got := members(next); !slices.Equal(got, want) {
		t.Errorf("members after the join: %v, want %v", got, want)
	}
	waitFor(t, "n4 to follow", func() bool { id, _ := fourth.node.Leader(); return id == next.node.ID() })

	t.Run("moving leadership to a node not in the cluster is a client mistake", func(t *testing.T) {
		r := next.admin("POST", "/v1/cluster/leader", map[string]any{"id": "n9"})
		if r.status < 400 || r.status >= 500 {
			t.Errorf("want a 4xx, got %s", r)
		}
	})
}
