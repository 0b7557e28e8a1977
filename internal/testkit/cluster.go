package testkit

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/provision"
	"github.com/dni-dev/dni/provision/standin"
)

// Options say how the nodes of a test run. The zero value is a node with
// FastConfig's timings, the allocator's rules checked after every batch it
// applies, no telephony and no admin pages.
type Options struct {
	// HTTP configures each node's server; the cluster secret, a metrics
	// registry of the node's own and the log are filled in.
	HTTP httpapi.Options
	// Config adjusts each node's configuration, after FastConfig and what
	// the cluster sets itself (id, data dir, addresses, join).
	Config func(*cluster.Config)
	// Sandbox wires the nodes to one Twilio stand-in, as `make run` does:
	// the leader's reconciler buys pools' numbers from it (a pass every
	// 50 ms), and the calls it places reach the nodes' webhooks at
	// PublicURL.
	Sandbox bool
	// PublicURL is where Twilio reaches the cluster and where the pools'
	// install tags point; empty means the first node's URL.
	PublicURL string
	// Unchecked turns off the check of the allocator's rules after every
	// batch, for benchmarks.
	Unchecked bool
	// HostNames makes the nodes advertise localhost:port, as nodes in
	// Docker or Kubernetes advertise their names; links dialled by name
	// cannot be cut.
	HostNames bool
}

// Secret is the cluster secret of the tests' in-process nodes.
const Secret = "testkit-cluster-secret-0123456789"

// NodeTLS is the TLS of a test node or tool named name: certificates of
// the CA derived from Secret.
func NodeTLS(t testing.TB, name string) *cluster.TLS {
	t.Helper()
	tls, err := cluster.TLSFromSecret(Secret, name)
	if err != nil {
		t.Fatal(err)
	}
	return tls
}

// FastConfig makes elections take a fraction of a second, as they can on
// one host, snapshots frequent (so that restarts read them), and leaves out
// the leader's expiry writes: a test commits an Expire itself when it wants
// visits to end, and can compare nodes' states at rest.
func FastConfig(cfg *cluster.Config) {
	cfg.HeartbeatTimeout = 300 * time.Millisecond
	cfg.ElectionTimeout = 300 * time.Millisecond
	cfg.LeaderLease = 150 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
	cfg.WriteTimeout = 5 * time.Second
	cfg.LeaderGrace = time.Second
	cfg.SnapshotThreshold = 256
	cfg.TrailingLogs = 64
	cfg.ExpireEvery = time.Hour
}

// Cluster is nodes run in the test's own process, each with its own data
// dir, Raft over real TCP on 127.0.0.1 and its HTTP API on a real socket.
// The links between them can be cut. Every node checks the allocator's
// rules after every batch it applies; a broken rule fails the test.
type Cluster struct {
	T       testing.TB
	Sandbox *standin.Server // the Twilio stand-in, with Options.Sandbox

	opt      Options
	dir      string
	out      *testWriter
	net      *network
	provider *provision.Twilio

	mu    sync.Mutex
	nodes map[string]*Node // every node started, running or not
	token string
}

// Node is one node of a Cluster.
type Node struct {
	ID       string
	Node     *cluster.Node // nil while the node is stopped
	Server   *httpapi.Server
	Registry *prometheus.Registry
	URL      string // http://127.0.0.1:port
	HTTPAddr string
	RaftAddr string
	// Token is the cluster's first admin token, once StartCluster,
	// StartNode or MakeToken has made it.
	Token string

	c      *Cluster
	broken chan error // the first broken rule seen in this node's history
}

// NewCluster returns a cluster with no node yet: Start starts them.
func NewCluster(t testing.TB, opt Options) *Cluster {
	t.Helper()
	c := &Cluster{
		T: t, opt: opt, dir: t.TempDir(), out: newTestWriter(t), net: newNetwork(),
		nodes: map[string]*Node{},
	}
	if opt.Sandbox {
		sb, err := standin.New(standin.Options{})
		if err != nil {
			t.Fatal(err)
		}
		apiURL, err := sb.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sb.Close() })
		c.Sandbox = sb
		c.provider, err = provision.NewTwilio(provision.TwilioConfig{AccountSID: sb.AccountSID(), AuthToken: sb.AuthToken(), APIURL: apiURL})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.stopAll)
	return c
}

// StartCluster starts size nodes, n1 to n<size>: n1 starts the cluster and
// the others join it. It returns once every node is a ready member and
// knows the cluster's first admin token.
func StartCluster(t testing.TB, size int, opt Options) *Cluster {
	t.Helper()
	c := NewCluster(t, opt)
	c.Start("n1")
	c.Leader()
	for i := 2; i <= size; i++ {
		c.Start(fmt.Sprintf("n%d", i), "n1")
	}
	c.WaitMembers(size)
	c.MakeToken()
	return c
}

// StartNode starts a cluster of one node, n1, and returns it once it leads,
// is ready and has its first admin token.
func StartNode(t testing.TB, opt Options) *Node {
	t.Helper()
	return StartCluster(t, 1, opt).Node("n1")
}

// Start starts node id, or starts it again with the same data dir and
// addresses if it ran before. A node with no state joins the given nodes,
// or starts a cluster if none is given. It does not wait for the node to
// be ready.
func (c *Cluster) Start(id string, join ...string) *Node {
	c.T.Helper()
	c.mu.Lock()
	n := c.nodes[id]
	var joinAddrs []string
	for _, j := range join {
		joinAddrs = append(joinAddrs, c.nodes[j].RaftAddr)
	}
	c.mu.Unlock()
	httpAddr, raftAddr := "127.0.0.1:0", "127.0.0.1:0"
	if n == nil {
		n = &Node{ID: id, c: c}
	} else {
		httpAddr, raftAddr = n.HTTPAddr, n.RaftAddr
	}
	httpLn := listen(c.T, httpAddr)
	raftLn := listen(c.T, raftAddr)
	n.HTTPAddr, n.RaftAddr = httpLn.Addr().String(), raftLn.Addr().String()
	n.URL = "http://" + n.HTTPAddr
	n.broken = make(chan error, 1)
	c.net.add(id, n.RaftAddr)
	log := c.out.logger(id)

	tls := NodeTLS(c.T, id)
	dial := c.net.dialer(id)
	cfg := cluster.Config{
		NodeID: id, DataDir: filepath.Join(c.dir, id), HTTPAdvertise: n.HTTPAddr, Join: joinAddrs,
		RaftAdvertise: n.RaftAddr, TLS: tls,
		Listener: &cutListener{Listener: raftLn, w: c.net, self: id}, Dial: dial,
	}
	FastConfig(&cfg)
	if c.opt.HostNames {
		cfg.RaftAdvertise, cfg.HTTPAdvertise = byName(n.RaftAddr), byName(n.HTTPAddr)
		for i, addr := range cfg.Join {
			cfg.Join[i] = byName(addr)
		}
	}
	if !c.opt.Unchecked {
		cfg.Observe = n.checkRules
	}
	publicURL := c.publicURL(n)
	if c.opt.Sandbox {
		rec := provision.NewReconciler(c.provider, publicURL, nil, log)
		rec.Every = 50 * time.Millisecond
		cfg.LeaderLoops = append(cfg.LeaderLoops, func(ctx context.Context, n *cluster.Node) { rec.Run(ctx, n) })
	}
	if c.opt.Config != nil {
		c.opt.Config(&cfg)
	}
	peers := httpapi.NewClient(&cluster.Dialer{TLS: tls, Dial: dial})
	node, err := cluster.Start(context.Background(), cfg, peers, c.out.logger("")) // the node names itself
	if err != nil {
		c.T.Fatalf("start %s: %v", id, err)
	}
	n.Registry = prometheus.NewRegistry()
	opt := c.opt.HTTP
	opt.Secret, opt.Registry, opt.Gatherer, opt.Log = Secret, n.Registry, n.Registry, log
	if c.opt.Sandbox {
		opt.Telephony.PublicURL, opt.Telephony.AuthToken, opt.Telephony.Sandbox = publicURL, c.Sandbox.AuthToken(), c.Sandbox
		opt.Telephony.Recordings = c.provider
	}
	n.Server = httpapi.New(node, opt)
	go n.Server.Serve(httpLn)
	go n.Server.ServeInternal(node.InternalListener())
	c.mu.Lock()
	n.Node = node
	n.Token = c.token
	c.nodes[id] = n
	c.mu.Unlock()
	return n
}

// byName is addr with localhost for its IP address.
func byName(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "localhost:" + port
}

// publicURL is Options.PublicURL, else the first node's URL.
func (c *Cluster) publicURL(n *Node) string {
	if c.opt.PublicURL != "" {
		return c.opt.PublicURL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if first := c.nodes["n1"]; first != nil {
		return first.URL
	}
	return n.URL
}

// checkRules runs after every batch the node applies.
func (n *Node) checkRules(index uint64, s *allocator.State) {
	if err := s.Verify(); err != nil {
		select {
		case n.broken <- fmt.Errorf("node %s at index %d: %w", n.ID, index, err):
		default:
		}
	}
}

// listen listens on addr; a restarted node takes its old port back, which
// the system may hold for a moment.
func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// Node returns node id, running or not.
func (c *Cluster) Node(id string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[id]
	if n == nil {
		c.T.Fatalf("no node %s", id)
	}
	return n
}

// Running lists the running nodes, by id.
func (c *Cluster) Running() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
		if n := c.nodes[id]; n.Node != nil {
			out = append(out, n)
		}
	}
	return out
}

// Leader waits until the running nodes (or those named) agree on one
// leader among them, and returns it.
func (c *Cluster) Leader(among ...string) *Node {
	c.T.Helper()
	var leader *Node
	Eventually(c.T, "the nodes to agree on a leader", func() bool {
		nodes := c.Running()
		if len(among) > 0 {
			nodes = nil
			for _, id := range among {
				nodes = append(nodes, c.Node(id))
			}
		}
		leader = nil
		for _, n := range nodes {
			if n.Node != nil && n.Node.IsLeader() {
				leader = n
			}
		}
		if leader == nil {
			return false
		}
		for _, n := range nodes {
			if n.Node == nil {
				return false
			}
			if id, _ := n.Node.Leader(); id != leader.ID {
				return false
			}
		}
		return true
	})
	return leader
}

// Followers lists the running nodes other than the leader.
func (c *Cluster) Followers() []*Node {
	c.T.Helper()
	leader := c.Leader()
	var out []*Node
	for _, n := range c.Running() {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

// WaitMembers waits until the leader lists n members, each ready.
func (c *Cluster) WaitMembers(n int) {
	c.T.Helper()
	Eventually(c.T, fmt.Sprintf("%d ready members", n), func() error {
		ms, err := c.Leader().Node.Members(context.Background())
		if err != nil {
			return err
		}
		ready := 0
		for _, m := range ms {
			if m.Status != nil && m.Status.Ready {
				ready++
			}
		}
		if len(ms) != n || ready != n {
			return fmt.Errorf("%d members, %d of them ready", len(ms), ready)
		}
		return nil
	})
}

// MakeToken makes sure the cluster has an admin token, and waits until
// every running node knows it and every other running node; every node's
// Token is then set.
func (c *Cluster) MakeToken() string {
	c.T.Helper()
	leader := c.Leader()
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	token, err := httpapi.EnsureAdminToken(ctx, leader.Node, "")
	if err != nil {
		c.T.Fatalf("first admin token: %v", err)
	}
	if token == "" {
		token = c.token // the cluster had one already
	}
	running := c.Running()
	for _, n := range running {
		Eventually(c.T, n.ID+" to know the other nodes and the token", func() bool {
			return n.Node.Ready() && len(n.Node.FSM().Nodes()) == len(running) && len(n.Node.FSM().Tokens()) > 0
		})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = token
	for _, n := range c.nodes {
		n.Token = token
	}
	return token
}

// Kill stops a node as a crash would: nothing is flushed, leadership is
// not handed over.
func (c *Cluster) Kill(id string) {
	n := c.Node(id)
	n.Server.Shutdown(context.Background())
	n.Node.Halt()
	c.stopped(n)
}

// Stop shuts a node down gracefully.
func (c *Cluster) Stop(id string) {
	c.T.Helper()
	n := c.Node(id)
	n.Server.Shutdown(context.Background())
	if err := n.Node.Shutdown(context.Background()); err != nil {
		c.T.Errorf("shutdown %s: %v", id, err)
	}
	c.stopped(n)
}

func (c *Cluster) stopped(n *Node) {
	n.checkBroken(c.T)
	c.mu.Lock()
	n.Node = nil
	c.mu.Unlock()
}

func (c *Cluster) stopAll() {
	for _, n := range c.Running() {
		c.Kill(n.ID)
	}
}

func (n *Node) checkBroken(t testing.TB) {
	select {
	case err := <-n.broken:
		t.Errorf("a rule broke: %v", err)
	default:
	}
}

// Cut blocks every link between the nodes of a and those of b, both ways,
// for Raft and for the HTTP calls nodes make to each other.
func (c *Cluster) Cut(a, b []string) { c.net.cut(a, b) }

// Heal restores every link.
func (c *Cluster) Heal() { c.net.heal() }

// EnsureSame waits until every running node has applied the leader's
// whole log, checks that their states are byte for byte the same, and
// returns that state, read back from a backup.
func (c *Cluster) EnsureSame() *allocator.State {
	c.T.Helper()
	leader := c.Leader()
	// A write through the leader marks a point every node must reach.
	barrier := leader.Command(&fsm.Expire{At: time.Unix(1, 0)})
	var want []byte
	var wantID string
	for _, n := range c.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), Patience)
		err := n.Node.WaitApplied(ctx, barrier.Index)
		cancel()
		if err != nil {
			c.T.Fatalf("node %s: %v", n.ID, err)
		}
		var buf bytes.Buffer
		if err := n.Node.FSM().Backup(&buf); err != nil {
			c.T.Fatal(err)
		}
		// Every node must have applied exactly up to the barrier for the
		// bytes to compare: no other writes run during EnsureSame.
		if want == nil {
			want, wantID = buf.Bytes(), n.ID
		} else if !bytes.Equal(want, buf.Bytes()) {
			c.T.Fatalf("the states of %s and %s differ (%d and %d bytes)", wantID, n.ID, len(want), buf.Len())
		}
		n.checkBroken(c.T)
	}
	return ReadBackup(c.T, want)
}

// Internal returns a client of the nodes' internal API, on their cluster
// ports, as the operator's dninode commands reach it: with a certificate of
// the cluster.
func (c *Cluster) Internal() *httpapi.Client {
	return httpapi.NewClient(&cluster.Dialer{TLS: NodeTLS(c.T, "operator"), Dial: c.net.dialer("operator")})
}

// Internal is its cluster's Internal client.
func (n *Node) Internal() *httpapi.Client { return n.c.Internal() }

// Command commits a command through the node and returns its receipt,
// failing the test if the cluster or the state machine refuses it.
func (n *Node) Command(cmd fsm.Command) fsm.Receipt {
	n.c.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	r, err := n.Node.Commit(ctx, cmd)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		n.c.T.Fatalf("%T through %s: %v", cmd, n.ID, err)
	}
	return r
}

// CreatePool creates a pool of size numbers through the node and returns
// its key.
func (n *Node) CreatePool(id string, size int) string {
	n.c.T.Helper()
	key, cmds := PoolCommands(id, size)
	for _, cmd := range cmds {
		n.Command(cmd)
	}
	return key
}
