package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dni-dev/dni/fsm"
)

// JoinRequest asks the leader to add a node.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
}

// join asks the nodes in Config.Join, in turn, to add this node, following
// them to the leader, until one does or ctx ends.
func (n *Node) join(ctx context.Context) error {
	req := JoinRequest{ID: n.cfg.NodeID, RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAdvertise, Voter: !n.cfg.JoinAsNonvoter}
	ctx, cancel := context.WithTimeout(ctx, 3*n.cfg.WriteTimeout)
	defer cancel()
	var last error
	for {
		for _, addr := range n.cfg.Join {
			err := n.peers.Join(ctx, addr, req)
			var nl *NotLeaderError
			if errors.As(err, &nl) && nl.LeaderAddr != "" {
				err = n.peers.Join(ctx, nl.LeaderAddr, req)
			}
			if err == nil {
				n.log.Info("joined the cluster", "via", addr)
				return nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("join %v: %w", n.cfg.Join, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Join adds a node to the cluster, as a voter or not, and records its
// addresses. Adding a node that is already there (same id and address) does
// nothing; the same id at a new address moves it. Leader only.
func (n *Node) Join(ctx context.Context, req JoinRequest) error {
	if !n.IsLeader() {
		return n.notLeader()
	}
	if req.ID == "" || req.RaftAddr == "" || req.HTTPAddr == "" {
		return ErrBadJoin
	}
	id, addr := raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr)
	conf, err := n.configuration()
	if err != nil {
		return err
	}
	present := false
	for _, s := range conf.Servers {
		if s.ID == id && s.Address == addr && (s.Suffrage == raft.Voter) == req.Voter {
			present = true
		}
	}
	if !present {
		var f raft.IndexFuture
		if req.Voter {
			f = n.raft.AddVoter(id, addr, 0, n.cfg.WriteTimeout)
		} else {
			f = n.raft.AddNonvoter(id, addr, 0, n.cfg.WriteTimeout)
		}
		if err := f.Error(); err != nil {
			return fmt.Errorf("add %s: %w", req.ID, err)
		}
		n.log.Info("added node", "id", req.ID, "raft", req.RaftAddr, "voter", req.Voter)
	}
	return n.applyMeta(ctx, &fsm.SetNode{ID: req.ID, RaftAddr: req.RaftAddr, HTTPAddr: req.HTTPAddr})
}

// Remove takes a node out of the cluster and forgets its addresses. Leader
// only; to remove the leader, transfer leadership first.
func (n *Node) Remove(ctx context.Context, id string) error {
	if !n.IsLeader() {
		return n.notLeader()
	}
	if id == n.cfg.NodeID {
		return ErrRemoveLeader
	}
	conf, err := n.configuration()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(conf.Servers, func(s raft.Server) bool { return s.ID == raft.ServerID(id) }) {
		return fmt.Errorf("%q: %w", id, ErrUnknownNode)
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.WriteTimeout).Error(); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	n.log.Info("removed node", "id", id)
	return n.applyMeta(ctx, &fsm.RemoveNode{ID: id})
}

func (n *Node) applyMeta(ctx context.Context, cmd fsm.Command) error {
	r, err := n.Commit(ctx, cmd)
	if err == nil {
		err = r.Err
	}
	return err
}

// TransferLeadership hands leadership to the node with the given id, or to
// whichever voter is most up to date when id is empty. Leader only.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	if !n.IsLeader() {
		return n.notLeader()
	}
	if n.otherVoters() == 0 {
		return ErrNoOtherVoter
	}
	var f raft.Future
	if id == "" {
		f = n.raft.LeadershipTransfer()
	} else {
		conf, err := n.configuration()
		if err != nil {
			return err
		}
		var addr raft.ServerAddress
		for _, s := range conf.Servers {
			if s.ID == raft.ServerID(id) {
				addr = s.Address
			}
		}
		if addr == "" {
			return fmt.Errorf("%q: %w", id, ErrUnknownNode)
		}
		f = n.raft.LeadershipTransferToServer(raft.ServerID(id), addr)
	}
	return f.Error()
}

func (n *Node) configuration() (raft.Configuration, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, err
	}
	return f.Configuration(), nil
}

// Status is how one node sees the cluster.
type Status struct {
	ID           string        `json:"id"`
	State        string        `json:"state"` // Leader, Follower, Candidate, Shutdown
	LeaderID     string        `json:"leader_id"`
	LastContact  time.Duration `json:"last_contact_ns"` // since it last heard from the leader; 0 on the leader
	AppliedIndex uint64        `json:"applied_index"`
	CommitIndex  uint64        `json:"commit_index"`
	LastIndex    uint64        `json:"last_index"`
	Ready        bool          `json:"ready"`
}

// Status returns this node's view of the cluster.
func (n *Node) Status() Status {
	st := Status{
		ID: n.cfg.NodeID, State: n.raft.State().String(),
		AppliedIndex: n.fsm.AppliedIndex(), CommitIndex: n.raft.CommitIndex(), LastIndex: n.raft.LastIndex(),
		Ready: n.Ready(),
	}
	st.LeaderID, _ = n.Leader()
	if !n.IsLeader() {
		if lc := n.raft.LastContact(); !lc.IsZero() {
			st.LastContact = time.Since(lc)
		}
	}
	return st
}

// Member is one node of the cluster as the operator sees it.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
	// Status is the node's own report; Error says why there is none.
	Status *Status `json:"status,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// Members lists the cluster's nodes with their roles, asking each for its
// status (last contact with the leader, applied index) with a short timeout.
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	conf, err := n.configuration()
	if err != nil {
		return nil, err
	}
	leaderID, _ := n.Leader()
	out := make([]Member, len(conf.Servers))
	done := make(chan struct{}, len(conf.Servers))
	for i, s := range conf.Servers {
		node, _ := n.fsm.Node(string(s.ID))
		m := &out[i]
		*m = Member{
			ID: string(s.ID), RaftAddr: string(s.Address), HTTPAddr: node.HTTPAddr,
			Voter: s.Suffrage == raft.Voter, Leader: string(s.ID) == leaderID,
		}
		go func() {
			defer func() { done <- struct{}{} }()
			if m.ID == n.cfg.NodeID {
				st := n.Status()
				m.Status = &st
			} else {
				sctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				st, err := n.peers.Status(sctx, m.RaftAddr)
				if err != nil {
					m.Error = err.Error()
					return
				}
				m.Status = &st
			}
		}()
	}
	for range conf.Servers {
		<-done
	}
	return out, nil
}

// Backup writes a snapshot of the state to w. It first catches up with the
// leader, so the backup holds every write acknowledged before it started,
// whichever node takes it.
func (n *Node) Backup(ctx context.Context, w io.Writer) error {
	if err := n.CatchUp(ctx); err != nil {
		return err
	}
	return n.fsm.Backup(w)
}

// CatchUp waits until this node has applied every write the leader had
// acknowledged when CatchUp was called: after it, local reads see them.
func (n *Node) CatchUp(ctx context.Context) error {
	if n.IsLeader() {
		// Raft's timeout bounds only the queueing of the barrier: one
		// queued as the node stops may never be answered, and a leader
		// loop waiting on it would hold up the stop.
		f := n.raft.Barrier(n.cfg.WriteTimeout)
		done := make(chan error, 1)
		go func() { done <- f.Error() }()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("barrier: %w", err)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-n.halt.Done():
			return ErrShuttingDown
		}
	}
	_, addr := n.Leader()
	if addr == "" {
		return n.notLeader()
	}
	st, err := n.peers.Status(ctx, addr)
	if err != nil {
		return fmt.Errorf("ask the leader how far it is: %w", err)
	}
	// The leader's state machine has applied every write it acknowledged;
	// its applied index names a command, which this node's state machine
	// will reach (a commit index may name an entry that never reaches it).
	return n.WaitApplied(ctx, st.AppliedIndex)
}

// Restore replaces the whole cluster's state with a backup. The backup is
// checked before anything changes. The cluster keeps its own membership (the
// node records are those of the cluster now, not of the backup). The admin
// tokens become the backup's minus every token revoked since, plus by, the
// admin API token that asked, if one did, so that it keeps access
// (fsm.Image.RestoreTokens has the rule). Leader only; meant for disaster
// recovery into a fresh cluster.
func (n *Node) Restore(ctx context.Context, r io.Reader, by ...fsm.Token) error {
	if !n.IsLeader() {
		return n.notLeader()
	}
	backup, err := fsm.ReadBackup(r)
	if err != nil {
		return err
	}
	img := backup.Image
	keep := n.fsm.Nodes()
	var asker *fsm.Token
	if len(by) > 0 {
		asker = &by[0]
	}
	img.RestoreTokens(n.fsm.Tokens(), n.fsm.Revoked(), asker)
	// Raft installs a restored snapshot at the index after meta.Index when
	// that is past its log. Choosing it here lets the snapshot say which
	// index its state is at, as the state machine's own snapshots do.
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: n.raft.LastIndex() + 1000}
	img.Applied = meta.Index + 1
	// The snapshot Raft installs goes through a file in the data dir, not
	// memory: a large state is already in memory once, as the image.
	f, err := os.CreateTemp(n.cfg.DataDir, "restore-*.snap")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := fsm.WriteSnapshot(f, img); err != nil {
		return err
	}
	if meta.Size, err = f.Seek(0, io.SeekCurrent); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := n.raft.Restore(meta, f, n.cfg.WriteTimeout); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, old := range n.fsm.Nodes() {
		if err := n.applyMeta(ctx, &fsm.RemoveNode{ID: old.ID}); err != nil {
			return err
		}
	}
	for _, node := range keep {
		set := fsm.SetNode(node)
		if err := n.applyMeta(ctx, &set); err != nil {
			return err
		}
	}
	return nil
}
