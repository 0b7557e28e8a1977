package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// apis is every running node's API as test t reaches it, the leader first.
func apis(t testing.TB, c *testkit.Cluster) []*testAPI {
	t.Helper()
	nodes := []*testAPI{api(t, c.Leader())}
	for _, n := range c.Followers() {
		nodes = append(nodes, api(t, n))
	}
	return nodes
}

func TestAFollowerAnswersVisitorsAsWellAsTheLeader(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{})
	nodes := apis(t, c)
	if len(nodes) != 3 {
		t.Fatalf("%d nodes", len(nodes))
	}
	p := nodes[0].createPool(nil, numbersFrom(123, 6)...)
	c.EnsureSame()

	held := map[string]string{} // number -> visit
	for i, n := range nodes {
		v := n.visit(p.Key, map[string]any{"utm_source": n.ID})
		if !visitID.MatchString(v.Visit) || v.Display != httpapi.Display(v.Number) || v.Target != testkit.BusinessNumber {
			t.Errorf("%s: visit %+v", n.ID, v)
		}
		if other, ok := held[v.Number]; ok {
			t.Fatalf("%s gave %s, which visit %s holds", n.ID, v.Number, other)
		}
		held[v.Number] = v.Visit
		// The next node may not have applied the visit yet: its heartbeat
		// catches up before it could say the visit is gone.
		for _, m := range []*testAPI{n, nodes[(i+1)%len(nodes)]} {
			r := m.heartbeat(v.Visit)
			wantStatus(t, r, http.StatusOK)
			var h visitReply
			r.Decode(t, &h)
			if h.Visit != v.Visit || h.Number != v.Number {
				t.Errorf("heartbeat on %s of a visit made on %s: %s, visit %+v", m.ID, n.ID, r, v)
			}
		}
		wantProblem(t, n.heartbeat("0123456789abcdef0123456789abcdef"), http.StatusGone, "")
	}
	for _, n := range nodes {
		var list struct {
			Visits []struct {
				Visit  string `json:"visit"`
				Number string `json:"number"`
			} `json:"visits"`
		}
		// Heartbeats are committed in batches, so the nodes' states may
		// differ for a moment yet: each node lists what it has applied.
		testkit.Eventually(t, n.ID+" to list the 3 visits", func() error {
			n.AdminOK("GET", "/v1/pools/"+p.ID+"/visits", nil, http.StatusOK, &list)
			if len(list.Visits) != 3 {
				return fmt.Errorf("%s lists %d visits", n.ID, len(list.Visits))
			}
			return nil
		})
		for _, v := range list.Visits {
			if held[v.Number] != v.Visit {
				t.Errorf("%s: %s holds %s", n.ID, v.Visit, v.Number)
			}
		}
	}
}

func TestTheAdminAPIMovesLeadershipAndAddsAndRemovesNodes(t *testing.T) {
	c := testkit.StartCluster(t, 3, testkit.Options{Config: func(cfg *cluster.Config) {
		cfg.NoBootstrap = cfg.NodeID == "n4" // started on its own, it waits to be added
	}})
	nodes := apis(t, c)
	leader, next, other := nodes[0], nodes[1], nodes[2]

	r := next.Admin("POST", "/v1/cluster/leader", map[string]any{"id": next.ID})
	if p := wantProblem(t, r, http.StatusConflict, ""); !p.NotLeader || p.LeaderID != leader.ID || "http://"+p.LeaderHTTP != leader.URL {
		t.Errorf("a follower asked to move leadership: %s", r)
	}
	wantStatus(t, leader.Admin("POST", "/v1/cluster/leader", map[string]any{"id": next.ID}), http.StatusNoContent)
	testkit.Eventually(t, next.ID+" to lead", next.Node.Node.IsLeader)

	wantStatus(t, next.Admin("DELETE", "/v1/cluster/nodes/"+other.ID, nil), http.StatusNoContent)
	members := func(n *testAPI) []string {
		r := n.Admin("GET", "/v1/cluster", nil)
		wantStatus(t, r, http.StatusOK)
		var ms []cluster.Member
		r.Decode(t, &ms)
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
			if m.Voter != (m.ID != "n4") || m.Leader != (m.ID == next.ID) {
				t.Errorf("%s lists %+v", n.ID, m)
			}
		}
		slices.Sort(ids)
		return ids
	}
	want := []string{leader.ID, next.ID}
	slices.Sort(want)
	if got := members(next); !slices.Equal(got, want) {
		t.Errorf("members after the removal: %v, want %v", got, want)
	}

	// A fourth node waits to be added, and the admin adds it as a
	// non-voter through the leader.
	fourth := c.Start("n4")
	join := map[string]any{"id": "n4", "raft_addr": fourth.RaftAddr, "http_addr": fourth.HTTPAddr, "voter": false}
	wantProblem(t, leader.Admin("POST", "/v1/cluster/nodes", join), http.StatusConflict, "")
	wantStatus(t, next.Admin("POST", "/v1/cluster/nodes", join), http.StatusNoContent)
	want = append(want, "n4")
	if got := members(next); !slices.Equal(got, want) {
		t.Errorf("members after the join: %v, want %v", got, want)
	}
	testkit.Eventually(t, "n4 to follow", func() bool { id, _ := fourth.Node.Leader(); return id == next.ID })

	t.Run("moving leadership to a node not in the cluster is a client mistake", func(t *testing.T) {
		r := next.Admin("POST", "/v1/cluster/leader", map[string]any{"id": "n9"})
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("want a 4xx, got %s", r)
		}
	})
}
