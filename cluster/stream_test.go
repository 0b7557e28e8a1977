package cluster_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dni-dev/dni/internal/testkit"
)

// In Docker and Kubernetes a node keeps its name across restarts but not
// its IP address, so the cluster must record the name it advertises.
func TestNodesAdvertisingHostNamesAreRecordedAndReachedByName(t *testing.T) {
	c := testkit.StartCluster(t, 2, testkit.Options{HostNames: true})
	for _, n := range c.Running() {
		if got := n.Node.RaftAddr(); !strings.HasPrefix(got, "localhost:") {
			t.Fatalf("%s advertises Raft at %s, want its name", n.ID, got)
		}
	}
	follower := c.Followers()[0]
	follower.CreatePool("named", 4) // forwarded to the leader, who replicates it back by name
	ms, err := follower.Node.Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("members: %+v", ms)
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.RaftAddr, "localhost:") || !strings.HasPrefix(m.HTTPAddr, "localhost:") || m.Status == nil || !m.Status.Ready {
			t.Errorf("member %s: raft %s, http %s, status %+v, error %q; want it recorded by name and ready", m.ID, m.RaftAddr, m.HTTPAddr, m.Status, m.Error)
		}
	}
}
