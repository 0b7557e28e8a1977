// Package fsm is the Raft state machine of dni: it decodes the commands in
// the replicated log, applies them to the allocator's state, and writes and
// reads the snapshots that compact the log.
package fsm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/dni-dev/dni/allocator"
)

// FSM implements raft.FSM and raft.BatchingFSM over an allocator.State and
// the cluster's record of its nodes.
//
// Apply, ApplyBatch, Snapshot and Restore are serialised by one mutex, taken
// once per batch. Readers never take it: they call State or Nodes, which
// return current values for lock-free reading.
type FSM struct {
	mu      sync.Mutex
	m       atomic.Pointer[machine]
	applied atomic.Uint64
	log     *slog.Logger
	// Observe, if set before the first Apply, is called under the lock
	// after every Apply, ApplyBatch and Restore with the last index applied
	// and the state as it then is.
	Observe func(index uint64, s *allocator.State)
	// Fatal, if set before the first Apply, is called once, under the
	// lock, when a log entry holds what this version cannot apply and must
	// not skip (an *UnknownEntryError). The state machine then stops for
	// good: it applies no later entry, and takes or restores no snapshot
	// (one would record the entry as applied). Whoever runs it must stop.
	Fatal func(err error)

	stopped atomic.Pointer[UnknownEntryError] // set once, by the entry that stopped it
}

// An UnknownEntryError says that a log entry holds a command this version
// does not know and may not skip (no IgnoreUnknown bit), alone or in a
// batch: a newer version wrote it. Skipping it would leave this replica's
// state different from the others'.
type UnknownEntryError struct {
	Index uint64
	Type  Type
}

func (e *UnknownEntryError) Error() string {
	return fmt.Sprintf("log entry %d holds command type %d, which this version does not know: "+
		"upgrade this node to the version that wrote it; it stops now", e.Index, e.Type)
}

func (e *UnknownEntryError) Unwrap() error { return ErrUnknownCommand }

// New returns a state machine with an empty state.
func New(log *slog.Logger) *FSM {
	if log == nil {
		log = slog.Default()
	}
	f := &FSM{log: log}
	f.m.Store(newMachine(allocator.New(), nil, nil, nil))
	return f
}

// Err says why the state machine stopped applying the log (see Fatal), or
// is nil while it applies it.
func (f *FSM) Err() error {
	if e := f.stopped.Load(); e != nil {
		return e
	}
	return nil
}

// State returns the current state. After a Restore it is a new one, so
// readers should not keep it across requests.
func (f *FSM) State() *allocator.State { return f.m.Load().state }

// Nodes lists the nodes the cluster has recorded, by ID. The slice is
// shared and must not be changed.
func (f *FSM) Nodes() []Node { return *f.m.Load().nodes.Load() }

// Node returns the recorded node with the given ID.
func (f *FSM) Node(id string) (Node, bool) {
	for _, n := range f.Nodes() {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

// AppliedIndex is the index of the last log entry the state includes. Unlike
// raft's own AppliedIndex, which moves when entries are handed to the state
// machine, it moves once they are applied.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// Apply applies one log entry. It returns a Result, or nil for entries that
// are not commands.
func (f *FSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.applyLocked(f.m.Load(), l)
	f.observe()
	return out
}

func (f *FSM) observe() {
	if f.Observe != nil {
		f.Observe(f.applied.Load(), f.m.Load().state)
	}
}

// ApplyBatch applies entries in order under one lock.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.m.Load()
	out := make([]any, len(logs))
	for i, l := range logs {
		out[i] = f.applyLocked(m, l)
	}
	f.observe()
	return out
}

func (f *FSM) applyLocked(m *machine, l *raft.Log) any {
	if f.stopped.Load() != nil {
		return nil
	}
	if l.Type != raft.LogCommand {
		f.applied.Store(l.Index)
		return nil
	}
	c, err := Decode(l.Data)
	var unknown unknownCommand
	switch {
	case errors.Is(err, ErrSkippedCommand):
		f.log.Warn("skipped a command this version does not know", "index", l.Index, "err", err)
		f.applied.Store(l.Index)
		return Result{Err: err}
	case errors.As(err, &unknown):
		// Every replica must apply every command or none; one that cannot
		// would silently diverge. A newer node wrote this: upgrade this one.
		e := &UnknownEntryError{Index: l.Index, Type: unknown.t}
		f.stopped.Store(e)
		f.log.Error(e.Error(), "index", l.Index, "type", int(unknown.t))
		if f.Fatal != nil {
			f.Fatal(e)
		}
		return nil
	case err != nil:
		// Malformed bytes fail the same way on every replica.
		f.log.Error("malformed log entry", "index", l.Index, "err", err)
		f.applied.Store(l.Index)
		return Result{Err: err}
	}
	if b, ok := c.(*Batch); ok {
		f.warnSkipped(l.Index, b)
	}
	out := apply(m, c)
	f.applied.Store(l.Index)
	return out
}

// warnSkipped logs the commands of a batch that this version skips: every
// node that does not know them says so, as it would for one alone.
func (f *FSM) warnSkipped(index uint64, b *Batch) {
	for i, sub := range b.Commands {
		if s, ok := sub.(skipped); ok {
			f.log.Warn("skipped a command this version does not know", "index", index, "position", i, "type", int(s.t&^IgnoreUnknown))
		}
	}
}

// Snapshot copies the state out; Persist encodes the copy while Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("no snapshot of a stopped state machine: %w", err)
	}
	return &snapshot{c: f.capture(), applied: f.applied.Load()}, nil
}

// capture is what an image needs of the machine that Apply may change,
// taken while the caller holds mu: Apply waits only for it, and the image
// is built from it beside Apply (allocator.Capture).
type capture struct {
	state   *allocator.Capture
	nodes   []Node
	tokens  []Token
	revoked [][32]byte
}

func (f *FSM) capture() capture {
	m := f.m.Load()
	return capture{state: m.state.Capture(), nodes: *m.nodes.Load(), tokens: *m.tokens.Load(), revoked: *m.revoked.Load()}
}

func (c capture) image() *Image {
	return &Image{State: c.state.Image(), Nodes: c.nodes, Tokens: c.tokens, Revoked: c.revoked}
}

// Backup writes a snapshot of the current state to w. Unlike raft's
// snapshots it records no log index (see Image.Applied): the same state
// backs up to the same bytes on every node.
func (f *FSM) Backup(w io.Writer) error {
	f.mu.Lock()
	c := f.capture()
	f.mu.Unlock()
	return WriteSnapshot(w, c.image())
}

// Restore replaces the state with one read from a snapshot. The new state is
// built aside and swapped in at once; on error the old state stays.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := ReadBackup(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Err(); err != nil {
		return fmt.Errorf("no restore into a stopped state machine: %w", err)
	}
	f.m.Store(b.m)
	if b.Image.Applied != 0 {
		f.applied.Store(b.Image.Applied)
	}
	f.observe()
	return nil
}

// snapshot is a capture raft persists beside Apply.
type snapshot struct {
	c       capture
	applied uint64
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	img := s.c.image()
	img.Applied = s.applied
	if err := WriteSnapshot(sink, img); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
