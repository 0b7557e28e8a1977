package main

import (
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dni-dev/dni/internal/testkit"
)

// A StatefulSet or a compose file gives every node the same settings: the
// same --join and --first-node. The named node starts the cluster, the
// others join it, whatever order they start in, and the health check says
// which of them serve.
func TestNodesGivenTheSameJoinAndFirstNodeFormOneCluster(t *testing.T) {
	c := &testkit.ProcessCluster{T: t, Secret: "test-secret-" + testkit.NewVisitID().String()}
	c.Client = testkit.OperatorClient(t, c.Secret)
	addrs := testkit.FreeAddrs(t, 6)
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		args := append(slices.Clone(testkit.FastFlags), "--node-id", name, "--http-addr", addrs[2*i], "--raft-addr", addrs[2*i+1],
			"--data-dir", filepath.Join(t.TempDir(), "data"))
		env := []string{"DNI_CLUSTER_SECRET=" + c.Secret, "DNI_JOIN=" + addrs[1], "DNI_FIRST_NODE=n1"}
		c.Nodes = append(c.Nodes, testkit.NewProcess(t, name, addrs[2*i], args, env))
	}
	// The joiners first: they wait for the first node.
	for _, p := range slices.Backward(c.Nodes) {
		p.Start()
	}
	for _, p := range c.Nodes {
		p.WaitReady()
	}
	c.WaitMembers(3)

	for _, p := range c.Nodes {
		runBinary(t, "", nil, "health", "--addr", p.HTTPAddr)
	}
	n3 := c.Node("n3")
	// As a container's HEALTHCHECK runs it: no --addr, the node's environment.
	_, port, _ := net.SplitHostPort(n3.HTTPAddr)
	runBinary(t, "", []string{"DNI_HTTP_ADDR=0.0.0.0:" + port}, "health", "--live")
	n3.Kill()
	cmd := testkit.Command(t, "", nil, "health", "--addr", n3.HTTPAddr)
	if out, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("health of a killed node: %v, exit code %d, want 1:\n%s", err, cmd.ProcessState.ExitCode(), out)
	}
}

func TestFirstNodeNeedsTheJoinTheOthersUse(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"--first-node", "n1"}, &stderr, &stderr, env(nil)); code != 2 ||
		!bytes.Contains(stderr.Bytes(), []byte("--first-node n1 says which node does not join")) {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
}

func TestTheHealthCheckFindsTheNodeFromItsListenAddress(t *testing.T) {
	for listen, want := range map[string]string{
		"":                 "127.0.0.1:8080",
		"0.0.0.0:9000":     "127.0.0.1:9000",
		":9001":            "127.0.0.1:9001",
		"[::]:9002":        "127.0.0.1:9002",
		"10.1.2.3:9003":    "10.1.2.3:9003",
		"127.0.0.1:0":      "127.0.0.1:8080",
		"node1.local:9004": "node1.local:9004",
	} {
		vars := map[string]string{}
		if listen != "" {
			vars["DNI_HTTP_ADDR"] = listen
		}
		if got := localAddr(env(vars)); got != want {
			t.Errorf("DNI_HTTP_ADDR=%q: health asks %s, want %s", listen, got, want)
		}
	}
}
