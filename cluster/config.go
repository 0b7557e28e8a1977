// Package cluster runs a dni node: hashicorp/raft over TCP with a bolt log,
// the state machine from fsm, writes from any node (group-committed, and
// forwarded to the leader by followers), heartbeats coalesced per node, the
// loops only the leader runs, and the operations that grow, shrink, back up
// and recover the cluster.
package cluster

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// Config says how a node runs. Zero fields take the defaults below.
type Config struct {
	NodeID  string // unique in the cluster, forever
	DataDir string // raft log, stable store and snapshots live here

	// RaftAddr is where the cluster port listens: Raft and the internal
	// API, mutual TLS.
	RaftAddr string
	// RaftAdvertise is where other nodes reach the cluster port; RaftAddr
	// if empty. A host name is recorded as is and looked up at every dial.
	RaftAdvertise string
	HTTPAdvertise string // where operators and the admin pages reach this node's HTTP API
	// TLS is how the node proves it belongs to the cluster and checks the
	// others: certificates of the cluster CA (TLSFromFiles, or
	// TLSFromSecret). Required.
	TLS       *TLS
	Bootstrap bool // start a new cluster with this node as its only voter
	// NoBootstrap: a node with no state and nothing to join waits for an
	// operator to add it (dninode add-node) instead of starting a cluster.
	NoBootstrap       bool
	Join              []string
	JoinAsNonvoter    bool
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	HeartbeatTimeout  time.Duration
	ElectionTimeout   time.Duration
	LeaderLease       time.Duration
	CommitTimeout     time.Duration

	// Group commit: a node gathers concurrent writes into one log entry of
	// at most BatchMax commands, waiting at most BatchWait for more once
	// the first arrives. BatchMax 1 turns group commit off.
	BatchMax  int
	BatchWait time.Duration
	// WriteTimeout bounds how long a write is held and retried while there
	// is no leader, or the leader cannot be reached, before it is refused.
	WriteTimeout time.Duration
	// HeartbeatFlush is how often coalesced heartbeats become one Touch.
	HeartbeatFlush time.Duration
	// ExpireEvery is how often the leader ends idle visits.
	ExpireEvery time.Duration
	// Listener, if set, is the cluster port's listener instead of one on
	// RaftAddr, and Dial how the node connects to others' (under the TLS);
	// tests use them to cut links.
	Listener net.Listener
	Dial     func(addr string, timeout time.Duration) (net.Conn, error)
	// Observe, if set, is called after every batch of log entries the node
	// applies, with the state as it then is, on the apply goroutine. Tests
	// use it to check invariants at every step of every node's history.
	Observe func(index uint64, s *allocator.State)

	// LeaderLoops run on the leader, beside the node's own (expiry), from
	// the first election on; see OnLeader.
	LeaderLoops []LeaderLoop

	// LeaderGrace: for this long after winning an election, the leader
	// expires visits as if the clock were this much behind, so heartbeats
	// that were in flight during the election cannot cost a visit its
	// number.
	LeaderGrace time.Duration
}

// Defaults for the zero fields of a Config.
const (
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotInterval  = 2 * time.Minute
	DefaultTrailingLogs      = 10240
	DefaultHeartbeatTimeout  = time.Second
	DefaultElectionTimeout   = time.Second
	DefaultLeaderLease       = 500 * time.Millisecond
	DefaultCommitTimeout     = 10 * time.Millisecond
	DefaultBatchMax          = 512
	DefaultBatchWait         = time.Millisecond
	DefaultWriteTimeout      = 10 * time.Second
	DefaultHeartbeatFlush    = time.Second
	DefaultExpireEvery       = time.Second
	DefaultLeaderGrace       = time.Minute // one snippet heartbeat interval
)

func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.RaftAdvertise == "" {
		c.RaftAdvertise = c.RaftAddr
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.BatchMax == 0 {
		c.BatchMax = DefaultBatchMax
	}
	set(&c.SnapshotInterval, DefaultSnapshotInterval)
	set(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	set(&c.ElectionTimeout, DefaultElectionTimeout)
	set(&c.LeaderLease, DefaultLeaderLease)
	set(&c.CommitTimeout, DefaultCommitTimeout)
	set(&c.BatchWait, DefaultBatchWait)
	set(&c.WriteTimeout, DefaultWriteTimeout)
	set(&c.HeartbeatFlush, DefaultHeartbeatFlush)
	set(&c.ExpireEvery, DefaultExpireEvery)
	set(&c.LeaderGrace, DefaultLeaderGrace)
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("node id must be set"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir must be set"))
	}
	if c.RaftAddr == "" && c.Listener == nil {
		errs = append(errs, errors.New("raft address must be set"))
	}
	if c.TLS == nil {
		errs = append(errs, errors.New("TLS must be set: nodes speak nothing but mutual TLS"))
	}
	if c.HTTPAdvertise == "" {
		errs = append(errs, errors.New("HTTP advertise address must be set"))
	}
	if c.Bootstrap && (len(c.Join) > 0 || c.NoBootstrap) {
		errs = append(errs, errors.New("bootstrap excludes join and no-bootstrap"))
	}
	if c.BatchMax < 1 {
		errs = append(errs, fmt.Errorf("batch max must be at least 1, got %d", c.BatchMax))
	}
	if c.LeaderLease > c.HeartbeatTimeout {
		errs = append(errs, errors.New("leader lease must not exceed the heartbeat timeout"))
	}
	return errors.Join(errs...)
}
