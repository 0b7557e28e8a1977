package fsm

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/dni-dev/dni/allocator"
)

// machine is everything the log replicates: the domain state, the cluster's
// record of its nodes' addresses, and the admin API's tokens with the
// hashes of those revoked. Restore replaces it whole.
type machine struct {
	state   *allocator.State
	nodes   atomic.Pointer[[]Node]     // sorted by ID; replaced whole on change
	tokens  atomic.Pointer[[]Token]    // sorted by ID; replaced whole on change
	revoked atomic.Pointer[[][32]byte] // sorted; replaced whole on change
}

func newMachine(s *allocator.State, nodes []Node, tokens []Token, revoked [][32]byte) *machine {
	m := &machine{state: s}
	m.nodes.Store(&nodes)
	m.tokens.Store(&tokens)
	m.revoked.Store(&revoked)
	return m
}

// Node is what the cluster records about one of its nodes: the addresses
// other nodes and operators reach it on. Raft knows the Raft address; the
// HTTP address is how a follower finds the leader to forward writes to.
type Node struct {
	ID       string
	RaftAddr string
	HTTPAddr string
}

// SetNode records (or updates) a node's addresses.
type SetNode Node

// RemoveNode forgets a node.
type RemoveNode struct{ ID string }

const maxNodeField = 256

func (*SetNode) Type() Type { return TypeSetNode }

func (c *SetNode) encode(e *encoder) {
	e.string(c.ID)
	e.string(c.RaftAddr)
	e.string(c.HTTPAddr)
}

func decodeSetNode(d *decoder) *SetNode {
	return &SetNode{ID: d.string(), RaftAddr: d.string(), HTTPAddr: d.string()}
}

func applySetNode(m *machine, c *SetNode) Result {
	if c.ID == "" || len(c.ID) > maxNodeField || len(c.RaftAddr) > maxNodeField || len(c.HTTPAddr) > maxNodeField {
		return Result{Err: fmt.Errorf("node id must be 1 to %d bytes, addresses at most %d", maxNodeField, maxNodeField)}
	}
	nodes := slices.Clone(*m.nodes.Load())
	i, found := slices.BinarySearchFunc(nodes, c.ID, func(n Node, id string) int { return cmp.Compare(n.ID, id) })
	if found {
		nodes[i] = Node(*c)
	} else {
		nodes = slices.Insert(nodes, i, Node(*c))
	}
	m.nodes.Store(&nodes)
	return Result{}
}

func (*RemoveNode) Type() Type { return TypeRemoveNode }

func (c *RemoveNode) encode(e *encoder) { e.string(c.ID) }

func decodeRemoveNode(d *decoder) *RemoveNode { return &RemoveNode{ID: d.string()} }

func applyRemoveNode(m *machine, c *RemoveNode) Result {
	nodes := slices.DeleteFunc(slices.Clone(*m.nodes.Load()), func(n Node) bool { return n.ID == c.ID })
	m.nodes.Store(&nodes)
	return Result{}
}
