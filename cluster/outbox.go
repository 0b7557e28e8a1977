package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/dni-dev/dni/fsm"
)

// The outbox holds writes the cluster could not take in time, on this node's
// disk, and applies them once it can. It exists for phone calls: Twilio
// waits only seconds for an answer, so the voice webhook answers from local
// state at once and the call's record goes through the outbox when there is
// no leader. A write in the outbox survives a restart of the node. Every
// command is idempotent, so one applied twice (it was slow, not lost) has
// one effect.
type outbox struct {
	db   *bbolt.DB
	wake chan struct{}
}

var outboxBucket = []byte("outbox")

// outboxRetry is how often a node retries its outbox while it holds writes.
const outboxRetry = time.Second

func openOutbox(dataDir string) (*outbox, error) {
	db, err := openBolt(filepath.Join(dataDir, "outbox.db"), &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(outboxBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	return &outbox{db: db, wake: make(chan struct{}, 1)}, nil
}

// put stores an encoded command, fsynced, in arrival order.
func (o *outbox) put(entry []byte) error {
	err := o.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(outboxBucket)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), entry)
	})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// pending returns the stored commands, oldest first, with their keys.
func (o *outbox) pending() (keys, entries [][]byte, err error) {
	err = o.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(outboxBucket).ForEach(func(k, v []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			entries = append(entries, append([]byte(nil), v...))
			return nil
		})
	})
	return keys, entries, err
}

func (o *outbox) remove(key []byte) error {
	return o.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(outboxBucket).Delete(key) })
}

// Len is how many writes wait in the outbox.
func (o *outbox) len() int {
	n := 0
	o.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(outboxBucket).Stats().KeyN
		return nil
	})
	return n
}

// CommitOrKeep commits a command like Commit if the cluster takes it within
// wait; otherwise it keeps the command in the node's outbox, to be
// committed as soon as the cluster can, and returns committed false. The
// error is the outbox's (the disk failed, the node is stopping); a command
// refused by the state comes back in the receipt, as with Commit.
func (n *Node) CommitOrKeep(ctx context.Context, cmd fsm.Command, wait time.Duration) (r fsm.Receipt, committed bool, err error) {
	c, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	r, err = n.Commit(c, cmd)
	if err == nil {
		return r, true, nil
	}
	// Kept even when the node is stopping: it is applied after a restart.
	if err := n.outbox.put(fsm.Encode(cmd)); err != nil {
		return fsm.Receipt{}, false, err
	}
	n.log.Warn("write kept in the outbox until the cluster takes it", "command", fmt.Sprintf("%T", cmd), "err", err)
	return fsm.Receipt{}, false, nil
}

// OutboxLen is how many writes wait in this node's outbox.
func (n *Node) OutboxLen() int { return n.outbox.len() }

// drainOutbox applies what the outbox holds whenever it is woken, and every
// outboxRetry while it holds anything, until the node stops.
func (n *Node) drainOutbox() {
	defer n.wg.Done()
	tick := time.NewTicker(outboxRetry)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-n.outbox.wake:
		case <-tick.C:
		}
		n.sendOutbox()
	}
}

// sendOutbox applies the outbox's commands in order, removing each once the
// cluster has it. It stops at the first the cluster cannot take.
func (n *Node) sendOutbox() {
	keys, entries, err := n.outbox.pending()
	if err != nil {
		n.log.Error("read the outbox", "err", err)
		return
	}
	for i, entry := range entries {
		cmd, err := fsm.Decode(entry)
		if err != nil {
			n.log.Error("dropping an unreadable outbox entry", "err", err)
		} else {
			ctx, cancel := context.WithTimeout(n.halt, n.cfg.WriteTimeout)
			r, err := n.Commit(ctx, cmd)
			cancel()
			if err != nil {
				return // still no cluster; try again later
			}
			if r.Err != nil {
				n.log.Warn("the cluster refused an outbox write", "command", fmt.Sprintf("%T", cmd), "err", r.Err)
			}
		}
		if err := n.outbox.remove(keys[i]); err != nil {
			n.log.Error("remove from the outbox", "err", err)
			return
		}
	}
}
