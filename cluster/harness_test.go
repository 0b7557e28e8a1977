package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
)

const testSecret = "test-cluster-secret"

// testCluster runs nodes in this process, each with its own data dir, Raft
// over real TCP on 127.0.0.1 and its HTTP API on a real socket. Every node
// checks the allocator's rules after every batch it applies.
type testCluster struct {
	t     testing.TB
	dir   string
	net   *network
	mu    sync.Mutex
	nodes map[string]*testNode
	raft  map[string]string // Raft address -> node id
	tune  func(*cluster.Config)
	// unchecked turns off the check after every batch, for benchmarks.
	unchecked bool
}

type testNode struct {
	id       string
	dir      string
	node     *cluster.Node
	srv      *httpapi.Server
	httpAddr string
	raftAddr string
	broken   chan error // the first broken rule seen in this node's history
}

func newTestCluster(t testing.TB) *testCluster {
	c := &testCluster{t: t, dir: t.TempDir(), net: newNetwork(), nodes: map[string]*testNode{}, raft: map[string]string{}}
	t.Cleanup(c.stopAll)
	return c
}

// fastConfig makes elections take a fraction of a second, as they can on
// one host.
func fastConfig(cfg *cluster.Config) {
	cfg.HeartbeatTimeout = 300 * time.Millisecond
	cfg.ElectionTimeout = 300 * time.Millisecond
	cfg.LeaderLease = 150 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
	cfg.WriteTimeout = 5 * time.Second
	cfg.LeaderGrace = time.Second
	cfg.SnapshotThreshold = 256
	cfg.TrailingLogs = 64
}

// start starts node id (again, if it ran before: same data dir, same
// addresses), joining the given nodes if it has no state yet.
func (c *testCluster) start(id string, join ...string) *testNode {
	c.t.Helper()
	c.mu.Lock()
	old := c.nodes[id]
	c.mu.Unlock()
	tn := &testNode{id: id, dir: filepath.Join(c.dir, id), broken: make(chan error, 1)}
	httpAddr, raftAddr := "127.0.0.1:0", "127.0.0.1:0"
	if old != nil {
		httpAddr, raftAddr = old.httpAddr, old.raftAddr
	}
	httpLn := listen(c.t, httpAddr)
	raftLn := listen(c.t, raftAddr)
	tn.httpAddr, tn.raftAddr = httpLn.Addr().String(), raftLn.Addr().String()
	c.mu.Lock()
	c.raft[tn.raftAddr] = id
	c.net.mu.Lock()
	c.net.http[tn.httpAddr] = id
	c.net.mu.Unlock()
	var joinHTTP []string
	for _, j := range join {
		joinHTTP = append(joinHTTP, c.nodes[j].httpAddr)
	}
	c.mu.Unlock()

	cfg := cluster.Config{
		NodeID: id, DataDir: tn.dir, HTTPAdvertise: tn.httpAddr, Join: joinHTTP,
		Stream: &linkLayer{Listener: raftLn, w: c.net, self: id, ids: c.idOfRaft},
		Observe: func(index uint64, s *allocator.State) {
			if err := s.Verify(); err != nil {
				select {
				case tn.broken <- fmt.Errorf("node %s at index %d: %w", id, index, err):
				default:
				}
			}
		},
	}
	if c.unchecked {
		cfg.Observe = nil
	}
	fastConfig(&cfg)
	if c.tune != nil {
		c.tune(&cfg)
	}
	peers := &cutPeers{Peers: httpapi.NewClient(testSecret), w: c.net, self: id}
	node, err := cluster.Start(context.Background(), cfg, peers, nil)
	if err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
	tn.node = node
	reg := prometheus.NewRegistry()
	tn.srv = httpapi.New(node, httpapi.Options{Secret: testSecret, Registry: reg, Gatherer: reg})
	go tn.srv.Serve(httpLn)
	c.mu.Lock()
	c.nodes[id] = tn
	c.mu.Unlock()
	return tn
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	// A restarted node takes its old port back; the OS may hold it briefly.
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

func (c *testCluster) idOfRaft(addr string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raft[addr]
}

// startThree starts a bootstrapped node and two that join it.
func (c *testCluster) startThree() {
	c.start("n1")
	c.waitLeader()
	c.start("n2", "n1")
	c.start("n3", "n1")
	c.waitMembers(3)
}

func (c *testCluster) running() []*testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*testNode
	for _, id := range sortedKeys(c.nodes) {
		if n := c.nodes[id]; n.node != nil {
			out = append(out, n)
		}
	}
	return out
}

func (c *testCluster) node(id string) *testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// kill stops a node as a crash would.
func (c *testCluster) kill(id string) {
	tn := c.node(id)
	tn.srv.Shutdown(context.Background())
	tn.node.Halt()
	c.check(tn)
	tn.node = nil
}

// stop shuts a node down gracefully.
func (c *testCluster) stop(id string) {
	tn := c.node(id)
	tn.srv.Shutdown(context.Background())
	if err := tn.node.Shutdown(context.Background()); err != nil {
		c.t.Errorf("shutdown %s: %v", id, err)
	}
	c.check(tn)
	tn.node = nil
}

func (c *testCluster) stopAll() {
	for _, tn := range c.running() {
		tn.srv.Shutdown(context.Background())
		tn.node.Halt()
		c.check(tn)
		tn.node = nil
	}
}

func (c *testCluster) check(tn *testNode) {
	select {
	case err := <-tn.broken:
		c.t.Errorf("a rule broke: %v", err)
	default:
	}
}

// waitLeader waits until the running nodes (or those given) agree on one
// leader among them, and returns it.
func (c *testCluster) waitLeader(among ...string) *testNode {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		nodes := c.running()
		if len(among) > 0 {
			nodes = nil
			for _, id := range among {
				nodes = append(nodes, c.node(id))
			}
		}
		var leader *testNode
		agree := true
		for _, tn := range nodes {
			if tn.node.IsLeader() {
				leader = tn
			}
		}
		if leader != nil {
			for _, tn := range nodes {
				if id, _ := tn.node.Leader(); id != leader.id {
					agree = false
				}
			}
			if agree {
				return leader
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader elected")
	return nil
}

func (c *testCluster) waitMembers(n int) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		leader := c.waitLeader()
		ms, err := leader.node.Members(context.Background())
		if err == nil && len(ms) == n {
			ok := true
			for _, m := range ms {
				if m.Status == nil || !m.Status.Ready {
					ok = false
				}
			}
			if ok {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("cluster did not reach %d ready members", n)
}

// ensureSame waits until every running node has applied the leader's whole
// log, then checks that their snapshots are byte for byte the same.
func (c *testCluster) ensureSame() {
	c.t.Helper()
	leader := c.waitLeader()
	// A write through the leader marks a point every node must reach.
	r, err := leader.node.Commit(context.Background(), &fsm.Expire{At: time.Unix(1, 0)})
	if err != nil || r.Err != nil {
		c.t.Fatalf("barrier write: %v %v", err, r.Err)
	}
	var want []byte
	var wantID string
	for _, tn := range c.running() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := tn.node.WaitApplied(ctx, r.Index)
		cancel()
		if err != nil {
			c.t.Fatalf("node %s: %v", tn.id, err)
		}
		var buf bytes.Buffer
		if err := tn.node.FSM().Backup(&buf); err != nil {
			c.t.Fatal(err)
		}
		// Every node must have applied exactly up to index for the bytes
		// to compare; no other writes run during ensureSame.
		if want == nil {
			want, wantID = buf.Bytes(), tn.id
		} else if !bytes.Equal(want, buf.Bytes()) {
			c.t.Fatalf("snapshots of %s and %s differ (%d and %d bytes)", wantID, tn.id, len(want), buf.Len())
		}
		c.check(tn)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// pool creates a pool of size numbers through node and returns its key.
func createPool(t testing.TB, n *cluster.Node, id string, size int) string {
	t.Helper()
	st := allocator.Settings{
		Name: id, Size: size, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"},
	}.WithDefaults()
	mustApply(t, n, &fsm.CreatePool{ID: id, Key: "k" + id, Settings: st, At: time.Now()})
	for range size {
		e164 := fmt.Sprintf("+1415%07d", numbersMade.Add(1))
		mustApply(t, n, &fsm.AddNumber{Pool: id, E164: e164, At: time.Now()})
	}
	return "k" + id
}

// numbersMade makes every test number distinct.
var numbersMade atomic.Int64

func mustApply(t testing.TB, n *cluster.Node, cmd fsm.Command) fsm.Receipt {
	t.Helper()
	r, err := n.Commit(context.Background(), cmd)
	if err != nil {
		t.Fatalf("%T: %v", cmd, err)
	}
	if r.Err != nil {
		t.Fatalf("%T: %v", cmd, r.Err)
	}
	return r
}

// visitID makes distinct visit ids for tests.
func visitID(i int) allocator.VisitID {
	var id allocator.VisitID
	id[0], id[1], id[2], id[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
	id[15] = 0x7e
	return id
}
