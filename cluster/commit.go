package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dni-dev/dni/fsm"
)

// A write is one command waiting to be committed.
type write struct {
	cmd     fsm.Command
	done    chan struct{}
	receipt fsm.Receipt
	err     error
}

// maxInFlight bounds the batches a node has on their way at once. More would
// only queue inside Raft; fewer would leave the pipeline idle.
const maxInFlight = 8

// Commit commits a command through Raft from any node and returns its
// receipt, which says the log index it was applied at. Concurrent writes
// are gathered into one log entry (group commit); a follower forwards its
// entries to the leader. While there is no leader, or the leader cannot be
// reached, the write is held and retried, with the same bytes, for
// WriteTimeout: every command is idempotent, so a retry after an unknown
// outcome has one effect.
//
// A receipt's Err is the command's own failure (say, an unknown pool); the
// error returned is the cluster's (no leader, shutting down, ctx done).
func (n *Node) Commit(ctx context.Context, cmd fsm.Command) (fsm.Receipt, error) {
	w := &write{cmd: cmd, done: make(chan struct{})}
	// Holding admit while queueing means Shutdown, which takes it to close
	// the door, knows every queued write is in the channel before the
	// batcher drains it for the last time.
	n.admit.RLock()
	if n.closing {
		n.admit.RUnlock()
		return fsm.Receipt{}, ErrShuttingDown
	}
	select {
	case n.writes <- w:
		n.admit.RUnlock()
	case <-ctx.Done():
		n.admit.RUnlock()
		return fsm.Receipt{}, ctx.Err()
	}
	select {
	case <-w.done:
		return w.receipt, w.err
	case <-ctx.Done():
		// The write may still be committed; retrying it is safe.
		return fsm.Receipt{}, ctx.Err()
	}
}

// batcher gathers writes into batches and sends them on their way, at most
// maxInFlight at a time. It waits for a free slot before it forms a batch,
// so that while every slot is busy the writes that arrive queue up and
// leave together in one entry; then it takes what is queued, and while
// earlier batches are in flight it also waits up to BatchWait for more. A
// busy node fills its entries, and an idle one adds no delay.
func (n *Node) batcher() {
	defer n.wg.Done()
	slots := make(chan struct{}, maxInFlight)
	defer func() {
		for range maxInFlight {
			slots <- struct{}{}
		}
	}()
	for {
		var first *write
		select {
		case first = <-n.writes:
		case <-n.stop:
			// Commit what was accepted before the stop.
			select {
			case first = <-n.writes:
			default:
				return
			}
		}
		slots <- struct{}{}
		batch := []*write{first}
	drain:
		for len(batch) < n.cfg.BatchMax {
			select {
			case w := <-n.writes:
				batch = append(batch, w)
			default:
				break drain
			}
		}
		if len(batch) < n.cfg.BatchMax && len(slots) > 1 {
			timer := time.NewTimer(n.cfg.BatchWait)
		wait:
			for len(batch) < n.cfg.BatchMax {
				select {
				case w := <-n.writes:
					batch = append(batch, w)
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
		go func() {
			defer func() { <-slots }()
			n.commit(batch)
		}()
	}
}

// commit proposes a batch as one log entry and hands each write its receipt.
func (n *Node) commit(batch []*write) {
	var cmd fsm.Command = batch[0].cmd
	if len(batch) > 1 {
		b := &fsm.Batch{Commands: make([]fsm.Command, len(batch))}
		for i, w := range batch {
			b.Commands[i] = w.cmd
		}
		cmd = b
	}
	receipts, err := n.propose(fsm.Encode(cmd))
	if err == nil && len(receipts) != len(batch) {
		err = fmt.Errorf("a log entry answered %d receipts for %d commands", len(receipts), len(batch))
	}
	for i, w := range batch {
		if err == nil {
			w.receipt = receipts[i]
		}
		w.err = err
		close(w.done)
	}
}

// propose gets an entry into the log: through Raft on the leader, forwarded
// to the leader on a follower, retried until WriteTimeout.
func (n *Node) propose(entry []byte) ([]fsm.Receipt, error) {
	deadline := time.Now().Add(n.cfg.WriteTimeout)
	backoff := 5 * time.Millisecond
	var last error
	for {
		// A failed node (see Failed) must not append anything more.
		if n.halt.Err() != nil {
			return nil, ErrShuttingDown
		}
		if n.IsLeader() {
			receipts, err := n.appendLocal(entry, time.Until(deadline))
			if err == nil {
				return receipts, nil
			}
			if errors.Is(err, raft.ErrRaftShutdown) {
				return nil, ErrShuttingDown
			}
			last = err
		} else if _, addr := n.Leader(); addr != "" {
			// One try waits no longer than it takes to replace a dead
			// leader: a leader whose host vanished sends no reset, and a
			// forward stuck on it would hold its batch, and the batches
			// queued behind it, until the deadline.
			try := time.Now().Add(n.cfg.HeartbeatTimeout + n.cfg.ElectionTimeout)
			if try.After(deadline) {
				try = deadline
			}
			ctx, cancel := context.WithDeadline(n.halt, try)
			receipts, err := n.peers.Forward(ctx, addr, entry)
			cancel()
			if err == nil {
				return receipts, nil
			}
			// The outcome is unknown, or the leader moved: try again.
			last = err
		} else {
			last = errors.New("no leader known")
		}
		if n.halt.Err() != nil {
			return nil, ErrShuttingDown
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, fmt.Errorf("%w: %v", ErrNoLeader, last)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// appendLocal appends an entry on this node, which must be the leader, and
// waits until it is applied.
func (n *Node) appendLocal(entry []byte, timeout time.Duration) ([]fsm.Receipt, error) {
	f := n.raft.Apply(entry, timeout)
	if err := f.Error(); err != nil {
		return nil, err
	}
	res, ok := f.Response().(fsm.Result)
	if !ok {
		return nil, fmt.Errorf("log entry %d was not a command", f.Index())
	}
	return fsm.ReceiptsOf(f.Index(), res), nil
}

// CommitForwarded takes an entry a follower forwarded (Peers.Forward). Only
// the leader takes it; others answer with a *NotLeaderError. An entry that
// does not decode is refused before it reaches the log.
func (n *Node) CommitForwarded(ctx context.Context, entry []byte) ([]fsm.Receipt, error) {
	if !n.IsLeader() {
		return nil, n.notLeader()
	}
	if n.halt.Err() != nil {
		return nil, ErrShuttingDown
	}
	// A command this node does not know but may skip (written by a newer
	// node during a rolling upgrade) goes into the log like any other: the
	// nodes that know it apply it, the others skip it.
	if _, err := fsm.Decode(entry); err != nil && !errors.Is(err, fsm.ErrSkippedCommand) {
		return nil, err
	}
	timeout := n.cfg.WriteTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	receipts, err := n.appendLocal(entry, timeout)
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return nil, n.notLeader()
	}
	return receipts, err
}
