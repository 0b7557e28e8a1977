package cluster_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
)

// In Docker and Kubernetes a node keeps its name across restarts but not
// its IP address, so the cluster must record the name it advertises.
func TestNodesAdvertisingHostNamesAreRecordedAndReachedByName(t *testing.T) {
	start := func(id string, join ...string) *cluster.Node {
		t.Helper()
		httpLn := listen(t, "127.0.0.1:0")
		raftLn := listen(t, "127.0.0.1:0")
		raftAddr := raftLn.Addr().String()
		raftLn.Close()
		_, port, _ := net.SplitHostPort(raftAddr)
		_, httpPort, _ := net.SplitHostPort(httpLn.Addr().String())
		cfg := cluster.Config{
			NodeID: id, DataDir: t.TempDir(), Join: join,
			RaftAddr: raftAddr, RaftAdvertise: "localhost:" + port,
			HTTPAdvertise: "localhost:" + httpPort,
		}
		fastConfig(&cfg)
		node, err := cluster.Start(context.Background(), cfg, httpapi.NewClient(testSecret), nil)
		if err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
		reg := prometheus.NewRegistry()
		srv := httpapi.New(node, httpapi.Options{Secret: testSecret, Registry: reg, Gatherer: reg})
		go srv.Serve(httpLn)
		t.Cleanup(func() {
			srv.Shutdown(context.Background())
			node.Shutdown(context.Background())
		})
		if got, want := node.RaftAddr(), "localhost:"+port; got != want {
			t.Fatalf("%s advertises Raft at %s, want %s", id, got, want)
		}
		return node
	}
	first := start("a")
	waitFor(t, 5*time.Second, "a leads", first.IsLeader)
	var leaderHTTP string
	waitFor(t, 5*time.Second, "a records its addresses", func() bool {
		_, leaderHTTP = first.Leader()
		return leaderHTTP != ""
	})
	second := start("b", leaderHTTP)
	waitFor(t, 5*time.Second, "b is ready", second.Ready)

	createPool(t, second, "named", 4) // forwarded to the leader, who replicates it back by name
	ms, err := second.Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("members: %+v", ms)
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.RaftAddr, "localhost:") || m.Status == nil || !m.Status.Ready {
			t.Errorf("member %s: raft %s, status %+v, error %q; want it recorded by name and ready", m.ID, m.RaftAddr, m.Status, m.Error)
		}
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
