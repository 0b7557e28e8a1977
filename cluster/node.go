package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// Peers is how a node reaches other nodes' internal API, on their cluster
// ports (see port.go): httpapi implements it.
type Peers interface {
	// Forward hands an encoded log entry to the leader at addr, whose
	// CommitForwarded appends it, and returns one receipt per command. A
	// node that is not the leader answers with a *NotLeaderError.
	Forward(ctx context.Context, addr string, entry []byte) ([]fsm.Receipt, error)
	// Join asks the leader at addr to add a node.
	Join(ctx context.Context, addr string, req JoinRequest) error
	// Status asks the node at addr how it sees the cluster.
	Status(ctx context.Context, addr string) (Status, error)
}

// Errors callers branch on.
var (
	// ErrNotLeader: the operation needs the leader. Errors of this kind are
	// *NotLeaderError, which names the leader when it is known.
	ErrNotLeader = errors.New("this node is not the leader")
	// ErrNoLeader: a write waited WriteTimeout and found no leader to take it.
	ErrNoLeader = errors.New("no leader could take the write in time")
	// ErrShuttingDown: the node is stopping and takes no more writes.
	ErrShuttingDown = errors.New("node is shutting down")
	// ErrNoOtherVoter: leadership cannot be handed over in a cluster of one.
	ErrNoOtherVoter = errors.New("no other voter to hand leadership to")
	// ErrBadJoin: a join request without the node's id or addresses.
	ErrBadJoin = errors.New("join needs the node's id, raft address and HTTP address")
	// ErrRemoveLeader: the leader cannot remove itself.
	ErrRemoveLeader = errors.New("the leader cannot remove itself; transfer leadership first")
	// ErrUnknownNode: no node with that id is in the cluster.
	ErrUnknownNode = errors.New("no such node in the cluster")
)

// NotLeaderError says which node to ask instead.
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string // its cluster port; empty while no leader is known
	LeaderHTTP string // its HTTP API, once the cluster has recorded it
}

func (e *NotLeaderError) Error() string {
	if e.LeaderAddr == "" {
		return "this node is not the leader, and no leader is known"
	}
	return fmt.Sprintf("this node is not the leader; the leader is %s at %s", e.LeaderID, e.LeaderAddr)
}

func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Node is one member of a dni cluster.
type Node struct {
	cfg   Config
	log   *slog.Logger
	fsm   *fsm.FSM
	raft  *raft.Raft
	port  *clusterPort
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore
	peers Peers

	writes   chan *write
	outbox   *outbox
	beats    heartbeats
	notify   chan bool // raft's leadership changes
	hasState bool      // the node had Raft state when it started
	admit    sync.RWMutex
	closing  bool        // under admit: no more writes
	stopped  atomic.Bool // Shutdown or Halt has begun
	halt     context.Context
	halted   context.CancelFunc // Halt: abandon writes under way
	stop     chan struct{}      // closed by Shutdown once writes are closed
	failed   chan struct{}      // closed once the state machine stopped (see Failed)
	failOnce sync.Once
	wg       sync.WaitGroup

	loopsMu sync.Mutex
	loops   []LeaderLoop
}

// Start opens (or creates) the node's data directory and starts Raft. A node
// with no Raft state bootstraps a new cluster if told to, or if it has
// nobody to join and NoBootstrap is not set; with Join set it asks those
// nodes to add it. A node that has state rejoins with it. Start returns once the node is running (and,
// when joining, has been added).
func Start(ctx context.Context, cfg Config, peers Peers, log *slog.Logger) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", cfg.NodeID)
	n := &Node{
		cfg: cfg, log: log, peers: peers,
		fsm:    fsm.New(log),
		writes: make(chan *write, 4*cfg.BatchMax),
		stop:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	n.beats.ids = make(map[allocator.VisitID]struct{})
	n.halt, n.halted = context.WithCancel(context.Background())
	if err := n.openRaft(); err != nil {
		n.closeStores()
		return nil, err
	}
	var err error
	if n.outbox, err = openOutbox(cfg.DataDir); err != nil {
		n.raft.Shutdown()
		n.closeStores()
		return nil, err
	}
	n.wg.Add(5)
	go n.drainOutbox()
	go n.batcher()
	go n.flushHeartbeats()
	go n.watchLeadership()
	go n.announce()
	metricsCtx, cancel := context.WithCancel(context.Background())
	go func() { <-n.stop; cancel() }()
	go n.store.RunMetrics(metricsCtx, 10*time.Second)
	if len(cfg.Join) > 0 && !n.hasState {
		if err := n.join(ctx); err != nil {
			n.Shutdown(context.Background())
			return nil, err
		}
	}
	return n, nil
}

func (n *Node) openRaft() error {
	// The log and the snapshots hold every visitor's data: the directory
	// is the node's alone, whatever the umask, and whatever an older
	// version made it. Raft creates the snapshots with default modes.
	dir := filepath.Join(n.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	logger := raftLogger(n.log)
	// Every commit is fsynced. Like etcd, the bolt file does not keep its
	// free-page list on disk (it is rebuilt when the file opens): that
	// takes a third of the work out of each commit, the cost of which is
	// what bounds how many log entries a node appends per second.
	store, err := openLog(filepath.Join(dir, "raft.db"),
		&bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	n.store = store
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 3, logger)
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	ln := n.cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", n.cfg.RaftAddr); err != nil {
			return fmt.Errorf("cluster port: %w", err)
		}
	}
	advertise := n.cfg.RaftAdvertise
	if advertise == "" || strings.HasSuffix(advertise, ":0") {
		advertise = ln.Addr().String()
	}
	n.port = newClusterPort(ln, advertise, n.cfg.TLS, n.cfg.Dial, n.log)
	n.trans = raft.NewNetworkTransportWithLogger(raftStream{n.port}, 3, 10*time.Second, logger)
	n.fsm.Observe = n.cfg.Observe
	n.fsm.Fatal = n.fail

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.Logger = logger
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLease
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.TrailingLogs = n.cfg.TrailingLogs
	n.notify = make(chan bool, 16)
	rc.NotifyCh = n.notify

	if err := n.recoverFromPeersJSON(rc, logs, snaps); err != nil {
		return err
	}
	hasState, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return err
	}
	n.hasState = hasState
	if n.raft, err = raft.NewRaft(rc, n.fsm, logs, store, snaps, n.trans); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	if !hasState && (n.cfg.Bootstrap || len(n.cfg.Join) == 0 && !n.cfg.NoBootstrap) {
		n.log.Info("bootstrapping a new cluster")
		err := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: n.trans.LocalAddr(), Suffrage: raft.Voter,
		}}}).Error()
		if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	return nil
}

// recoverFromPeersJSON applies the documented recovery for a lost quorum:
// with every node stopped, an operator writes raft/peers.json listing the
// servers that remain, on each of them, and starts them again.
func (n *Node) recoverFromPeersJSON(rc *raft.Config, logs raft.LogStore, snaps raft.SnapshotStore) error {
	path := filepath.Join(n.cfg.DataDir, "raft", "peers.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	conf, err := raft.ReadConfigJSON(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	n.log.Warn("recovering the cluster from peers.json", "servers", len(conf.Servers))
	if err := raft.RecoverCluster(rc, fsm.New(n.log), logs, n.store, snaps, n.trans, conf); err != nil {
		return fmt.Errorf("recover from %s: %w", path, err)
	}
	return os.Rename(path, path+".applied")
}

// FSM returns the node's state machine, for reading its state.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// State returns the node's current domain state, for lock-free reads.
func (n *Node) State() *allocator.State { return n.fsm.State() }

// DataDir is where the node keeps its state.
func (n *Node) DataDir() string { return n.cfg.DataDir }

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// RaftAddr is the address other nodes reach this node's cluster port on:
// its Raft and its internal API.
func (n *Node) RaftAddr() string { return string(n.trans.LocalAddr()) }

// InternalListener gives the connections to this node's internal API that
// arrive on its cluster port, every one mutual TLS with a node or an
// operator's tool of the cluster: httpapi serves them.
func (n *Node) InternalListener() net.Listener { return n.port.httpLn }

// RefusedConnections counts the connections to the cluster port that did
// not prove they belong to the cluster.
func (n *Node) RefusedConnections() int64 { return n.port.refused.Load() }

// IsLeader reports whether this node is the leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the leader's id and the address of its cluster port,
// empty while unknown.
func (n *Node) Leader() (id, addr string) {
	laddr, lid := n.raft.LeaderWithID()
	return string(lid), string(laddr)
}

// Ready reports whether the node can serve: it knows a leader, has
// applied all but the last few entries it knows to be committed, and has
// not failed (see Failed).
func (n *Node) Ready() bool {
	// Raft's own applied index is the right one here: entries that never
	// reach the state machine (elections' no-ops, barriers) count too. A
	// few entries committed and not yet applied are writes under way, not
	// a node behind: readiness must not flap with every write.
	id, _ := n.Leader()
	return id != "" && n.raft.AppliedIndex()+readyLag >= n.raft.CommitIndex() && n.fsm.Err() == nil
}

// readyLag is how many committed entries a ready node may still have to
// apply: a few batches in flight, far fewer than a restart replays.
const readyLag = 64

// AppliedAll reports whether the node has applied every entry it knows to
// be committed.
func (n *Node) AppliedAll() bool { return n.raft.AppliedIndex() >= n.raft.CommitIndex() }

// Failed is closed when the node can go no further and must be stopped:
// its log holds an entry this version cannot apply (an
// *fsm.UnknownEntryError, which Err returns). The node has stopped applying
// the log and takes no more writes; whoever runs it stops it, and it stops
// again at every start until it is upgraded.
func (n *Node) Failed() <-chan struct{} { return n.failed }

// Err says why the node failed (see Failed), or is nil.
func (n *Node) Err() error { return n.fsm.Err() }

// fail is the state machine's Fatal. It runs on Raft's apply goroutine, so
// it only lets go of the writes under way and says so: it must not wait.
func (n *Node) fail(error) {
	n.failOnce.Do(func() {
		n.halted()
		close(n.failed)
	})
}

func (n *Node) notLeader() *NotLeaderError {
	id, addr := n.Leader()
	rec, _ := n.fsm.Node(id)
	return &NotLeaderError{LeaderID: id, LeaderAddr: addr, LeaderHTTP: rec.HTTPAddr}
}

// WaitApplied waits until this node's state has applied the log entry at
// index, so that a caller reads its own write from local state.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	if n.fsm.AppliedIndex() >= index {
		return nil
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for n.fsm.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for log entry %d: %w", index, ctx.Err())
		case <-n.stop:
			return ErrShuttingDown
		case <-tick.C:
		}
	}
	return nil
}

// Shutdown stops the node without losing what it accepted: it takes no new
// writes, commits those it holds and the heartbeats it gathered, hands
// leadership over if it has it, and closes Raft and its stores.
func (n *Node) Shutdown(ctx context.Context) error {
	if !n.stopped.CompareAndSwap(false, true) {
		return nil
	}
	n.flushHeartbeatsNow(ctx)
	n.admit.Lock()
	n.closing = true
	n.admit.Unlock()
	close(n.stop)
	n.wg.Wait()
	if n.IsLeader() && n.otherVoters() > 0 {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.log.Warn("leadership transfer on shutdown failed", "err", err)
		}
	}
	err := n.raft.Shutdown().Error()
	n.halted()
	n.closeStores()
	return err
}

// Halt stops the node at once, as a crash would: nothing is flushed and
// leadership is not handed over. What it had committed is on disk. For
// tests that kill nodes in-process.
func (n *Node) Halt() {
	if !n.stopped.CompareAndSwap(false, true) {
		return
	}
	n.halted()
	n.admit.Lock()
	n.closing = true
	n.admit.Unlock()
	n.raft.Shutdown()
	close(n.stop)
	n.closeStores()
	n.wg.Wait()
}

func (n *Node) closeStores() {
	if n.trans != nil {
		n.trans.Close()
	}
	if n.port != nil {
		n.port.close()
	}
	if n.store != nil {
		n.store.Close()
	}
	if n.outbox != nil {
		n.outbox.db.Close()
	}
}

func (n *Node) otherVoters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	count := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && s.ID != raft.ServerID(n.cfg.NodeID) {
			count++
		}
	}
	return count
}
